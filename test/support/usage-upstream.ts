import type { Row, Tollgate } from './harness.js';
import { json, ScriptedUpstream, type Script } from './scripted-upstream.js';

/**
 * A script for `ScriptedUpstream`: Chat Completions and Responses answered, for whatever model was
 * asked, with the usage the test sends in the `x-test-usage` header (a JSON object in OpenAI's wire
 * shape) and any top-level fields in `x-test-extra` (`service_tier`, `output`…); any other path
 * goes to `other` (default: `{"ok":true}`).
 */
export function echoUsage(other?: Script): Script {
  let responses = 0;
  return (req, res) => {
    const body = JSON.parse(req.body.toString() || '{}') as { model?: string };
    const usage = JSON.parse(String(req.headers['x-test-usage'] ?? '{}')) as Record<string, unknown>;
    const extra = JSON.parse(String(req.headers['x-test-extra'] ?? '{}')) as Record<string, unknown>;
    if (req.url.startsWith('/v1/responses'))
      return json(res, 200, {
        id: `resp_${++responses}`,
        object: 'response',
        created_at: 1,
        status: 'completed',
        model: body.model,
        output: [
          {
            type: 'message',
            id: 'msg_1',
            role: 'assistant',
            status: 'completed',
            content: [{ type: 'output_text', text: 'ok', annotations: [] }],
          },
        ],
        usage,
        ...extra,
      });
    if (req.url.startsWith('/v1/chat/completions'))
      return json(res, 200, {
        id: 'chatcmpl-1',
        object: 'chat.completion',
        created: 1,
        model: body.model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: 'ok', refusal: null },
            finish_reason: 'stop',
            logprobs: null,
          },
        ],
        usage,
        ...extra,
      });
    if (other) return other(req, res);
    return json(res, 200, { ok: true });
  };
}

/** Chat Completions usage (tokens): `prompt` of which `cached`, `completion` of which `reasoning`. */
export const chatUsage = (prompt: number, cached: number, completion: number, reasoning = 0) => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion,
  prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: reasoning, audio_tokens: 0 },
});

/** Responses usage (tokens): `input` of which `cached`, `output` of which `reasoning`. */
export const responsesUsage = (input: number, cached: number, output: number, reasoning = 0) => ({
  input_tokens: input,
  input_tokens_details: { cached_tokens: cached },
  output_tokens: output,
  output_tokens_details: { reasoning_tokens: reasoning },
  total_tokens: input + output,
});

/** What to send: the usage the upstream reports, its extra fields, extra request fields, and the key (default the first). */
export interface Ask {
  usage: object;
  extra?: object;
  body?: object;
  key?: string;
}

const headers = (a: Ask) => ({
  'x-test-usage': JSON.stringify(a.usage),
  'x-test-extra': JSON.stringify(a.extra ?? {}),
});

async function lastRow(tg: Tollgate): Promise<Row> {
  await tg.settled();
  return tg.rows().at(-1)!;
}

/** A chat completion on `model` through the official SDK (an upstream running `echoUsage`); resolves to its settled row. */
export async function chatRow(tg: Tollgate, model: string, a: Ask): Promise<Row> {
  await tg
    .client(a.key)
    .chat.completions.create(
      { model, messages: [{ role: 'user', content: 'Hi' }], max_completion_tokens: 1000, ...a.body },
      { headers: headers(a) },
    );
  return lastRow(tg);
}

/** A response on `model` through the official SDK (an upstream running `echoUsage`); resolves to its settled row. */
export async function responseRow(tg: Tollgate, model: string, a: Ask): Promise<Row> {
  await tg
    .client(a.key)
    .responses.create({ model, input: 'Hi', max_output_tokens: 1000, ...a.body } as never, { headers: headers(a) });
  return lastRow(tg);
}

/**
 * A fake upstream answering Chat Completions (`echoUsage`) with `prompt_tokens` 5 and
 * `completion_tokens` equal to the request's `max_tokens` (unless the request sends `x-test-usage`),
 * so a request is metered `5 + max_tokens` tokens — never more than its hold (its counted prompt +
 * `max_tokens`).
 */
export async function maxTokensUpstream(): Promise<ScriptedUpstream> {
  const upstream = await new ScriptedUpstream().start();
  const echo = echoUsage();
  upstream.script = (req, res) => {
    const body = JSON.parse(req.body.toString('utf8') || '{}') as { max_tokens?: number };
    req.headers['x-test-usage'] ??= JSON.stringify(chatUsage(5, 0, body.max_tokens ?? 16));
    return echo(req, res);
  };
  return upstream;
}

/** A chat request metered `5 + maxTokens` tokens by `maxTokensUpstream`. */
export const chatOf = (maxTokens: number, extra: Record<string, unknown> = {}) => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user' as const, content: 'hi' }],
  max_tokens: maxTokens,
  ...extra,
});
