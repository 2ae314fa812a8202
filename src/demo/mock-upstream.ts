import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { drain, readJson, sendError, sendJson, startSse, type Json } from './http-wire.js';

/**
 * A small fake OpenAI API for `tollgate demo` and local experiments: no network, no key, no cost.
 * Every body is synthesised here in OpenAI's wire format (openai/openai-openapi schemas named below).
 *
 * Routes:
 * - `POST /v1/chat/completions` → `chat.completion` (CreateChatCompletionResponse), or with
 *   `"stream": true` an SSE stream of `data: {chat.completion.chunk}\n\n` events (one word per
 *   delta, {@link DELTA_INTERVAL_MS} ms apart), a finish chunk and `data: [DONE]\n\n`. With
 *   `stream_options.include_usage: true` every chunk carries `"usage":null` and a last chunk with
 *   `"choices":[]` and the usage comes before `[DONE]`; without it no chunk has a `usage` key.
 * - `POST /v1/responses` → `response` (Response), or streamed as `event: <type>\ndata: {...}\n\n`
 *   events, numbered by `sequence_number`: `response.created`, `response.in_progress`,
 *   `response.output_item.added`, `response.content_part.added`, `response.output_text.delta`…,
 *   `response.output_text.done`, `response.content_part.done`, `response.output_item.done`, then
 *   `response.completed` (or `response.incomplete`) carrying the usage.
 * - `POST /v1/embeddings` → a `list` of `embedding` objects (CreateEmbeddingResponse): unit vectors of
 *   {@link DEFAULT_DIMENSIONS} floats (or `dimensions`), as JSON numbers or, with
 *   `encoding_format: "base64"` (the openai SDK's default), base64 of little-endian float32.
 * - `GET /v1/models` → a `list` of `model` objects.
 * - anything else → 404 with OpenAI's error envelope `{"error":{"message","type","param","code"}}`;
 *   a body that is not a JSON object, or has no `model`, → 400 in the same envelope.
 *
 * Usage (all integers, tokens) is deterministic and simple: a token is a whitespace-separated word.
 * Chat prompts count the words of every string in `messages`, plus 3 per message and 3 to prime the
 * reply; Responses input counts the words of `instructions` and every string in `input`, plus 3;
 * embeddings count the words of each input (or the length of a token array). Cached, reasoning and
 * audio tokens are always 0. The reply is a fixed sentence of {@link REPLY_WORDS} words; an output
 * ceiling (`max_completion_tokens`, `max_tokens`, `max_output_tokens`) truncates it, with
 * `finish_reason: "length"` (chat) or status `incomplete` (Responses).
 *
 * The returned `model` is the dated snapshot when one is known (`gpt-4o-mini` →
 * `gpt-4o-mini-2024-07-18`), as OpenAI answers. Ids count up from 1 per server (`chatcmpl-mock…`,
 * `resp_mock…`, `msg_mock…`), and every response has `x-request-id: req_mock<24 hex>`. Not
 * simulated: authentication (any bearer key is accepted), compression, rate-limit headers, and the
 * random `obfuscation` field OpenAI adds to streamed deltas.
 *
 * @param listenPort where to listen on 127.0.0.1 (default 0: a free port).
 * @returns the base URL (`http://127.0.0.1:<port>`, no `/v1`) and `close`, which stops listening
 *   and resolves once open connections are gone.
 */
export async function startMockUpstream(listenPort = 0): Promise<{ url: string; close(): Promise<void> }> {
  let counter = 0;
  const next = () => (++counter).toString(16).padStart(24, '0');

  const server = createServer((req, res) => {
    const requestId = `req_mock${next()}`;
    res.setHeader('x-request-id', requestId);
    res.setHeader('openai-version', '2020-10-01');
    handle(req, res, next).catch((err: unknown) => {
      if (!res.headersSent)
        sendError(res, 500, {
          message: `mock upstream failed: ${(err as Error).message}`,
          type: 'server_error',
          param: null,
          code: null,
        });
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
      }),
  };
}

/** Milliseconds between streamed deltas. */
const DELTA_INTERVAL_MS = 15;
/** Embedding length when the request sets no `dimensions`. */
const DEFAULT_DIMENSIONS = 8;
/** Largest `dimensions` honoured (text-embedding-3-large's full size). */
const MAX_DIMENSIONS = 3072;
const REPLY =
  'Hello from the mock upstream! This reply was synthesised word by word, so every word counts as one token.';
const REPLY_WORDS = REPLY.split(' ').length;
const SYSTEM_FINGERPRINT = 'fp_mock0001';
/** Dated snapshots OpenAI names in responses to an alias. */
const SNAPSHOTS: Record<string, string> = {
  'gpt-4o-mini': 'gpt-4o-mini-2024-07-18',
  'gpt-4o': 'gpt-4o-2024-08-06',
  'gpt-4.1-mini': 'gpt-4.1-mini-2025-04-14',
};
const MODELS = [
  { id: 'gpt-4o-mini', created: 1721172741 },
  { id: 'gpt-4o', created: 1715367049 },
  { id: 'text-embedding-3-small', created: 1705948997 },
  { id: 'text-embedding-3-large', created: 1705953180 },
];

async function handle(req: IncomingMessage, res: ServerResponse, next: () => string): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://mock').pathname.replace(/\/+$/, '');
  const route = `${req.method} ${path}`;
  if (route === 'GET /v1/models') {
    sendJson(res, 200, {
      object: 'list',
      data: MODELS.map((m) => ({ id: m.id, object: 'model', created: m.created, owned_by: 'system' })),
    });
    return;
  }
  const post = ['POST /v1/chat/completions', 'POST /v1/responses', 'POST /v1/embeddings'].includes(route);
  if (!post) {
    await drain(req);
    sendError(res, 404, {
      message: `Invalid URL (${req.method} ${path})`,
      type: 'invalid_request_error',
      param: null,
      code: null,
    });
    return;
  }
  const body = await readJson(req);
  if (!body) {
    sendError(res, 400, {
      message: 'We could not parse the JSON body of your request. The body must be a JSON object.',
      type: 'invalid_request_error',
      param: null,
      code: null,
    });
    return;
  }
  if (typeof body.model !== 'string' || !body.model) {
    sendError(res, 400, {
      message: 'you must provide a model parameter',
      type: 'invalid_request_error',
      param: null,
      code: null,
    });
    return;
  }
  if (route === 'POST /v1/chat/completions') await chatCompletion(res, body, body.model, next);
  else if (route === 'POST /v1/responses') await response(res, body, body.model, next);
  else embeddings(res, body, body.model);
}

/** CreateChatCompletionResponse, or its CreateChatCompletionStreamResponse chunks. */
async function chatCompletion(res: ServerResponse, body: Json, model: string, next: () => string): Promise<void> {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const promptTokens = wordsIn(messages) + 3 * messages.length + 3;
  const { words, truncated } = reply(ceiling(body.max_completion_tokens) ?? ceiling(body.max_tokens));
  const finishReason = truncated ? 'length' : 'stop';
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: words.length,
    total_tokens: promptTokens + words.length,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
  const head = {
    id: `chatcmpl-mock${next()}`,
    object: 'chat.completion',
    created: now(),
    model: SNAPSHOTS[model] ?? model,
  };

  if (body.stream !== true) {
    sendJson(res, 200, {
      ...head,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: words.join(''), refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: finishReason,
        },
      ],
      usage,
      service_tier: 'default',
      system_fingerprint: SYSTEM_FINGERPRINT,
    });
    return;
  }

  const options = body.stream_options && typeof body.stream_options === 'object' ? (body.stream_options as Json) : {};
  const includeUsage = options.include_usage === true;
  const chunk = (choices: unknown[], withUsage?: typeof usage) => ({
    ...head,
    object: 'chat.completion.chunk',
    service_tier: 'default',
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices,
    ...(includeUsage ? { usage: withUsage ?? null } : {}),
  });
  const choice = (delta: Json, finish: string | null = null) => ({
    index: 0,
    delta,
    logprobs: null,
    finish_reason: finish,
  });

  startSse(res);
  const send = (data: unknown) => !res.destroyed && res.write(`data: ${JSON.stringify(data)}\n\n`);
  send(chunk([choice({ role: 'assistant', content: '', refusal: null })]));
  for (const word of words) {
    await sleep(DELTA_INTERVAL_MS);
    if (res.destroyed) return;
    send(chunk([choice({ content: word })]));
  }
  send(chunk([choice({}, finishReason)]));
  if (includeUsage) send(chunk([], usage));
  if (!res.destroyed) res.end('data: [DONE]\n\n');
}

/** The Responses API: a Response object, or its ResponseStreamEvent stream. */
async function response(res: ServerResponse, body: Json, model: string, next: () => string): Promise<void> {
  const inputTokens = wordsIn(body.instructions) + wordsIn(body.input) + 3;
  const maxOutput = ceiling(body.max_output_tokens);
  const { words, truncated } = reply(maxOutput);
  const text = words.join('');
  const status = truncated ? 'incomplete' : 'completed';
  const usage = {
    input_tokens: inputTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: words.length,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: inputTokens + words.length,
  };
  const part = (t: string) => ({ type: 'output_text', annotations: [], logprobs: [], text: t });
  const message = (s: string, content: unknown[]) => ({
    id: messageId,
    type: 'message',
    status: s,
    content,
    role: 'assistant',
  });
  const responseId = `resp_mock${next()}`;
  const messageId = `msg_mock${next()}`;
  const base = {
    id: responseId,
    object: 'response',
    created_at: now(),
    status: 'in_progress',
    background: false,
    error: null,
    incomplete_details: null as Json | null,
    instructions: body.instructions ?? null,
    max_output_tokens: maxOutput ?? null,
    max_tool_calls: null,
    model: SNAPSHOTS[model] ?? model,
    output: [] as unknown[],
    parallel_tool_calls: true,
    previous_response_id: null,
    prompt_cache_key: null,
    reasoning: { effort: null, summary: null },
    safety_identifier: null,
    service_tier: 'default',
    store: body.store !== false,
    temperature: typeof body.temperature === 'number' ? body.temperature : 1,
    text: { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: 'auto',
    tools: [],
    top_logprobs: 0,
    top_p: typeof body.top_p === 'number' ? body.top_p : 1,
    truncation: 'disabled',
    usage: null as typeof usage | null,
    user: null,
    metadata: body.metadata && typeof body.metadata === 'object' ? body.metadata : {},
  };
  const done = {
    ...base,
    status,
    incomplete_details: truncated ? { reason: 'max_output_tokens' } : null,
    output: [message(status, [part(text)])],
    usage,
  };

  if (body.stream !== true) {
    sendJson(res, 200, done);
    return;
  }

  startSse(res);
  let sequence = 0;
  const send = (type: string, fields: Json) =>
    !res.destroyed &&
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...fields })}\n\n`);
  const at = { item_id: messageId, output_index: 0, content_index: 0 };
  send('response.created', { response: base });
  send('response.in_progress', { response: base });
  send('response.output_item.added', { output_index: 0, item: message('in_progress', []) });
  send('response.content_part.added', { ...at, part: part('') });
  for (const word of words) {
    await sleep(DELTA_INTERVAL_MS);
    if (res.destroyed) return;
    send('response.output_text.delta', { ...at, delta: word, logprobs: [] });
  }
  send('response.output_text.done', { ...at, text, logprobs: [] });
  send('response.content_part.done', { ...at, part: part(text) });
  send('response.output_item.done', { output_index: 0, item: message(status, [part(text)]) });
  send(truncated ? 'response.incomplete' : 'response.completed', { response: done });
  if (!res.destroyed) res.end();
}

/** CreateEmbeddingResponse. */
function embeddings(res: ServerResponse, body: Json, model: string): void {
  const input = body.input;
  // A string, an array of strings, an array of tokens, or an array of token arrays.
  const items: unknown[] =
    typeof input === 'string' || (Array.isArray(input) && input.every((x) => typeof x === 'number'))
      ? [input]
      : Array.isArray(input)
        ? input
        : [];
  if (items.length === 0) {
    sendError(res, 400, {
      message: "'input' must be a non-empty string or array.",
      type: 'invalid_request_error',
      param: 'input',
      code: null,
    });
    return;
  }
  const dims = Math.min(ceiling(body.dimensions) ?? DEFAULT_DIMENSIONS, MAX_DIMENSIONS);
  const base64 = body.encoding_format === 'base64';
  let tokens = 0;
  const data = items.map((item, index) => {
    tokens += Array.isArray(item) && item.every((x) => typeof x === 'number') ? item.length : wordsIn(item);
    const vector = unitVector(JSON.stringify(item), dims);
    const embedding = base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
    return { object: 'embedding', index, embedding };
  });
  sendJson(res, 200, { object: 'list', data, model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
}

/** The reply's words, each with its leading space (so they concatenate back), cut at `max` tokens. */
function reply(max: number | undefined): { words: string[]; truncated: boolean } {
  const words = REPLY.split(' ').map((w, i) => (i === 0 ? w : ` ${w}`));
  return max !== undefined && max < REPLY_WORDS
    ? { words: words.slice(0, max), truncated: true }
    : { words, truncated: false };
}

/** Words in every string inside `value` (message contents, content parts, input items). */
function wordsIn(value: unknown): number {
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean).length;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + wordsIn(v), 0);
  if (value && typeof value === 'object') {
    // Identifiers and enums are not text the model reads.
    return Object.entries(value).reduce(
      (n, [k, v]) => (k === 'role' || k === 'type' || k === 'id' ? n : n + wordsIn(v)),
      0,
    );
  }
  return 0;
}

/** A deterministic unit vector of `dims` floats derived from `seed` (FNV-1a hash driving an LCG). */
function unitVector(seed: string, dims: number): number[] {
  let h = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193) >>> 0;
  const v = Array.from({ length: dims }, () => {
    h = (Math.imul(h, 1664525) + 1013904223) >>> 0;
    return h / 0x80000000 - 1;
  });
  const norm = Math.hypot(...v) || 1;
  // Rounded through float32 so the JSON and base64 forms carry the same values.
  return v.map((x) => Math.fround(x / norm));
}

const ceiling = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined;
const now = () => Math.floor(Date.now() / 1000);
