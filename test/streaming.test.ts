import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FakeUpstream } from './support/fake-upstream.js';
import { loadRecordings, sseData } from './support/fixtures.js';
import { startTollgate, type Tollgate } from './support/harness.js';

/** Stream pass-through: no buffering, and the usage chunk tollgate asked for stays hidden. */
const recordings = new Map(loadRecordings().map((r) => [r.name, r]));

let upstream: FakeUpstream;
let tollgate: Tollgate;

beforeAll(async () => {
  upstream = await new FakeUpstream(recordings).start();
  tollgate = await startTollgate({ upstreamUrl: upstream.url });
});
afterAll(async () => {
  await tollgate.close();
  await upstream.close();
});
beforeEach(() => {
  upstream.reset();
  upstream.delayMs = 3;
});

describe('streaming', () => {
  it('delivers chunks to the client before the upstream has finished', async () => {
    upstream.delayMs = 40;
    const rec = recordings.get('responses-stream-01')!;
    const stream = await tollgate
      .client()
      .responses.create(rec.request.body as never, { headers: { 'x-test-recording': rec.name } });
    const arrivals: number[] = [];
    for await (const _event of stream as unknown as AsyncIterable<unknown>) arrivals.push(performance.now());
    const finished = upstream.received[0]!.finishedAt!;
    expect(arrivals.length).toBeGreaterThan(5);
    // The first event arrived long before the upstream sent its last piece (40 ms apart each).
    expect(arrivals[0]!).toBeLessThan(finished - 200);
  });

  it('asks the upstream for usage and hides the usage chunk from a client that did not ask', async () => {
    const rec = recordings.get('chat-stream-usage-02')!;
    const { stream_options: _asked, ...body } = rec.request.body as Record<string, unknown>;
    const res = await fetch(`${tollgate.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tollgate.keys['acme-key']}`,
        'content-type': 'application/json',
        'x-test-recording': rec.name,
      },
      body: JSON.stringify(body),
    });
    const text = await res.text();

    // tollgate asked the upstream for usage …
    expect(JSON.parse(upstream.received[0]!.body.toString())).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
    });
    // … and the client got the stream OpenAI sends without stream_options: no usage chunk, no "usage" key.
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('content-length')).toBeNull();
    expect(text).not.toContain('"usage"');
    const recorded = sseData(rec.response.body_text!);
    const expected = recorded
      .filter((d) => d === '[DONE]' || (JSON.parse(d) as { choices: unknown[] }).choices.length > 0)
      .map((d) =>
        d === '[DONE]'
          ? d
          : JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(d) as object).filter(([k]) => k !== 'usage'))),
      );
    expect(sseData(text)).toEqual(expected);
    expect(expected.length).toBe(recorded.length - 1);

    const row = tollgate.rows().at(-1)!;
    expect(row).toMatchObject({
      usage_source: 'upstream',
      input_tokens: 1420,
      cached_input_tokens: 1280,
      output_tokens: 100,
      total_tokens: 1520,
    });
  });

  it('passes the usage chunk through untouched when the client asked for it', async () => {
    const rec = recordings.get('chat-stream-usage-02')!;
    const res = await fetch(`${tollgate.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tollgate.keys['acme-key']}`,
        'content-type': 'application/json',
        'x-test-recording': rec.name,
      },
      body: JSON.stringify(rec.request.body),
    });
    expect(await res.text()).toBe(rec.response.body_text);
    // The client's own bytes went upstream unchanged.
    expect(JSON.parse(upstream.received[0]!.body.toString())).toEqual(rec.request.body);
  });

  it('meters a stream whose client disconnects midway with an estimate, and aborts the upstream', async () => {
    upstream.delayMs = 20;
    const rec = recordings.get('chat-stream-usage-02')!;
    const controller = new AbortController();
    const stream = await tollgate.client().chat.completions.create(rec.request.body as never, {
      headers: { 'x-test-recording': rec.name },
      signal: controller.signal,
    });
    let seen = 0;
    try {
      for await (const _chunk of stream as unknown as AsyncIterable<unknown>) if (++seen === 5) controller.abort();
    } catch {
      // The SDK may surface the abort as an error; either way the client has gone.
    }
    expect(seen).toBe(5);
    await waitFor(() => tollgate.rows().at(-1)?.status !== 'held');
    const row = tollgate.rows().at(-1)!;
    expect(row).toMatchObject({ status: 'settled', usage_source: 'estimated', error_code: 'client_disconnected' });
    expect(row.output_tokens).toBeGreaterThan(0);
    expect(row.output_tokens).toBeLessThan(100);
    await waitFor(() => upstream.received[0]!.aborted);
    expect(upstream.received[0]!.finishedAt).toBeUndefined();
  });
});

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
