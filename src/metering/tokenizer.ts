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
const loadCl100k = (): typeof Cl100k => (cl100k ??= createRequire(import.meta.url)('gpt-tokenizer/encoding/cl100k_base') as typeof Cl100k);

/**
 * Counts tokens of `text` in the model's encoding: cl100k_base for the models gpt-tokenizer maps to
 * it (GPT-3.5, GPT-4, ada-002 and v3 embeddings), o200k_base for everything else (GPT-4o, GPT-4.1,
 * GPT-5, o-series). Special-token strings such as `<|endoftext|>` count as plain text.
 * Source: gpt-tokenizer's modelToEncodingMap, after OpenAI's tiktoken.
 */
export function countTokens(model: string, text: string): number {
  if (text.length === 0) return 0;
  const encoder = encodingOf(model) === 'cl100k' ? loadCl100k() : o200k;
  return encoder.countTokens(text, { disallowedSpecial: new Set() });
}

/** The model's encoding family: `cl100k` (cl100k, p50k or r50k in gpt-tokenizer's map) or `o200k` (everything else). */
export function encodingOf(model: string): 'cl100k' | 'o200k' {
  const enc = modelToEncodingMap[model as keyof typeof modelToEncodingMap] ?? modelToEncodingMap[modelFamily(model) as keyof typeof modelToEncodingMap];
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
