import type { z } from 'zod';
import type { priceSchema } from '../config/schema.js';

/**
 * tollgate's built-in price table: OpenAI's list prices for current models, USD per 1M tokens unless
 * the field says otherwise (see `priceSchema`). Every entry names its source and the date it was
 * read. The config's `prices` override or extend it; nothing is fetched at run time.
 *
 * Source: https://platform.openai.com/docs/pricing (standard tier), read 2025-08-07; DALL·E, Whisper
 * and TTS from the same page's "Image generation" and "Transcription and speech" tables. Entries
 * added 2026-11-30 name their model page; priority prices name OpenAI's priority processing page.
 * Models whose price could not be confirmed from OpenAI's own pages are left out (docs/prices.md):
 * add them under the config's `prices`. Fine-tuned models (`ft:…`) have no built-in price: they
 * are looked up as `ft:<base model>` and never priced at the base model's rates. Check the
 * page before relying on a figure: prices change, and a config entry with `effectiveFrom` records
 * the change without rewriting history (each ledger row stores the price version it used).
 */
type PriceInput = z.input<typeof priceSchema>;

const S = 'https://platform.openai.com/docs/pricing';
const D = '2025-08-07';
const p = (
  input: number,
  cachedInput: number | undefined,
  output: number,
  extra: Partial<PriceInput> = {},
): PriceInput => ({
  input,
  ...(cachedInput === undefined ? {} : { cachedInput }),
  output,
  ...extra,
  source: S,
  date: D,
});

/** OpenAI's priority processing prices (openai.com/api-priority-processing), read 2026-11-30. */
const PRIORITY = 'https://openai.com/api-priority-processing/';
/** Entries added 2026-11-30 from OpenAI's model pages (developers.openai.com/api/docs/models/<model>). */
const MODELS = 'https://developers.openai.com/api/docs/models/';
const READ = '2026-11-30';
/** An entry read from its model page on `READ`. */
const m = (
  model: string,
  input: number,
  cachedInput: number | undefined,
  output: number,
  extra: Partial<PriceInput> = {},
): PriceInput => ({ ...p(input, cachedInput, output, extra), source: `${MODELS}${model}`, date: READ });
/** Adds priority prices (USD per 1M) to an entry, and the priority page to its source. */
const pri = (entry: PriceInput, input: number, cachedInput: number | undefined, output: number): PriceInput => ({
  ...entry,
  priority: { input, ...(cachedInput === undefined ? {} : { cachedInput }), output },
  source: `${entry.source}; priority: ${PRIORITY} (${READ})`,
});

/**
 * Fine-tuning training prices (USD per 1M training tokens), from OpenAI's pricing page
 * (https://platform.openai.com/docs/pricing, "Fine-tuning": gpt-4o-mini-2024-07-18 $3.00,
 * gpt-4o-2024-08-06 $25.00, gpt-4.1-2025-04-14 $25.00, gpt-4.1-mini-2025-04-14 $5.00,
 * gpt-4.1-nano-2025-04-14 $1.50), read 2026-11-30 (gpt-4o's $25 also confirmed by
 * artificial-intelligence-wiki.com's fine-tuning pricing notes). A job is billed `trained_tokens`
 * (training file tokens × epochs) at this price.
 */
const FINE_TUNING = 'https://platform.openai.com/docs/pricing#fine-tuning';
/** Adds a training price (USD per 1M training tokens) to an entry, and the fine-tuning table to its source. */
const trains = (entry: PriceInput, training: number): PriceInput => ({
  ...entry,
  training,
  source: `${entry.source}; training: ${FINE_TUNING} (${READ})`,
});

/**
 * Video models (sora), USD per second of video by size. Source: OpenAI's pricing page, "Video"
 * (https://platform.openai.com/docs/pricing#video), read 2026-11-30: sora-2 $0.10/s (720x1280,
 * 1280x720); sora-2-pro $0.30/s at 720p (720x1280, 1280x720) and $0.50/s at 1024p (1024x1792,
 * 1792x1024). The same figures are quoted by magichour.ai and cometapi.com (2026).
 */
const video = (perSecond: Record<string, number>): PriceInput => ({
  input: 0,
  output: 0,
  perSecond,
  source: 'https://platform.openai.com/docs/pricing#video',
  date: READ,
});

/**
 * Realtime models: text, audio and image tokens, each with its cached price. Source: each model's
 * page on developers.openai.com (`/api/docs/models/<model>`, "Pricing"), read 2026-11-30.
 */
const realtime = (
  model: string,
  text: [number, number, number],
  audio: [number, number, number],
  image?: [number, number],
): PriceInput => ({
  input: text[0],
  cachedInput: text[1],
  output: text[2],
  audioInput: audio[0],
  cachedAudioInput: audio[1],
  audioOutput: audio[2],
  ...(image ? { imageInput: image[0], cachedImageInput: image[1] } : {}),
  source: `https://developers.openai.com/api/docs/models/${model}`,
  date: '2026-11-30',
});

/** The built-in prices by model name or family (see the module comment for source and date). */
export const PRICE_TABLE: Readonly<Record<string, PriceInput>> = {
  // GPT-5 family
  'gpt-5': pri(p(1.25, 0.125, 10), 2.5, 0.25, 20),
  'gpt-5.1': pri(m('gpt-5.1', 1.25, 0.125, 10), 2.5, 0.25, 20),
  'gpt-5-mini': pri(p(0.25, 0.025, 2), 0.45, 0.045, 3.6),
  'gpt-5-nano': p(0.05, 0.005, 0.4),
  'gpt-5-chat-latest': p(1.25, 0.125, 10),
  // GPT-4.1 family
  'gpt-4.1': trains(pri(p(2, 0.5, 8), 3.5, 0.875, 14), 25),
  'gpt-4.1-mini': trains(pri(p(0.4, 0.1, 1.6), 0.7, 0.175, 2.8), 5),
  'gpt-4.1-nano': trains(pri(p(0.1, 0.025, 0.4), 0.2, 0.05, 0.8), 1.5),
  // GPT-4o family
  'gpt-4o': trains(pri(p(2.5, 1.25, 10), 4.25, 2.125, 17), 25),
  'gpt-4o-2024-05-13': pri(p(5, undefined, 15), 8.75, undefined, 26.25),
  'gpt-4o-mini': trains(pri(p(0.15, 0.075, 0.6), 0.25, 0.125, 1), 3),
  'chatgpt-4o-latest': p(5, undefined, 15),
  'gpt-4o-audio-preview': p(2.5, undefined, 10, { audioInput: 40, audioOutput: 80 }),
  'gpt-4o-mini-audio-preview': p(0.15, undefined, 0.6, { audioInput: 10, audioOutput: 20 }),
  'gpt-4o-search-preview': p(2.5, undefined, 10),
  'gpt-4o-mini-search-preview': p(0.15, undefined, 0.6),
  // Reasoning models
  o1: p(15, 7.5, 60),
  'o1-mini': p(1.1, 0.55, 4.4),
  'o1-pro': p(150, undefined, 600),
  o3: pri(p(2, 0.5, 8), 3.5, 0.875, 14),
  'o3-mini': p(1.1, 0.55, 4.4),
  'o3-pro': p(20, undefined, 80),
  'o4-mini': p(1.1, 0.275, 4.4),
  // Older chat and completion models
  'gpt-4-turbo': p(10, undefined, 30),
  'gpt-4': p(30, undefined, 60),
  'gpt-3.5-turbo': p(0.5, undefined, 1.5),
  'gpt-3.5-turbo-instruct': p(1.5, undefined, 2),
  'davinci-002': p(2, undefined, 2),
  'babbage-002': p(0.4, undefined, 0.4),
  // Embeddings
  'text-embedding-3-small': p(0.02, undefined, 0),
  'text-embedding-3-large': p(0.13, undefined, 0),
  'text-embedding-ada-002': p(0.1, undefined, 0),
  // Moderation: free
  'omni-moderation-latest': p(0, undefined, 0),
  'omni-moderation': p(0, undefined, 0),
  'text-moderation-latest': p(0, undefined, 0),
  'text-moderation-stable': p(0, undefined, 0),
  // Images
  'gpt-image-1': p(5, 1.25, 40, { imageInput: 10, imageOutput: 40 }),
  'gpt-image-1-mini': m('gpt-image-1-mini', 2, 0.2, 8, { imageInput: 2.5, imageOutput: 8 }),
  'dall-e-3': p(0, undefined, 0, {
    perImage: {
      '1024x1024/standard': 0.04,
      '1024x1024/hd': 0.08,
      '1024x1792/standard': 0.08,
      '1792x1024/standard': 0.08,
      '1024x1792/hd': 0.12,
      '1792x1024/hd': 0.12,
    },
  }),
  'dall-e-2': p(0, undefined, 0, {
    perImage: { '256x256/standard': 0.016, '512x512/standard': 0.018, '1024x1024/standard': 0.02 },
  }),
  // Audio
  'whisper-1': p(0, undefined, 0, { perMinute: 0.006 }),
  'gpt-4o-transcribe': p(2.5, undefined, 10, { audioInput: 6 }),
  'gpt-4o-mini-transcribe': p(1.25, undefined, 5, { audioInput: 3 }),
  'tts-1': p(0, undefined, 0, { perMillionCharacters: 15 }),
  'tts-1-hd': p(0, undefined, 0, { perMillionCharacters: 30 }),
  'gpt-4o-mini-tts': p(0.6, undefined, 0, { audioOutput: 12 }),
  'gpt-audio': m('gpt-audio', 2.5, undefined, 10, { audioInput: 32, audioOutput: 64 }),
  // Video
  'sora-2': video({ default: 0.1 }),
  'sora-2-pro': video({ default: 0.3, '1024x1792': 0.5, '1792x1024': 0.5 }),
  // Realtime (see `realtime` above for the source)
  'gpt-realtime-1.5': realtime('gpt-realtime-1.5', [4, 0.4, 16], [32, 0.4, 64], [5, 0.5]),
  'gpt-realtime-2': realtime('gpt-realtime-2', [4, 0.4, 24], [32, 0.4, 64], [5, 0.5]),
  'gpt-realtime-2.1-mini': realtime('gpt-realtime-2.1-mini', [0.6, 0.06, 2.4], [10, 0.3, 20], [0.8, 0.08]),
  'gpt-4o-realtime-preview': realtime('gpt-4o-realtime-preview', [5, 2.5, 20], [40, 2.5, 80]),
  'gpt-4o-mini-realtime-preview': realtime('gpt-4o-mini-realtime-preview', [0.6, 0.3, 2.4], [10, 0.3, 20]),
  'gpt-realtime-whisper': {
    input: 0,
    output: 0,
    perMinute: 0.017,
    source: 'https://developers.openai.com/api/docs/models/gpt-realtime-whisper',
    date: '2026-11-30',
  },
};
