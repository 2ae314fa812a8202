import { describe, expect, it } from 'vitest';
import { estimateRequest } from '../src/metering/estimate.js';
import { parseUsage } from '../src/metering/usage.js';
import { costNanoUsd, PriceBook } from '../src/pricing/price.js';
import { toolAllowance, toolFeesNano, toolPlanOf } from '../src/pricing/tool-fees.js';
import { loadRecordings, sseData, type Recording } from './support/fixtures.js';
import { recordedServiceTier, recordedToolCalls } from './support/recorded-billing.js';

/**
 * The admission estimate against what OpenAI reported, for every recording: prompt counts within
 * ±2% (or one token on prompts under 50 tokens) for text requests, and the cost to the nano-dollar.
 */
const recordings = loadRecordings();
const book = new PriceBook({});

/** The recorded `prompt_tokens` / `input_tokens` of a response (JSON body, or the last usage of a stream). */
function recordedPrompt(rec: Recording): number | undefined {
  let usage: unknown;
  if (rec.response.body_text === undefined) usage = (rec.response.body as { usage?: unknown } | undefined)?.usage;
  else {
    for (const d of sseData(rec.response.body_text)) {
      if (!d.startsWith('{')) continue;
      const j = JSON.parse(d) as { usage?: unknown; response?: { usage?: unknown } };
      usage = j.usage ?? j.response?.usage ?? usage;
    }
  }
  return parseUsage(usage)?.inputTokens;
}

const within = (estimate: number, recorded: number) =>
  recorded < 50 ? Math.abs(estimate - recorded) <= 1 : Math.abs(estimate - recorded) <= 0.02 * recorded;

/**
 * Text requests whose count rests on a rule OpenAI does not publish, with the error measured
 * (docs/budgets.md, "Counting the prompt"). The test pins them so a change that worsens them fails.
 */
const UNPUBLISHED: Record<string, { bound: number; why: string }> = {
  'chat-jsonschema-01': {
    bound: 0.04,
    why: 'json_schema response formats: no published rule; the schema text over-counts by 4 tokens (+3.1%)',
  },
  'chat-tools-multiturn-03': {
    bound: 0.16,
    why: 'gpt-5-nano tool calls and results (harmony format): no published rule (−14.5%)',
  },
  'responses-tools-multiturn-01': {
    bound: 0.7,
    why: 'a March 2025 Responses exchange with a strict function tool: 211 input tokens the request does not show (−67.6%)',
  },
};

/** Requests that are not plain text: images by URL (worst case assumed) and built-in tools (allowance). */
const NOT_TEXT = new Set(['chat-image-04', 'responses-websearch-02']);

/** The exact cost of each recording in nano-USD, computed by hand from OpenAI's prices (see each comment). */
const EXPECTED_NANO: Record<string, number> = {
  'chat-developer-01': 178500, // gpt-3.5-turbo $0.50/$1.50: 108 in, 83 out
  'chat-image-01': 2145600, // gpt-4o-mini $0.15/$0.60: 14184 in, 30 out
  'chat-image-04': 3345000, // gpt-4o $2.50/$10: 1118 in, 55 out
  'chat-jsonschema-01': 1247500, // gpt-4o: 127 in, 93 out
  'chat-nonstream-01': 15000, // gpt-3.5-turbo: 18 in, 4 out
  'chat-nonstream-03': 2610000, // gpt-4o, cached $1.25: 1220 in (1152 cached), 100 out
  'chat-priority-01': 1660000, // gpt-5 priority $2.50/$20: 8 in, 82 out
  'chat-stream-usage-01': 16950, // gpt-4o-mini: 53 in, 15 out
  'chat-stream-usage-02': 2950000, // gpt-4o: 1420 in (1280 cached), 100 out
  'chat-tools-multiturn-01': 835000, // gpt-4o: 174 in, 40 out
  'chat-tools-multiturn-03': 831250, // gpt-5-nano $0.05/$0.40: 537 in, 2011 out
  'completions-nonstream-01': 39000, // gpt-3.5-turbo-instruct $1.50/$2: 10 in, 12 out
  'embeddings-01': 40, // text-embedding-3-small $0.02: 2 tokens (0.04 micro-USD)
  'embeddings-02': 200, // text-embedding-ada-002 $0.10: 2 tokens
  'embeddings-03': 11300, // text-embedding-ada-002: 113 tokens
  'responses-flex-01': 2378125, // gpt-5 flex = half of $1.25/$10: 53 in, 469 out
  'responses-nonstream-01': 341500, // gpt-5-mini $0.25/$2: 54 in, 164 out
  'responses-nonstream-02': 2130000, // gpt-4o: 1515 in (1390 cached), 8 out
  'responses-stream-01': 114000, // gpt-4.1 $2/$8: 9 in, 12 out
  'responses-stream-03': 2130000, // gpt-4o: 1515 in (1390 cached), 8 out
  'responses-tools-multiturn-01': 920000, // gpt-4o: 312 in, 14 out
  'responses-websearch-02': 30838000, // gpt-4.1: 319 in, 650 out, + one web_search_preview call on a non-reasoning model ($0.025)
};

describe('admission estimate against the recorded prompt', () => {
  const text = recordings.filter((r) => r.request.body && r.response.status < 400 && recordedPrompt(r) !== undefined);

  it('covers the recorded text requests', () => {
    expect(text.length).toBeGreaterThanOrEqual(20);
  });

  for (const rec of text) {
    it(rec.name, () => {
      const body = rec.request.body!;
      const model = String(body.model);
      const recorded = recordedPrompt(rec)!;
      const estimate = estimateRequest(rec.request.path, model, body).promptTokens;
      const error = (estimate - recorded) / recorded;
      if (rec.name === 'chat-image-04') {
        // An image by URL: its size is unknown, so the model's worst case is held, never less.
        expect(estimate).toBeGreaterThanOrEqual(recorded);
      } else if (NOT_TEXT.has(rec.name)) {
        // Built-in tools add input no count can see: the allowance must cover it.
        const { inputTokens } = toolAllowance(model, toolPlanOf(model, body), body);
        expect(estimate + inputTokens).toBeGreaterThanOrEqual(recorded);
      } else if (UNPUBLISHED[rec.name]) {
        expect(Math.abs(error), UNPUBLISHED[rec.name]!.why).toBeLessThanOrEqual(UNPUBLISHED[rec.name]!.bound);
      } else {
        expect(
          within(estimate, recorded),
          `estimate ${estimate}, recorded ${recorded} (${(error * 100).toFixed(1)}%)`,
        ).toBe(true);
      }
    });
  }
});

describe('cost of every recording to the nano-dollar', () => {
  const priced = recordings.filter((r) => r.request.body && r.response.status < 400 && recordedPrompt(r) !== undefined);

  it('has an expected cost for every recording with usage', () => {
    expect(priced.map((r) => r.name).sort()).toEqual(Object.keys(EXPECTED_NANO).sort());
  });

  for (const rec of priced) {
    it(rec.name, () => {
      const body = rec.request.body!;
      const model = String(body.model);
      let usage: unknown;
      if (rec.response.body_text === undefined) usage = (rec.response.body as { usage?: unknown }).usage;
      else
        for (const d of sseData(rec.response.body_text))
          if (d.startsWith('{'))
            usage =
              (JSON.parse(d) as { usage?: unknown; response?: { usage?: unknown } }).usage ??
              (JSON.parse(d) as { response?: { usage?: unknown } }).response?.usage ??
              usage;
      const { price } = book.find(model, new Date())!;
      const fees = toolFeesNano(model, toolPlanOf(model, body), recordedToolCalls(rec));
      expect(costNanoUsd(parseUsage(usage)!, price, recordedServiceTier(rec), fees)).toBe(EXPECTED_NANO[rec.name]);
    });
  }
});
