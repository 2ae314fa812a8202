import { createRequire } from 'node:module';
import type * as Cl100k from 'gpt-tokenizer/encoding/cl100k_base';
import * as o200k from 'gpt-tokenizer/encoding/o200k_base';
import { modelToEncodingMap } from 'gpt-tokenizer/mapping';
import * as models from 'gpt-tokenizer/models';
import { modelFamily } from './model.js';

/** Output ceiling assumed for a model gpt-tokenizer does not know (tokens). */
const FALLBACK_MAX_OUTPUT = 16_384;

type Spec = { max_output_tokens?: number; max_input_tokens?: number; context_window?: number };
/** Input window assumed for a model gpt-tokenizer does not know (tokens). */
const FALLBACK_MAX_INPUT = 128_000;
const specs = models as unknown as Record<string, Spec | undefined>;

/**
 * cl100k_base (GPT-3.5, GPT-4, ada-002) is loaded on first use, not at start: its tables are ~17 MB
 * of heap that a proxy serving current models (all o200k_base) never needs, and that every major GC
 * walks. The first request for such a model pays the load once (~0.2–1 s, synchronous).
 */
let cl100k: typeof Cl100k | undefined;
const loadCl100k = (): typeof Cl100k =>
  (cl100k ??= createRequire(import.meta.url)('gpt-tokenizer/encoding/cl100k_base') as typeof Cl100k);

/**
 * Counts tokens of `text` in the model's encoding: cl100k_base for the models gpt-tokenizer maps to
 * it (GPT-3.5, GPT-4, ada-002 and v3 embeddings), o200k_base for everything else (GPT-4o, GPT-4.1,
 * GPT-5, o-series). Special-token strings such as `<|endoftext|>` count as plain text. A text past
 * `EXACT_COUNT_LIMIT` is estimated in linear time (`estimateLongText`).
 * Source: gpt-tokenizer's modelToEncodingMap, after OpenAI's tiktoken.
 */
export function countTokens(model: string, text: string): number {
  if (text.length === 0) return 0;
  if (text.length > EXACT_COUNT_LIMIT) return estimateLongText(text, (t) => countExactly(model, t));
  return countExactly(model, text);
}

/**
 * Texts longer than this (UTF-16 code units, 256 Ki) are not tokenised whole: BPE on megabytes
 * holds the event loop for a second or more (a 60 MB prompt: ~1.1 s) while every other request waits.
 */
export const EXACT_COUNT_LIMIT = 256 * 1024;

/** Characters tokenised in each of the samples of a long text. */
const SAMPLE = 16 * 1024;

/**
 * A linear-time estimate of a long text's tokens: three samples of 16 Ki characters (start, middle,
 * end) are counted exactly and their tokens per character scaled to the whole length, rounded up,
 * plus 5 % for what sampling misses. Used for admission holds and for estimated output; a settle
 * with the upstream's own usage replaces it. Cost: ~50 K characters tokenised, whatever the size.
 */
export function estimateLongText(text: string, count: (t: string) => number): number {
  const mid = Math.floor(text.length / 2 - SAMPLE / 2);
  const samples = [text.slice(0, SAMPLE), text.slice(mid, mid + SAMPLE), text.slice(-SAMPLE)];
  let tokens = 0;
  for (const s of samples) tokens += count(s);
  return Math.ceil((tokens / (3 * SAMPLE)) * text.length * 1.05);
}

/** Special-token strings count as plain text (none disallowed); one options object for every count (gpt-tokenizer only reads it). */
const COUNT_SPECIAL_AS_TEXT = { disallowedSpecial: new Set<string>() };

function countExactly(model: string, text: string): number {
  const encoder = encodingOf(model) === 'cl100k' ? loadCl100k() : o200k;
  return encoder.countTokens(text, COUNT_SPECIAL_AS_TEXT);
}

/** The model's encoding family: `cl100k` (cl100k, p50k or r50k in gpt-tokenizer's map) or `o200k` (everything else). */
export function encodingOf(model: string): 'cl100k' | 'o200k' {
  const enc =
    modelToEncodingMap[model as keyof typeof modelToEncodingMap] ??
    modelToEncodingMap[modelFamily(model) as keyof typeof modelToEncodingMap];
  return enc === 'cl100k_base' || enc === 'p50k_base' || enc === 'r50k_base' ? 'cl100k' : 'o200k';
}

/** The model's largest possible output in tokens, from gpt-tokenizer's model table (16,384 if unknown). */
export function maxOutputTokens(model: string): number {
  return specs[model]?.max_output_tokens ?? specs[modelFamily(model)]?.max_output_tokens ?? FALLBACK_MAX_OUTPUT;
}

/** The model's largest possible input in tokens (`max_input_tokens`, else `context_window`, from gpt-tokenizer's model table; 128,000 if unknown). */
export function maxInputTokens(model: string): number {
  const spec = specs[model] ?? specs[modelFamily(model)];
  return spec?.max_input_tokens ?? spec?.context_window ?? FALLBACK_MAX_INPUT;
}

/** The model's context window in tokens (input and output together; `context_window` of gpt-tokenizer's model table, 128,000 if unknown). */
export function contextWindowOf(model: string): number {
  return (specs[model] ?? specs[modelFamily(model)])?.context_window ?? FALLBACK_MAX_INPUT;
}

/** gpt-tokenizer's model table entry for exactly `model` (no family fallback), if it has one. */
export function modelSpec(model: string): Spec | undefined {
  return Object.hasOwn(specs, model) ? specs[model] : undefined;
}
