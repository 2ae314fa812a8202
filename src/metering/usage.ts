/**
 * Token usage as tollgate records it, normalised from OpenAI's two usage shapes (all integers, tokens):
 * - Chat Completions, legacy Completions, Embeddings: `prompt_tokens`, `completion_tokens`, `total_tokens`,
 *   `prompt_tokens_details.cached_tokens`, `completion_tokens_details.reasoning_tokens`;
 * - Responses and Images: `input_tokens`, `output_tokens`, `total_tokens`,
 *   `input_tokens_details.cached_tokens`, `output_tokens_details.reasoning_tokens`.
 * Source: openai/openai-openapi, schemas CompletionUsage, ResponseUsage, EmbeddingsUsage, ImagesUsage.
 * Cached tokens are part of the input tokens, and reasoning tokens part of the output tokens.
 */
export interface Usage {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  totalTokens: number;
}

type Json = Record<string, unknown>;

function count(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

/**
 * Reads a `usage` object of either shape. Returns undefined when `u` holds no token counts
 * (null, absent, or a non-token usage such as whisper's `{"type":"duration"}`).
 */
export function parseUsage(u: unknown): Usage | undefined {
  const usage = obj(u);
  if (!usage) return undefined;
  const input = count(usage.prompt_tokens) ?? count(usage.input_tokens);
  const output = count(usage.completion_tokens) ?? count(usage.output_tokens);
  if (input === undefined && output === undefined) return undefined;
  const inDetails = obj(usage.prompt_tokens_details) ?? obj(usage.input_tokens_details);
  const outDetails = obj(usage.completion_tokens_details) ?? obj(usage.output_tokens_details);
  const inputTokens = input ?? 0;
  const outputTokens = output ?? 0;
  return {
    inputTokens,
    cachedInputTokens: Math.min(count(inDetails?.cached_tokens) ?? 0, inputTokens),
    outputTokens,
    reasoningTokens: count(outDetails?.reasoning_tokens) ?? 0,
    totalTokens: count(usage.total_tokens) ?? inputTokens + outputTokens,
  };
}

/** What the metering of one response found: its usage (if any) and the model the upstream named. */
export interface Metered {
  usage?: Usage;
  model?: string;
}

/**
 * Reads usage and model from a complete JSON response body (any endpoint whose body has a top-level
 * `usage`, or a Responses object). Never throws: a body that is not JSON yields `{}`.
 */
export function meterJsonBody(text: string): Metered {
  let body: Json | undefined;
  try {
    body = obj(JSON.parse(text));
  } catch {
    return {};
  }
  if (!body) return {};
  return { usage: parseUsage(body.usage), model: typeof body.model === 'string' ? body.model : undefined };
}
