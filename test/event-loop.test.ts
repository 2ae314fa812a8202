import { monitorEventLoopDelay } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTollgate, type Tollgate } from './support/harness.js';
import { rawRequest } from './support/raw-http.js';
import { json, ScriptedUpstream } from './support/scripted-upstream.js';

/**
 * No single request may hold the event loop while the others wait. Each large case runs beside a
 * stream of small chat requests, with `monitorEventLoopDelay` (10 ms resolution) measuring the
 * longest stall of the process (tollgate, the fake upstream and the client share it, and on a
 * shared 2-core machine the OS deschedules it too, so the figures are an upper bound for tollgate).
 * Each figure is printed. Asserted by default: what holds robustly on a loaded 2-core box — every
 * case refused or cut as designed, and no stall over 1 s for the three cases whose work tollgate
 * keeps off the loop or linear (`EVENT_LOOP_BOUND_MS=50` asserts the 50 ms target on an idle
 * machine). The 60 MB prompt's stall is only reported unless `EVENT_LOOP_PROMPT_BOUND_MS` is set:
 * its parse runs on a worker thread, but joining its chunks and the prompt bound's byte search still
 * run on the loop (docs/performance.md, large bodies).
 */
const BOUND_MS = Number(process.env.EVENT_LOOP_BOUND_MS ?? 1000);
const PROMPT_BOUND_MS = Number(process.env.EVENT_LOOP_PROMPT_BOUND_MS ?? Infinity);

const CHAT = {
  id: 'chatcmpl-1',
  object: 'chat.completion',
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
};

let upstream: ScriptedUpstream;
let tollgate: Tollgate;
let bomb: Buffer;
let bigEvent: Buffer;

beforeAll(async () => {
  bomb = Buffer.concat(Array(64).fill(gzipSync(Buffer.alloc(16 * 1024 * 1024, 0x20))));
  bigEvent = Buffer.from(
    `data: {"id":"chatcmpl-2","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"${'x'.repeat(20 * 1024 * 1024)}`,
  );
  upstream = await new ScriptedUpstream().start();
  upstream.script = async (req, res) => {
    const kind = req.headers['x-case'];
    if (kind === 'bomb')
      return void res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(bomb);
    if (kind === 'sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < bigEvent.length; i += 64 * 1024) {
        if (!res.write(bigEvent.subarray(i, i + 64 * 1024))) await new Promise((r) => res.once('drain', r));
        if (res.destroyed) return;
      }
      return void res.end('"}}]}\n\n');
    }
    json(res, 200, CHAT);
  };
  tollgate = await startTollgate({
    upstreamUrl: upstream.url,
    companies: { acme: { allocations: [{ id: 'acme-grant', tokens: 10_000_000_000 }] } },
  });
}, 120_000);
afterAll(async () => {
  await tollgate?.close();
  await upstream?.close();
});

const post = (body: string | Uint8Array, headers: Record<string, string> = {}): Promise<number | string> =>
  fetch(`${tollgate.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tollgate.keys['acme-key']}`, 'content-type': 'application/json', ...headers },
    body: body as RequestInit['body'],
  }).then(
    async (r) => {
      await r.arrayBuffer().catch(() => undefined);
      return r.status;
    },
    (err: Error) => `failed: ${err.message} ${String((err as { cause?: unknown }).cause)}`,
  );

/** Runs `large` while small requests keep flowing; resolves to the longest stall (ms) and the small requests served. */
async function measure(
  large: () => Promise<number | string>,
): Promise<{ maxMs: number; small: number; status: number | string }> {
  const small = JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'hi' }],
    max_completion_tokens: 5,
  });
  let done = false;
  let served = 0;
  const traffic = (async () => {
    while (!done) if ((await post(small)) === 200) served++;
  })();
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const status = await large();
  h.disable();
  done = true;
  await traffic;
  return { maxMs: Math.round(h.max / 1e6), small: served, status };
}

const figures: Record<string, { maxMs: number; small: number; status: number | string; rssMb?: number }> = {};

it('deep JSON (100,000 levels) is refused without stalling the loop', async () => {
  const n = 100_000;
  const r = await measure(() =>
    post(
      `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"x"}],"x":${'['.repeat(n)}${']'.repeat(n)}}`,
    ),
  );
  figures.deepJson = r;
  console.log(`event loop: deep JSON ${JSON.stringify(r)}`);
  expect(r.status).toBe(400);
  expect(r.maxMs).toBeLessThanOrEqual(BOUND_MS);
});

it('a 1 MB gzip bomb from the upstream (1 GiB inflated) is cut without stalling the loop', async () => {
  const body = JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'hi' }],
    max_completion_tokens: 5,
  });
  // A raw client: fetch would inflate the bomb itself, in this same process.
  const raw = `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer ${tollgate.keys['acme-key']}\r\ncontent-type: application/json\r\nx-case: bomb\r\naccept-encoding: gzip\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
  const r = await measure(() =>
    rawRequest(tollgate.url, raw).then(
      (res) => res.status,
      (err: Error) => `cut: ${err.message.slice(0, 60)}`,
    ),
  );
  figures.gzipBomb = { ...r, rssMb: Math.round(process.memoryUsage().rss / 1e6) };
  console.log(`event loop: gzip bomb ${JSON.stringify(figures.gzipBomb)}`);
  expect(r.maxMs).toBeLessThanOrEqual(BOUND_MS);
  await tollgate.settled();
  expect(tollgate.query("SELECT COUNT(*) AS n FROM requests WHERE error_code = 'upstream_body_too_large'")[0]!.n).toBe(
    1,
  );
  // Decoding stopped at the 64 MB bound: the process never held the 1 GiB.
  expect(figures.gzipBomb.rssMb).toBeLessThan(1024);
});

it('a 20 MB SSE event without a boundary is cut at the event bound without stalling the loop', async () => {
  const body = JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'hi' }],
    max_completion_tokens: 5,
    stream: true,
  });
  const r = await measure(() => post(body, { 'x-case': 'sse' }));
  figures.sse20MbEvent = r;
  console.log(`event loop: 20 MB SSE event ${JSON.stringify(r)}`);
  expect(r.maxMs).toBeLessThanOrEqual(BOUND_MS);
  await tollgate.settled();
  expect(tollgate.query("SELECT COUNT(*) AS n FROM requests WHERE error_code = 'upstream_event_too_large'")[0]!.n).toBe(
    1,
  );
});

it('a 60 MB prompt is admitted on a linear estimate', async () => {
  // Encoded up front: the client's own work on 60 MB must not count.
  const body = Buffer.from(
    JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'lorem ipsum dolor sit amet '.repeat((60 * 1024 * 1024) / 27) }],
      max_completion_tokens: 5,
    }),
  );
  // A raw client on a fresh connection: a reused keep-alive socket can be reset under a 60 MB upload.
  const head = Buffer.from(
    `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer ${tollgate.keys['acme-key']}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`,
  );
  const request = Buffer.concat([head, body]);
  const r = await measure(() =>
    rawRequest(tollgate.url, request, 60_000).then(
      (res) => res.status,
      (err: Error) => `failed: ${err.message.slice(0, 80)}`,
    ),
  );
  figures.prompt60Mb = r;
  console.log(`event loop: 60 MB prompt ${JSON.stringify(r)}`);
  expect(r.status).toBe(200);
  expect(r.maxMs).toBeLessThanOrEqual(PROMPT_BOUND_MS);
  console.log(`event loop, longest stall per large case: ${JSON.stringify(figures)}`);
}, 120_000);
