import { toolCallsOf, type ToolCalls } from './tool-calls.js';

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
  /** Parts of `inputTokens` / `outputTokens` in audio or images, priced apart. */
  audioInputTokens?: number;
  audioOutputTokens?: number;
  imageInputTokens?: number;
  imageOutputTokens?: number;
  /** Input tokens written to the prompt cache (`*_tokens_details.cache_write_tokens`), part of `inputTokens`, priced at `cacheWrite`. */
  cacheWriteTokens?: number;
  /** Parts of `cachedInputTokens` in audio or images (Realtime), priced at the cached audio / image price. */
  cachedAudioInputTokens?: number;
  cachedImageInputTokens?: number;
  /** Non-token units: seconds of audio (whisper), input characters (tts-1), images (DALL·E) of `imageKey` size/quality. */
  seconds?: number;
  characters?: number;
  images?: number;
  imageKey?: string;
  /** Processed by the Batch API (discounted). */
  batch?: boolean;
  /** Tokens a fine-tuning job trained on (its `trained_tokens`: training file tokens × epochs), priced at `training`. */
  trainedTokens?: number;
  /** Seconds of generated video (a video's `seconds`), priced at `perSecond` (by `videoSize` when the price names sizes). */
  videoSeconds?: number;
  /** The video's `size` (`720x1280`, `1792x1024`…), for a per-second price that depends on it. */
  videoSize?: string;
}

/** A usage of nothing: the base for units that are not tokens (seconds, characters, images) and for estimates. */
export const NO_TOKENS: Usage = {
  inputTokens: 0,
  cachedInputTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
  totalTokens: 0,
};

/** What a response's output tokens are: text (chat, responses), audio (speech) or image (gpt-image). */
export type OutputModality = 'text' | 'audio' | 'image';

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
export function parseUsage(u: unknown, output: OutputModality = 'text'): Usage | undefined {
  const usage = obj(u);
  if (!usage) return undefined;
  if (usage.type === 'duration') {
    const seconds = typeof usage.seconds === 'number' && usage.seconds >= 0 ? usage.seconds : undefined;
    return seconds === undefined
      ? undefined
      : { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0, totalTokens: 0, seconds };
  }
  const inputCount = count(usage.prompt_tokens) ?? count(usage.input_tokens);
  const outputCount = count(usage.completion_tokens) ?? count(usage.output_tokens);
  if (inputCount === undefined && outputCount === undefined) return undefined;
  // Transcriptions name it input_token_details (singular); the rest *_tokens_details.
  const inDetails =
    obj(usage.prompt_tokens_details) ?? obj(usage.input_tokens_details) ?? obj(usage.input_token_details);
  const outDetails = obj(usage.completion_tokens_details) ?? obj(usage.output_tokens_details);
  const inputTokens = inputCount ?? 0;
  const outputTokens = outputCount ?? 0;
  const out: Usage = {
    inputTokens,
    cachedInputTokens: Math.min(count(inDetails?.cached_tokens) ?? 0, inputTokens),
    outputTokens,
    reasoningTokens: count(outDetails?.reasoning_tokens) ?? 0,
    totalTokens: count(usage.total_tokens) ?? inputTokens + outputTokens,
  };
  const audioIn = count(inDetails?.audio_tokens);
  const imageIn = count(inDetails?.image_tokens);
  const audioOut = output === 'audio' ? outputTokens : count(outDetails?.audio_tokens);
  const cacheWrite = count(inDetails?.cache_write_tokens);
  if (audioIn) out.audioInputTokens = Math.min(audioIn, inputTokens);
  if (imageIn) out.imageInputTokens = Math.min(imageIn, inputTokens);
  if (audioOut) out.audioOutputTokens = Math.min(audioOut, outputTokens);
  if (cacheWrite) out.cacheWriteTokens = Math.min(cacheWrite, inputTokens - out.cachedInputTokens);
  // Images: output tokens are image tokens unless the usage splits them (`output_tokens_details.text_tokens`).
  if (output === 'image' && outputTokens)
    out.imageOutputTokens = Math.min(
      count(outDetails?.image_tokens) ?? outputTokens - (count(outDetails?.text_tokens) ?? 0),
      outputTokens,
    );
  return out;
}

/** What the metering of one response found: its usage (if any) and the model the upstream named. */
export interface Metered {
  usage?: Usage;
  model?: string;
  /** The `service_tier` the upstream reports it processed the request with (`default`, `flex`, `priority`, …). */
  serviceTier?: string;
  /** Built-in tool calls in a Responses object's `output` (billed per call, see src/pricing/tool-fees.ts). */
  toolCalls?: ToolCalls;
  /** The id of the upstream object the body is, when it is one of `OBJECT_KINDS` (a response, batch, fine-tuning job, video). */
  objectId?: string;
  /** That object's `object` name (`response`, `batch`, `fine_tuning.job`, `video`). */
  objectKind?: string;
  /** Its `status` (`completed`, `queued`, `in_progress`, …). */
  objectStatus?: string;
  /** How many items `data` holds (images returned). */
  dataCount?: number;
  /** Seconds of audio a transcription or translation reports (`verbose_json`'s `duration`). */
  duration?: number;
}

/** The `object` names of upstream work billed once per id, whose `id` and `status` metering reads (openai-openapi; `DeferredKind`). */
const OBJECT_KINDS: ReadonlySet<string> = new Set(['response', 'batch', 'fine_tuning.job', 'video']);

/**
 * Reads usage, model and the facts billing needs from a complete JSON response body (any endpoint
 * whose body has a top-level `usage`; Responses objects, batches, image lists, transcriptions).
 * Never throws: a body that is not JSON yields `{}`.
 */
export function meterJsonBody(text: string, output: OutputModality = 'text'): Metered {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {};
  }
  return meterJsonValue(parsed, output);
}

/** `meterJsonBody` of a body already parsed (`JSON.parse`'s value; undefined for a body that was not JSON). */
export function meterJsonValue(parsed: unknown, output: OutputModality = 'text'): Metered {
  const body = obj(parsed);
  if (!body) return {};
  const out: Metered = {
    usage: parseUsage(body.usage, output),
    model: typeof body.model === 'string' ? body.model : undefined,
  };
  if (typeof body.object === 'string' && OBJECT_KINDS.has(body.object) && typeof body.id === 'string') {
    out.objectId = body.id;
    out.objectKind = body.object;
  }
  if (typeof body.status === 'string') out.objectStatus = body.status;
  if (Array.isArray(body.data)) out.dataCount = body.data.length;
  if (typeof body.duration === 'number' && body.duration >= 0) out.duration = body.duration;
  if (typeof body.service_tier === 'string') out.serviceTier = body.service_tier;
  if (body.object === 'response') out.toolCalls = toolCallsOf(body.output);
  return out;
}
