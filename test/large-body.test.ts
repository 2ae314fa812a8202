import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OFF_LOOP_BYTES } from '../src/http/json-off-loop.js';
import { startTollgate, type Tollgate } from './support/harness.js';
import { rawRequest } from './support/raw-http.js';
import { ScriptedUpstream } from './support/scripted-upstream.js';
import { chatUsage, echoUsage } from './support/usage-upstream.js';

/**
 * A JSON body of at least `OFF_LOOP_BYTES` is parsed on a worker thread: while it is, the event
 * loop answers other requests; and it is read by the same strict rules as a small one (a repeated
 * key, invalid UTF-8, nesting too deep, text that is not JSON or not an object: the same 400s,
 * nothing held, nothing sent upstream). The worker's `tollgate:json-parse` diagnostics channel
 * says when a body is handed over and when its answer is back.
 */

let upstream: ScriptedUpstream;
let tollgate: Tollgate;

/** Parse events of the worker (`start` as a body is handed over, `end` as its answer is back). */
const events: { phase: 'start' | 'end'; bytes: number }[] = [];
const waiting: (() => void)[] = [];
const onParse = (message: unknown) => {
  events.push(message as (typeof events)[number]);
  for (const wake of waiting.splice(0)) wake();
};
/** Resolves once an event matching `test` has been published. */
async function event(test: (e: (typeof events)[number]) => boolean): Promise<void> {
  while (!events.some(test)) await new Promise<void>((wake) => waiting.push(wake));
}

beforeAll(async () => {
  subscribe('tollgate:json-parse', onParse);
  upstream = await new ScriptedUpstream().start();
  tollgate = await startTollgate({
    upstreamUrl: upstream.url,
    companies: { acme: { allocations: [{ id: 'acme-grant', tokens: 10_000_000_000 }] } },
  });
}, 60_000);
afterAll(async () => {
  unsubscribe('tollgate:json-parse', onParse);
  await tollgate?.close();
  await upstream?.close();
});
beforeEach(() => {
  events.length = 0;
  upstream.seen.length = 0;
  upstream.script = echoUsage();
});

/** The usage the fake upstream reports for every chat request. */
const USAGE = JSON.stringify(chatUsage(5, 0, 1));

/** POSTs `body` on a fresh raw connection (a 60 MB upload on a reused socket can be reset). */
async function post(body: Buffer, timeoutMs = 60_000) {
  const head = `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer ${tollgate.keys['acme-key']}\r\ncontent-type: application/json\r\nx-test-usage: ${USAGE}\r\ncontent-length: ${body.byteLength}\r\n\r\n`;
  const res = await rawRequest(tollgate.url, Buffer.concat([Buffer.from(head), body]), timeoutMs);
  // A refusal is tollgate's own JSON; a relayed answer may be chunked (only its status is read).
  return { status: res.status, error: () => (JSON.parse(res.body) as { error: Record<string, unknown> }).error };
}

const pad = 'x'.repeat(OFF_LOOP_BYTES);

describe('large JSON bodies', () => {
  it('answers a small request while a 60 MB body is being parsed, then admits the large one', async () => {
    const large = Buffer.from(
      JSON.stringify({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'lorem ipsum dolor sit amet '.repeat((60 * 1024 * 1024) / 27) }],
        max_completion_tokens: 5,
      }),
    );
    const small = Buffer.from(
      JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_completion_tokens: 5 }),
    );
    const largeAnswer = post(large, 120_000);
    await event((e) => e.phase === 'start' && e.bytes === large.byteLength);
    // The large body is on the worker now: a small request is answered meanwhile.
    const answered = await post(small);
    const largeParsedBefore = events.some((e) => e.phase === 'end' && e.bytes === large.byteLength);
    expect(answered.status).toBe(200);
    expect(largeParsedBefore).toBe(false);
    expect((await largeAnswer).status).toBe(200);
    await tollgate.settled();
    expect(tollgate.query("SELECT COUNT(*) AS n FROM requests WHERE status = 'settled'")[0]!.n).toBe(2);
    // The upstream got the 60 MB body as sent, byte for byte.
    expect(upstream.seen.map((s) => s.body.byteLength).sort((a, b) => b - a)[0]).toBe(large.byteLength);
  }, 180_000);

  it.each([
    ['a repeated key', `{"model":"gpt-4o-mini","pad":"${pad}","messages":[],"model":"gpt-4o"}`],
    [
      'a key repeated with escapes',
      `{"model":"gpt-4o-mini","pad":"${pad}","messages":[{"role":"user","r\\u006fle":"x"}]}`,
    ],
    ['nesting past the limit', `{"model":"gpt-4o-mini","pad":"${pad}","x":${'['.repeat(200)}${']'.repeat(200)}}`],
    ['text that is not JSON', `{"model":"gpt-4o-mini","pad":"${pad}",}`],
    ['JSON that is not an object', `["${pad}"]`],
    [
      'invalid UTF-8',
      Buffer.concat([Buffer.from(`{"model":"gpt-4o-mini","pad":"${pad}`), Buffer.from([0xff]), Buffer.from('"}')]),
    ],
  ])('refuses %s as it refuses a small body, on the worker, changing nothing', async (_name, text) => {
    const body = Buffer.isBuffer(text) ? text : Buffer.from(text);
    const smallBody = Buffer.from(body.toString('latin1').replace(pad, 'x'), 'latin1');
    expect(smallBody.byteLength).toBeLessThan(OFF_LOOP_BYTES);
    const [big, small] = [await post(body), await post(smallBody)];
    expect(big.status).toBe(400);
    expect(small.status).toBe(400);
    const { message, ...shape } = big.error();
    const { message: smallMessage, ...smallShape } = small.error();
    expect(shape).toEqual(smallShape);
    // JSON.parse names the position of what it could not read, which the padding moves.
    if (shape.code === null)
      expect(String(message).split(' in JSON at ')[0]).toBe(String(smallMessage).split(' in JSON at ')[0]);
    else expect(message).toBe(smallMessage);
    // Only the large one went to the worker.
    expect(events.map((e) => [e.phase, e.bytes])).toEqual([
      ['start', body.byteLength],
      ['end', body.byteLength],
    ]);
    expect(upstream.seen).toHaveLength(0);
    expect(tollgate.query("SELECT COUNT(*) AS n FROM requests WHERE status = 'held'")[0]!.n).toBe(0);
    expect(tollgate.query('SELECT held FROM grants')[0]).toEqual({ held: 0 });
  });
});
