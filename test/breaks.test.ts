import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from './support/fake-upstream.js';
import { sseData } from './support/fixtures.js';
import { startTollgate, type Tollgate } from './support/harness.js';
import { SYNTHETIC, syntheticRecordings } from './support/synthetic.js';

/**
 * Streams that break: an upstream that resets, stalls or sends malformed SSE; upstream errors; an
 * upstream that cannot be reached. Nothing is silently free, nothing is charged twice, and the
 * client always gets a clean end.
 */
const recordings = syntheticRecordings();
let upstream: FakeUpstream;
let tollgate: Tollgate;

beforeAll(async () => {
  upstream = await new FakeUpstream(recordings).start();
  upstream.delayMs = 5;
  tollgate = await startTollgate({ upstreamUrl: upstream.url });
  // A stalled stream is cut after 300 ms of silence.
  tollgate.server.runtime.upstream = new (
    tollgate.server.runtime.upstream.constructor as typeof import('../src/proxy/upstream.js').Upstream
  )({
    baseUrl: upstream.url,
    apiKey: tollgate.server.runtime.upstream.apiKey,
    connections: 8,
    timeouts: { connectMs: 1000, firstByteMs: 2000, idleMs: 300 },
  });
});
afterAll(async () => {
  await tollgate.close();
  await upstream.close();
});

async function stream(name: string, body: unknown = SYNTHETIC[name]!.request.body) {
  const res = await fetch(`${tollgate.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${tollgate.keys['acme-key']}`,
      'content-type': 'application/json',
      'x-test-recording': name,
    },
    body: JSON.stringify(body),
  });
  return { res, text: await res.text() };
}

async function row() {
  await tollgate.settled();
  return tollgate.rows().at(-1)!;
}

describe('breaks mid-stream', () => {
  it('an upstream reset ends the client stream with an error event and bills the estimate', async () => {
    const { res, text } = await stream('chat-stream-reset');
    expect(res.status).toBe(200);
    const events = sseData(text);
    expect(JSON.parse(events.at(-1)!)).toMatchObject({
      error: { code: 'upstream_stream_error', type: 'server_error' },
    });
    const r = await row();
    expect(r).toMatchObject({ status: 'settled', usage_source: 'estimated', error_code: 'upstream_stream_error' });
    expect(Number(r.output_tokens)).toBeGreaterThan(0); // the text that reached the client
    expect(Number(r.output_tokens)).toBeLessThan(20);
  });

  it('an upstream that stalls is cut after the idle timeout, with an error event, and billed the estimate', async () => {
    const { text } = await stream('chat-stream-stall');
    expect(JSON.parse(sseData(text).at(-1)!)).toMatchObject({ error: { code: 'upstream_timeout' } });
    expect(await row()).toMatchObject({ status: 'settled', usage_source: 'estimated', error_code: 'upstream_timeout' });
  });

  it('malformed SSE events pass through, and the usage that does arrive is billed', async () => {
    const { text } = await stream('chat-stream-malformed');
    expect(text).toContain('data: {"not json');
    expect(text).toContain('data: garbage line');
    expect(await row()).toMatchObject({
      status: 'settled',
      usage_source: 'upstream',
      input_tokens: 12,
      output_tokens: 20,
    });
  });
});

describe('upstream errors', () => {
  it('a 500 without usage is passed through and voids the row with its code', async () => {
    const { res, text } = await stream('upstream-500');
    expect(res.status).toBe(500);
    expect(JSON.parse(text)).toMatchObject({ error: { code: 'server_error' } });
    expect(await row()).toMatchObject({
      status: 'voided',
      http_status: 500,
      error_code: 'server_error',
      cost_micro_usd: 0,
      metered_tokens: 0,
    });
    expect(tollgate.query('SELECT COUNT(*) AS n FROM holds')).toEqual([{ n: 0 }]);
  });

  it('an unreachable upstream answers 502 and voids the row', async () => {
    const t = await startTollgate({ upstreamUrl: 'http://127.0.0.1:9' });
    try {
      const res = await fetch(`${t.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.keys['acme-key']}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [] }),
      });
      expect(res.status).toBe(502);
      expect(await res.json()).toMatchObject({ error: { code: 'upstream_unreachable', type: 'api_error' } });
      expect(t.rows()).toMatchObject([{ status: 'voided', http_status: 502, error_code: 'upstream_unreachable' }]);
    } finally {
      await t.close();
    }
  });
});
