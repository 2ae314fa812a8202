/**
 * The bench's fake OpenAI upstream: node:http, no dependencies, bodies prebuilt per model so that
 * it costs as little CPU as it can (it shares the load generator's core).
 *
 * `POST …/chat/completions` answers by the request's `model` (see `../lib/variants.ts`):
 * - without `"stream": true`: one `chat.completion` JSON body with a `usage` block, after `delayMs`;
 * - with `"stream": true`: SSE `chat.completion.chunk` events, one write every `intervalMs`: the role
 *   chunk at once (after `delayMs`), `chunks` content chunks, the finish chunk, then `data: [DONE]`.
 *   With `stream_options.include_usage: true` it behaves as OpenAI does: every chunk carries
 *   `"usage":null` and a usage-only chunk with `"choices":[]` comes before `[DONE]` (in the finish
 *   chunk's write); without it no chunk has a `usage` member.
 * `GET /healthz` answers 200; anything else 404.
 *
 * Run as a child process: `node --import tsx bench/upstream/server.ts`; it listens on
 * 127.0.0.1 on a free port and sends `{ url }` to its parent over IPC.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { variantOf, type Variant } from '../lib/variants.js';

const CREATED = 1_763_000_000;
const WORDS = ' The sea is wide, and every wave carries a small story back to the shore.'.split(/(?= )/);
const USAGE = {
  prompt_tokens: 24,
  completion_tokens: 16,
  total_tokens: 40,
  prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
  completion_tokens_details: {
    reasoning_tokens: 0,
    audio_tokens: 0,
    accepted_prediction_tokens: 0,
    rejected_prediction_tokens: 0,
  },
};

/** Prebuilt answers for one model: the JSON body and the SSE writes, with and without usage. */
interface Answers {
  variant: Variant;
  json: Buffer;
  /** SSE writes without `include_usage`, then with it. */
  sse: [Buffer[], Buffer[]];
}

const cache = new Map<string, Answers>();

function answersFor(model: string): Answers {
  let a = cache.get(model);
  if (a) return a;
  const variant = variantOf(model);
  const head = {
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created: CREATED,
    model,
    service_tier: 'default',
    system_fingerprint: 'fp_bench',
  };
  const sse = (withUsage: boolean): Buffer[] => {
    const chunk = (choices: unknown[], usage?: unknown) =>
      `data: ${JSON.stringify({ ...head, choices, ...(withUsage ? { usage: usage ?? null } : {}) })}\n\n`;
    const delta = (d: object, finish: string | null = null) => [
      { index: 0, delta: d, logprobs: null, finish_reason: finish },
    ];
    const writes = [chunk(delta({ role: 'assistant', content: '', refusal: null }))];
    for (let i = 0; i < variant.chunks; i++) writes.push(chunk(delta({ content: WORDS[i % WORDS.length] })));
    writes.push(chunk(delta({}, 'stop')) + (withUsage ? chunk([], USAGE) : ''));
    writes.push('data: [DONE]\n\n');
    return writes.map((w) => Buffer.from(w));
  };
  const json = Buffer.from(
    JSON.stringify({
      id: 'chatcmpl-bench',
      object: 'chat.completion',
      created: CREATED,
      model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: WORDS.join('').trim(), refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: USAGE,
      service_tier: 'default',
      system_fingerprint: 'fp_bench',
    }),
  );
  a = { variant, json, sse: [sse(false), sse(true)] };
  cache.set(model, a);
  return a;
}

function sendJson(res: ServerResponse, body: Buffer): void {
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': body.length,
    'x-request-id': 'req_bench',
  });
  res.end(body);
}

/** Writes `writes` one per `intervalMs`, each at its fixed offset from the first (no drift). */
function sendStream(res: ServerResponse, writes: Buffer[], intervalMs: number): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-request-id': 'req_bench',
  });
  const start = performance.now();
  let i = 0;
  const step = () => {
    if (res.destroyed) return;
    res.write(writes[i++]);
    if (i === writes.length) {
      res.end();
      return;
    }
    setTimeout(step, Math.max(0, start + i * intervalMs - performance.now()));
  };
  step();
}

function answer(res: ServerResponse, raw: Buffer): void {
  let body: { model?: unknown; stream?: unknown; stream_options?: { include_usage?: unknown } };
  try {
    body = JSON.parse(raw.toString('utf8')) as typeof body;
  } catch {
    res
      .writeHead(400, { 'content-type': 'application/json' })
      .end('{"error":{"message":"bad json","type":"invalid_request_error","param":null,"code":null}}');
    return;
  }
  const a = answersFor(typeof body.model === 'string' ? body.model : 'unknown');
  const go =
    body.stream === true
      ? () => sendStream(res, a.sse[body.stream_options?.include_usage === true ? 1 : 0]!, a.variant.intervalMs)
      : () => sendJson(res, a.json);
  if (a.variant.delayMs > 0) setTimeout(() => !res.destroyed && go(), a.variant.delayMs);
  else go();
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  if (req.method === 'POST' && req.url?.endsWith('/chat/completions')) {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => answer(res, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    return;
  }
  req.resume();
  res
    .writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'text/plain' })
    .end(req.url === '/healthz' ? 'ok' : 'not found');
}

const server = createServer({ keepAliveTimeout: 60_000 }, handle);
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  if (process.send) process.send({ url });
  else console.log(url);
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
