import { json, ScriptedUpstream } from './scripted-upstream.js';

/**
 * A fake upstream answering Chat Completions with a usage the test chooses: `prompt_tokens` 5 and
 * `completion_tokens` equal to the request's `max_tokens`, so a request is metered
 * `5 + max_tokens` tokens — never more than its hold (its counted prompt + `max_tokens`). Shapes
 * from openai/openai-openapi (CreateChatCompletionResponse, CompletionUsage).
 */
export async function usageUpstream(): Promise<ScriptedUpstream> {
  const upstream = await new ScriptedUpstream().start();
  upstream.script = (req, res) => {
    const body = JSON.parse(req.body.toString('utf8') || '{}') as { model?: string; max_tokens?: number };
    const completion = body.max_tokens ?? 16;
    json(
      res,
      200,
      {
        id: `chatcmpl-${upstream.seen.length}`,
        object: 'chat.completion',
        created: 1_780_000_000,
        model: body.model ?? 'gpt-4o-mini',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: 'ok', refusal: null },
            finish_reason: 'stop',
            logprobs: null,
          },
        ],
        usage: { prompt_tokens: 5, completion_tokens: completion, total_tokens: 5 + completion },
      },
      { 'x-request-id': `req_usage_${upstream.seen.length}` },
    );
  };
  return upstream;
}

/** A chat request metered `5 + maxTokens` tokens by `usageUpstream`. */
export const chatOf = (maxTokens: number, extra: Record<string, unknown> = {}) => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user' as const, content: 'hi' }],
  max_tokens: maxTokens,
  ...extra,
});
