import type { Price } from './types.js';

/**
 * tollgate's own price entries: only what the price source (`@pydantic/genai-prices`, source.ts)
 * lacks, each with the URL it was read from and the date it was read. Two kinds:
 * - *supplements*, merged field by field over the source's entry for the same model: priority
 *   processing prices, fine-tuning training prices, audio prices of the audio-preview models, the
 *   text vs image output prices of gpt-image-2;
 * - *standalone* entries for models the source does not price: fine-tuned gpt-4.1 / -mini / -nano
 *   and o4-mini (`ft:<base>`), DALL·E per image, tts-1 per character, sora per second of video, the
 *   Realtime transcription model per minute, the legacy completion models davinci-002 and
 *   babbage-002.
 * A test (pricing-source.test.ts) holds the table to that: every supplement names a model the
 * source prices and adds fields the source lacks (or corrects one, said in its comment), every
 * standalone entry names a model the source lacks. The config's `prices` override both.
 * Batch and flex: every entry's `batchDiscount` defaults to 0.5 (OpenAI's Batch API is billed at
 * 50 %, https://platform.openai.com/docs/guides/batch, read 2026-11-30; flex processing is billed
 * at Batch rates, https://platform.openai.com/docs/guides/flex-processing, read 2026-11-30).
 */
export interface OwnEntry extends Partial<Omit<Price, 'source' | 'date'>> {
  source: string;
  date: string;
  /** A supplement merged over the source's entry (else a standalone, complete price). */
  supplements?: true;
}

const PRICING = 'https://platform.openai.com/docs/pricing';
const PRIORITY = 'https://openai.com/api-priority-processing/';
const MODELS = 'https://developers.openai.com/api/docs/models/';
const READ = '2026-11-30';
/** The day the priority prices of the current models and the fine-tuned rates of gpt-4.1 and o4-mini were read. */
const READ_DEC = '2026-12-07';

/**
 * Priority processing prices (USD per 1M: input, cached input, output), read on OpenAI's priority
 * page `on` that day. Priority excludes long-context requests (the page's footnote): such a request
 * is billed at the tier the upstream reports it ran at.
 */
const priority = (
  input: number,
  cachedInput: number | undefined,
  output: number,
  on = READ,
  source = PRIORITY,
): OwnEntry => ({
  priority: { input, ...(cachedInput === undefined ? {} : { cachedInput }), output },
  source,
  date: on,
  supplements: true,
});

/**
 * A fine-tuned model's inference prices (USD per 1M: input, cached input, output) from OpenAI's
 * pricing page, "Fine-tuning" (https://openai.com/api/pricing/, read 2026-12-07), billed for
 * every `ft:<base>:<org>…` id of that base (names.ts). Batch and flex at 50 % like every entry.
 */
const fineTuned = (input: number, cachedInput: number, output: number): OwnEntry => ({
  input,
  cachedInput,
  output,
  source: 'https://openai.com/api/pricing/#fine-tuning',
  date: READ_DEC,
});

/**
 * Adds a fine-tuning training price (USD per 1M training tokens; a job is billed `trained_tokens`,
 * training file tokens × epochs) from OpenAI's pricing page, "Fine-tuning" (gpt-4o-mini-2024-07-18
 * $3.00, gpt-4o-2024-08-06 $25.00, gpt-4.1-2025-04-14 $25.00, gpt-4.1-mini-2025-04-14 $5.00,
 * gpt-4.1-nano-2025-04-14 $1.50), read 2026-11-30.
 */
const trains = (entry: OwnEntry, training: number): OwnEntry => ({
  ...entry,
  training,
  source: `${entry.source}; training: ${PRICING}#fine-tuning (${READ})`,
});

/** USD per second of video by size (`default` for the sizes not named), OpenAI's pricing page, "Video". */
const video = (perSecond: Record<string, number>): OwnEntry => ({
  input: 0,
  output: 0,
  perSecond,
  source: `${PRICING}#video`,
  date: READ,
});

/** A standalone entry from OpenAI's pricing page (read 2025-08-07, checked 2026-11-30). */
const listed = (fields: Partial<Price>): OwnEntry => ({ input: 0, output: 0, ...fields, source: PRICING, date: READ });

/** The own entries by model name or family (see the module comment). */
export const OWN_TABLE: Readonly<Record<string, OwnEntry>> = {
  // Priority processing (the source has no service tiers). Read 2026-12-07 on the page's current
  // edition (GPT-5.5 first): gpt-5.5, gpt-5.4-mini, gpt-5.4, gpt-5.2, GPT-5.1 codex, GPT-5 codex;
  // o4-mini from the page's earlier edition (the current one's copies end before it).
  'gpt-5.5': priority(12.5, 1.25, 75, READ_DEC),
  'gpt-5.4': priority(5, 0.5, 30, READ_DEC),
  'gpt-5.4-mini': priority(1.5, 0.15, 9, READ_DEC),
  'gpt-5.2': priority(3.5, 0.35, 28, READ_DEC),
  'gpt-5.1-codex': priority(2.5, 0.25, 20, READ_DEC),
  'gpt-5-codex': priority(2.5, 0.25, 20, READ_DEC),
  'o4-mini': priority(2, 0.5, 8, READ_DEC, `${PRIORITY} (earlier edition: o3, o4-mini)`),
  'gpt-5': priority(2.5, 0.25, 20),
  'gpt-5.1': priority(2.5, 0.25, 20),
  'gpt-5-mini': priority(0.45, 0.045, 3.6),
  'gpt-4.1': trains(priority(3.5, 0.875, 14), 25),
  'gpt-4.1-mini': trains(priority(0.7, 0.175, 2.8), 5),
  'gpt-4.1-nano': trains(priority(0.2, 0.05, 0.8), 1.5),
  'gpt-4o': trains(priority(4.25, 2.125, 17), 25),
  'gpt-4o-2024-05-13': priority(8.75, undefined, 26.25),
  'gpt-4o-mini': trains(priority(0.25, 0.125, 1), 3),
  o3: priority(3.5, 0.875, 14),
  // Audio token prices of the audio-preview chat models (the source has only their text prices).
  'gpt-4o-audio-preview': {
    audioInput: 40,
    audioOutput: 80,
    source: `${PRICING}#audio-tokens`,
    date: READ,
    supplements: true,
  },
  'gpt-4o-mini-audio-preview': {
    audioInput: 10,
    audioOutput: 20,
    source: `${PRICING}#audio-tokens`,
    date: READ,
    supplements: true,
  },
  // gpt-image-2 bills image output at $30 and text output at $10 per 1M (the source's one
  // `output_mtok` is the image rate): OpenAI's pricing page, "Image generation", as quoted by
  // robotsatlas.com/ai-models/chatgpt-images-2-0 and tokenmix.ai (read 2026-12-07).
  'gpt-image-2': {
    output: 10,
    imageOutput: 30,
    source: `${PRICING}#image-generation (via robotsatlas.com/ai-models/chatgpt-images-2-0)`,
    date: '2026-12-07',
    supplements: true,
  },
  // Fine-tuned models whose base the source has no fine-tuned rates for (it has ft:gpt-4o, ft:gpt-4o-mini,
  // ft:gpt-3.5-turbo, ft:gpt-4-0…). Their training: gpt-4.1 $25, -mini $5, -nano $1.50 per 1M
  // training tokens (on the base models above); o4-mini's reinforcement fine-tuning $100 per hour of
  // training (OpenAI help center, "Billing guide for the Reinforcement Fine Tuning API",
  // https://help.openai.com/en/articles/11323177, read 2026-12-07) is not metered: the job object
  // reports no billable hours, so an o4-mini training job is refused unless priced under `prices`.
  'ft:gpt-4.1': fineTuned(3, 0.75, 12),
  'ft:gpt-4.1-mini': fineTuned(0.8, 0.2, 3.2),
  'ft:gpt-4.1-nano': fineTuned(0.2, 0.05, 0.8),
  'ft:o4-mini': fineTuned(4, 1, 16),
  // Models the source does not price.
  'davinci-002': listed({ input: 2, output: 2 }),
  'babbage-002': listed({ input: 0.4, output: 0.4 }),
  'dall-e-3': listed({
    perImage: {
      '1024x1024/standard': 0.04,
      '1024x1024/hd': 0.08,
      '1024x1792/standard': 0.08,
      '1792x1024/standard': 0.08,
      '1024x1792/hd': 0.12,
      '1792x1024/hd': 0.12,
    },
  }),
  'dall-e-2': listed({
    perImage: { '256x256/standard': 0.016, '512x512/standard': 0.018, '1024x1024/standard': 0.02 },
  }),
  'tts-1': listed({ perMillionCharacters: 15 }),
  'tts-1-hd': listed({ perMillionCharacters: 30 }),
  // sora-2 $0.10/s (720x1280, 1280x720); sora-2-pro $0.30/s at 720p, $0.50/s at 1024p.
  'sora-2': video({ default: 0.1 }),
  'sora-2-pro': video({ default: 0.3, '1024x1792': 0.5, '1792x1024': 0.5 }),
  'gpt-realtime-whisper': {
    input: 0,
    output: 0,
    perMinute: 0.017,
    source: `${MODELS}gpt-realtime-whisper`,
    date: READ,
  },
};
