import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ledger } from '../src/ledger/port.js';
import { startTollgate, type Tollgate } from './support/harness.js';
import { json, ScriptedUpstream } from './support/scripted-upstream.js';
import { waitUntil } from './support/wait.js';

/**
 * The end of a response reaches the client only once its settle is durable (so a crash after the
 * client has it all cannot lose its usage): with the ledger's settle held open, an SDK client
 * cannot finish reading a JSON answer or a stream; once the settle commits, it does, and the row
 * is settled with the upstream's usage.
 */
const USAGE = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 };
const base = { id: 'chatcmpl-s', created: 1, model: 'gpt-4o-mini' };
const event = (choices: object[], usage: object | null = null) =>
  `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices, usage })}\n\n`;

let upstream: ScriptedUpstream;
let t: Tollgate;
/** Opens the settle held back by `holdSettles`. */
let open: () => void = () => {};
let settles = 0;

beforeAll(async () => {
  upstream = await new ScriptedUpstream().start();
  upstream.script = (req, res) => {
    if (!(JSON.parse(req.body.toString()) as { stream?: boolean }).stream)
      return json(res, 200, {
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
        usage: USAGE,
      });
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(event([{ index: 0, delta: { role: 'assistant', content: 'hi' } }]));
    res.end(`${event([], USAGE)}data: [DONE]\n\n`);
  };
  t = await startTollgate({ upstreamUrl: upstream.url });
  // Every settle waits for the test to open it.
  const ledger = t.server.runtime.ledger as Ledger;
  const settle = ledger.settle.bind(ledger);
  ledger.settle = async (...args) => {
    settles++;
    await new Promise<void>((r) => (open = r));
    return settle(...args);
  };
});
afterAll(async () => {
  open();
  await t.close();
  await upstream.close();
});

/** Runs `read` until its settle is called, checks it cannot finish before the settle commits, then lets it. */
async function endsAfterSettle<T>(read: () => Promise<T>): Promise<T> {
  const before = settles;
  let done = false;
  const reading = read().then((v) => {
    done = true;
    return v;
  });
  await waitUntil(() => settles === before + 1, { what: 'the settle to be called' });
  // Nothing can make the client finish while the settle is held: this wait must run out.
  await expect(waitUntil(() => done, { timeoutMs: 300, what: 'the client to finish' })).rejects.toThrow(/did not hold/);
  open();
  return reading;
}

describe('the end of a response waits for its settle', () => {
  it('JSON: the SDK gets the answer only after the settle committed', async () => {
    const client = t.client();
    const answer = await endsAfterSettle(() =>
      client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }),
    );
    expect(answer.usage?.total_tokens).toBe(18);
    expect(t.rows().at(-1)).toMatchObject({ status: 'settled', input_tokens: 11, output_tokens: 7 });
  });

  it('stream: the SDK reaches [DONE] only after the settle committed', async () => {
    const client = t.client();
    const text = await endsAfterSettle(async () => {
      const stream = await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hello' }],
        stream: true,
      });
      let out = '';
      for await (const c of stream) out += c.choices[0]?.delta.content ?? '';
      return out;
    });
    expect(text).toBe('hi');
    expect(t.rows().at(-1)).toMatchObject({ status: 'settled', stream: 1, input_tokens: 11, output_tokens: 7 });
  });
});
