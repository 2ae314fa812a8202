import { countTokens } from '../metering/tokenizer.js';
import { NO_TOKENS, parseUsage, type Usage } from '../metering/usage.js';

/**
 * Usage of the Realtime API, normalised to tollgate's `Usage`.
 * Source: OpenAI's Realtime reference (openai-node `resources/realtime/realtime.ts`,
 * `RealtimeResponseUsage`; openai-openapi's realtime server events).
 */

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
const count = (v: unknown): number => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0);

/**
 * The usage of a `response.done` event's `response.usage`:
 * `{input_tokens, output_tokens, total_tokens, input_token_details: {text_tokens, audio_tokens,
 * image_tokens, cached_tokens, cached_tokens_details: {text_tokens, audio_tokens, image_tokens}},
 * output_token_details: {text_tokens, audio_tokens}}`. Cached tokens are part of the input tokens and
 * `audio_tokens` / `image_tokens` count cached ones too, so the uncached audio and image parts are
 * what is left after the cached ones. Undefined when `u` holds no token counts.
 */
export function responseUsage(u: unknown): Usage | undefined {
  const usage = obj(u);
  if (!usage || (usage.input_tokens === undefined && usage.output_tokens === undefined)) return undefined;
  const inDetails = obj(usage.input_token_details) ?? {};
  const cachedDetails = obj(inDetails.cached_tokens_details) ?? {};
  const outDetails = obj(usage.output_token_details) ?? {};
  const inputTokens = count(usage.input_tokens);
  const outputTokens = count(usage.output_tokens);
  const cached = Math.min(count(inDetails.cached_tokens), inputTokens);
  const cachedAudio = Math.min(count(cachedDetails.audio_tokens), cached);
  const cachedImage = Math.min(count(cachedDetails.image_tokens), cached - cachedAudio);
  const out: Usage = {
    inputTokens,
    cachedInputTokens: cached,
    outputTokens,
    reasoningTokens: count(outDetails.reasoning_tokens),
    totalTokens: count(usage.total_tokens) || inputTokens + outputTokens,
  };
  const audioIn = Math.max(0, count(inDetails.audio_tokens) - cachedAudio);
  const imageIn = Math.max(0, count(inDetails.image_tokens) - cachedImage);
  const audioOut = Math.min(count(outDetails.audio_tokens), outputTokens);
  if (audioIn) out.audioInputTokens = audioIn;
  if (imageIn) out.imageInputTokens = imageIn;
  if (cachedAudio) out.cachedAudioInputTokens = cachedAudio;
  if (cachedImage) out.cachedImageInputTokens = cachedImage;
  if (audioOut) out.audioOutputTokens = audioOut;
  return out;
}

/**
 * The usage of a `conversation.item.input_audio_transcription.completed` event: tokens
 * (`{type: "tokens", input_tokens, output_tokens, total_tokens, input_token_details: {text_tokens,
 * audio_tokens}}`) or duration (`{type: "duration", seconds}`, for models priced per minute).
 */
export function transcriptionUsage(u: unknown): Usage | undefined {
  return parseUsage(u);
}

/**
 * Assistant audio: 1 token per 50 ms (OpenAI, "Managing costs" guide for the Realtime API,
 * developers.openai.com/api/docs/guides/realtime-costs).
 */
const AUDIO_OUTPUT_TOKENS_PER_SECOND = 20;
/** Bytes per second of the Realtime API's default output format, `pcm16` (24 kHz, mono, 16-bit). */
const PCM16_BYTES_PER_SECOND = 48_000;

/** What a response sent before it was cut short: its text (and transcript) and its audio bytes. */
export interface PartialOutput {
  text: string;
  audioBytes: number;
}

/**
 * An estimate for a response cut short (no `response.done`): as input, the input tokens of the
 * session's last completed response (the conversation it re-reads is at least that long); as
 * output, the text seen (gpt-tokenizer) plus the audio seen (assumed `pcm16`, at 20 tokens a second).
 */
export function estimateCutResponse(model: string, lastInputTokens: number, seen: PartialOutput): Usage {
  const textOut = seen.text ? countTokens(model, seen.text) : 0;
  const audioOut = Math.ceil((seen.audioBytes / PCM16_BYTES_PER_SECOND) * AUDIO_OUTPUT_TOKENS_PER_SECOND);
  const out: Usage = {
    ...NO_TOKENS,
    inputTokens: lastInputTokens,
    outputTokens: textOut + audioOut,
    totalTokens: lastInputTokens + textOut + audioOut,
  };
  if (audioOut) out.audioOutputTokens = audioOut;
  return out;
}

/** Bytes of audio a base64 `delta` carries. */
export const base64Bytes = (b64: string): number =>
  Math.floor((b64.length * 3) / 4) - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0);
