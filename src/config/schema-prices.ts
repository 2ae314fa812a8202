import { z } from 'zod';

/** The prices and feature rates in `proxy.config.json`. */

/** USD per 1M tokens, with at most 6 decimals so that costs stay exact in integer micro-USD. */
export const usdPerMillion = z
  .number()
  .nonnegative()
  .refine((n) => Math.abs(n * 1e6 - Math.round(n * 1e6)) < 1e-6, {
    message: 'expected at most 6 decimal places (USD per 1M tokens)',
  });

const perMillion = (description: string, example: number) =>
  usdPerMillion.optional().meta({ description, unit: 'USD per 1M tokens', examples: [example] });

/**
 * One model's price, USD per 1M tokens unless named otherwise, with its `source` and `date`.
 * Token prices: `input` (text), `cachedInput`, `output` (text; reasoning included), `audioInput`,
 * `audioOutput`, `imageInput`, `imageOutput` (each falls back to `input` / `output` when absent).
 * Other units: `perMinute` (USD per minute of audio, whisper), `perMillionCharacters` (USD per 1M
 * input characters, tts-1), `perImage` (USD per image by `"<size>/<quality>"`, e.g.
 * `"1024x1024/standard"`, DALL·E), `training` (USD per 1M training tokens of a fine-tuning job),
 * `perSecond` (USD per second of video, by size). `batchDiscount` is the fraction taken off for the Batch API
 * (OpenAI: 0.5), and also what `service_tier: "flex"` takes off (flex is billed at Batch rates);
 * `priority` the token prices of `service_tier: "priority"`. `cacheWrite`, `longContext` tiers,
 * `webSearch` / `fileSearch` fees, `perHour` and the model's `contextWindow` / `maxOutputTokens` as
 * the price source (`@pydantic/genai-prices`) has them. `effectiveFrom` (UTC date) lets a price take
 * over from an older one on that day.
 */
export const priceSchema = z
  .object({
    input: usdPerMillion.default(0).meta({ description: 'Text input.', unit: 'USD per 1M tokens', examples: [2.5] }),
    cachedInput: perMillion('Cached input. Absent: `input`.', 1.25),
    cachedAudioInput: perMillion('Cached audio input (Realtime models). Absent: `cachedInput`.', 0.4),
    cachedImageInput: perMillion('Cached image input (Realtime models). Absent: `cachedInput`.', 0.5),
    output: usdPerMillion
      .default(0)
      .meta({ description: 'Text output, reasoning included.', unit: 'USD per 1M tokens', examples: [10] }),
    audioInput: perMillion('Audio input. Absent: `input`.', 32),
    audioOutput: perMillion('Audio output. Absent: `output`.', 64),
    imageInput: perMillion('Image input. Absent: `input`.', 10),
    imageOutput: perMillion('Image output. Absent: `output`.', 40),
    cacheWrite: perMillion(
      'Cache writes (input tokens written to the prompt cache), where the model prices them.',
      3.75,
    ),
    longContext: z
      .array(
        z
          .object({
            fromInputTokens: z
              .number()
              .int()
              .nonnegative()
              .meta({ description: 'The tier starts at this many input tokens.', unit: 'tokens', examples: [272000] }),
            input: perMillion('Text input in this tier. Absent: the standard `input`.', 5),
            cachedInput: perMillion('Cached input in this tier. Absent: the standard `cachedInput`.', 0.5),
            cacheWrite: perMillion('Cache writes in this tier. Absent: the standard `cacheWrite`.', 7.5),
            output: perMillion('Text output in this tier. Absent: the standard `output`.', 22.5),
            audioInput: perMillion('Audio input in this tier. Absent: the standard `audioInput`.', 64),
            audioOutput: perMillion('Audio output in this tier. Absent: the standard `audioOutput`.', 128),
            imageInput: perMillion('Image input in this tier. Absent: the standard `imageInput`.', 20),
            imageOutput: perMillion('Image output in this tier. Absent: the standard `imageOutput`.', 80),
          })
          .strict(),
      )
      .optional()
      .meta({
        description:
          "Long-context tiers: from `fromInputTokens` input tokens on, the whole request is billed at the tier's prices (each absent one keeps the standard price), as OpenAI bills gpt-5.4 above 272K.",
      }),
    webSearch: z
      .number()
      .nonnegative()
      .optional()
      .meta({
        description: "The built-in web search tool's fee. Absent: OpenAI's list fee.",
        unit: 'USD per 1,000 calls',
        examples: [10],
      }),
    fileSearch: z
      .number()
      .nonnegative()
      .optional()
      .meta({
        description: "The built-in file search tool's fee. Absent: OpenAI's list fee.",
        unit: 'USD per 1,000 calls',
        examples: [2.5],
      }),
    perMinute: z
      .number()
      .nonnegative()
      .optional()
      .meta({ description: 'Audio priced by duration (whisper-1).', unit: 'USD per minute', examples: [0.006] }),
    perHour: z
      .number()
      .nonnegative()
      .optional()
      .meta({
        description:
          "Input audio priced by duration, the price source's unit for whisper; `perMinute` wins when both are set.",
        unit: 'USD per hour',
        examples: [0.36],
      }),
    contextWindow: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .meta({
        description: "The model's context window, for holds. Absent: the price source's.",
        unit: 'tokens',
        examples: [1050000],
      }),
    maxOutputTokens: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .meta({
        description:
          "The model's largest output, for holds of requests without an output limit. Absent: the price source's.",
        unit: 'tokens',
        examples: [128000],
      }),
    perMillionCharacters: usdPerMillion.optional().meta({
      description: 'Speech priced by input characters (tts-1).',
      unit: 'USD per 1M characters',
      examples: [15],
    }),
    perImage: z
      .record(
        z
          .string()
          .regex(/^\d+x\d+\/[a-z]+$/, 'expected "<width>x<height>/<quality>"')
          .meta({ title: 'size/quality' }),
        z.number().nonnegative(),
      )
      .optional()
      .meta({
        description: 'Images priced per image (DALL·E), by `"<size>/<quality>"`.',
        unit: 'USD per image',
        examples: [{ '1024x1024/standard': 0.04, '1024x1024/hd': 0.08 }],
      }),
    training: perMillion("Fine-tuning: the job's `trained_tokens`.", 25),
    perSecond: z
      .union([
        z.number().nonnegative(),
        z.record(
          z
            .string()
            .regex(/^(\d+x\d+|default)$/, 'expected "<width>x<height>" or "default"')
            .meta({ title: 'size' }),
          z.number().nonnegative(),
        ),
      ])
      .optional()
      .meta({
        description: 'Video: one price, or one per `size` with `default` for the sizes not named.',
        unit: 'USD per second of video',
        examples: [{ '720x1280': 0.3, '1024x1792': 0.5 }],
      }),
    batchDiscount: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .meta({
        description:
          'The fraction taken off for the Batch API, and for `service_tier: "flex"` (billed at Batch rates).',
        unit: 'fraction',
        examples: [0],
      }),
    priority: z
      .object({
        input: usdPerMillion.meta({ description: 'Text input.', unit: 'USD per 1M tokens', examples: [4.25] }),
        cachedInput: perMillion('Cached input. Absent: `input`.', 2.125),
        output: usdPerMillion.meta({ description: 'Text output.', unit: 'USD per 1M tokens', examples: [17] }),
      })
      .strict()
      .optional()
      .meta({
        description:
          'Token prices for `service_tier: "priority"`. Absent: a request the upstream ran at priority is billed at standard prices and its row says `priority_billed_at_standard`.',
      }),
    effectiveFrom: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD')
      .optional()
      .meta({
        description: 'The UTC day from which this price replaces an older one.',
        format: 'date',
        examples: ['2027-01-01'],
      }),
    source: z
      .string()
      .min(1)
      .meta({ description: 'Where the price was read.', examples: ['https://platform.openai.com/docs/pricing'] }),
    date: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD')
      .meta({ description: 'When it was read.', format: 'date', examples: ['2026-11-30'] }),
  })
  .strict()
  .meta({
    id: 'Price',
    description:
      'One price of a model, in USD per 1M tokens unless named otherwise, with where and when it was read. Token prices left out fall back as stated; a model billed in other units needs its own.',
  });

/**
 * Models a company may call although tollgate has no price for them, at an explicit fallback
 * price: `models` are names or patterns (`*` matches any run of characters, `ft:*:acme::*`); the
 * first entry naming a model applies. Rows billed so say `price_source = 'fallback'`.
 */
export const fallbackPriceSchema = z
  .object({
    models: z
      .array(z.string().regex(/^[A-Za-z0-9*][A-Za-z0-9._:*\/-]{0,127}$/, 'expected a model name or a pattern with *'))
      .min(1)
      .meta({
        description: 'Model names or patterns (`*` matches any run of characters).',
        examples: [['ft:*:acme::*', 'acme-model-1']],
      }),
    price: priceSchema.meta({ description: 'What the models named are billed at.' }),
  })
  .strict()
  .meta({ description: 'An unpriced model (or pattern) this company may call, and the price it is billed at.' });

/** A feature rate: requests naming the feature have their metered tokens multiplied. */
export const featureSchema = z
  .object({
    multiplier: z
      .number()
      .positive()
      .max(1000)
      .meta({
        description:
          "What a request's metered tokens (held, and charged to token grants and quotas) are multiplied by; its USD cost stays the real cost.",
        examples: [2.5],
      }),
    description: z
      .string()
      .optional()
      .meta({ description: 'What the feature is, for people.', examples: ['chatbot responses'] }),
  })
  .strict()
  .meta({ description: 'A request chooses one with the `x-tollgate-feature` header.' });
