import type { LedgerDayUsage } from '../ledger/port.js';
import { AdminApiError, type AdminApi, type Bucket, USAGE_KINDS } from './admin-api.js';
import { nanoUsdOf } from './decimal.js';
import { type MeasureName, MEASURES, type Measures, noMeasures, type OtherUsage } from './report.js';

/**
 * Both sides turned into the same facts: one UTC day's measures for one model on one OpenAI
 * project and API key. OpenAI's come from the Admin API's results (field names as documented in
 * openai/openai-openapi), the ledger's from `LedgerDayUsage`.
 */
export interface Fact {
  day: string;
  /** The model, its snapshot date folded (`gpt-4o-2024-08-06` → `gpt-4o`); null when none is named. */
  model: string | null;
  projectId: string | null;
  apiKeyId: string | null;
  measures: Measures;
  /** Cost amounts summed into it (each rounded to the nano-USD: the rounding bound). */
  amounts: number;
  /** Ledger rows whose usage was estimated (0 on OpenAI's side). */
  estimatedRows: number;
}

/** What OpenAI reported over a range. */
export interface OpenAiSide {
  facts: Fact[];
  other: OtherUsage[];
  /** Currencies other than USD met in costs (those amounts are left out). */
  otherCurrencies: string[];
}

/** A model's name for comparison: a trailing snapshot date (`-2024-08-06`) removed, so a request for the alias and OpenAI's dated report meet. */
export function modelKey(model: string | null | undefined): string | null {
  if (model === null || model === undefined || model === '') return null;
  return model.replace(/-\d{4}-\d{2}-\d{2}$/, '');
}

/**
 * The model a costs line item names: `gpt-4o-mini-2024-07-18, input` → `gpt-4o-mini` (the form
 * OpenAI's line items take; the spec documents `line_item` only as a string), or an item that is
 * itself one of `known` models; null for items that name none (tool calls, storage).
 */
export function lineItemModel(item: unknown, known: ReadonlySet<string>): string | null {
  if (typeof item !== 'string') return null;
  const comma = item.indexOf(', ');
  if (comma > 0) return modelKey(item.slice(0, comma));
  const whole = modelKey(item.trim());
  return whole !== null && known.has(whole) ? whole : null;
}

/** The UTC day of a unix-seconds instant. */
export const dayOf = (unixSeconds: number): string => new Date(unixSeconds * 1000).toISOString().slice(0, 10);

function count(r: Record<string, unknown>, field: string): number {
  const v = r[field];
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  throw new AdminApiError(
    `OpenAI's ${String(r.object)} has a ${field} that is not a count: ${JSON.stringify(v)}`,
    200,
    'bad_response',
  );
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** A usage result's measures (see `MEASURES`: audio and image input include their cached parts). */
function usageMeasures(r: Record<string, unknown>): Measures {
  const m = noMeasures();
  m.num_model_requests = count(r, 'num_model_requests');
  m.input_tokens = count(r, 'input_tokens');
  m.input_cached_tokens = count(r, 'input_cached_tokens');
  m.output_tokens = count(r, 'output_tokens');
  m.input_audio_tokens = count(r, 'input_audio_tokens') + count(r, 'input_cached_audio_tokens');
  m.output_audio_tokens = count(r, 'output_audio_tokens');
  m.input_image_tokens = count(r, 'input_image_tokens') + count(r, 'input_cached_image_tokens');
  m.output_image_tokens = count(r, 'output_image_tokens');
  m.images = count(r, 'images');
  m.characters = count(r, 'characters');
  m.seconds = count(r, 'seconds');
  return m;
}

/** Reads every usage endpoint, then the costs, over [startTime, endTime) (unix seconds, whole UTC days), grouped by model, project and key. */
export async function readOpenAi(api: AdminApi, startTime: number, endTime: number): Promise<OpenAiSide> {
  const groupBy = ['model', 'project_id', 'api_key_id'];
  // One endpoint at a time: the Admin API's rate limit is the organization's, shared with its other tools.
  const usage: { kind: (typeof USAGE_KINDS)[number]; buckets: Bucket[] }[] = [];
  for (const kind of USAGE_KINDS)
    usage.push({ kind, buckets: await api.usage(kind, { startTime, endTime, bucketWidth: '1d', groupBy }) });
  const costs = await api.costs({ startTime, endTime, groupBy: ['line_item', 'project_id', 'api_key_id'] });
  const facts: Fact[] = [];
  const other: OtherUsage[] = [];
  const fact = (b: Bucket, r: Record<string, unknown>, model: string | null, measures: Measures, amounts = 0) =>
    facts.push({
      day: dayOf(b.startTime),
      model,
      projectId: str(r.project_id),
      apiKeyId: str(r.api_key_id),
      measures,
      amounts,
      estimatedRows: 0,
    });
  for (const { kind, buckets } of usage)
    for (const b of buckets)
      for (const r of b.results) {
        if (kind === 'vector_stores' || kind === 'code_interpreter_sessions') {
          const value = count(r, kind === 'vector_stores' ? 'usage_bytes' : 'num_sessions');
          if (value > 0) other.push({ day: dayOf(b.startTime), projectId: str(r.project_id), kind, value });
        } else fact(b, r, modelKey(str(r.model)), usageMeasures(r));
      }
  const known = new Set(facts.map((f) => f.model).filter((m): m is string => m !== null));
  const otherCurrencies = new Set<string>();
  for (const b of costs)
    for (const r of b.results) {
      const amount = r.amount as { value?: unknown; currency?: unknown } | undefined;
      if (amount?.value === undefined || amount.value === null) continue;
      const currency = String(amount.currency ?? 'usd').toLowerCase();
      if (currency !== 'usd') {
        otherCurrencies.add(currency);
        continue;
      }
      let nano: number;
      try {
        nano = nanoUsdOf(String(amount.value));
      } catch (err) {
        throw new AdminApiError(
          `OpenAI's costs have an amount that is not a number: ${(err as Error).message}`,
          200,
          'bad_response',
        );
      }
      const m = noMeasures();
      m.cost_nano_usd = nano;
      fact(b, r, lineItemModel(r.line_item, known), m, 1);
    }
  return { facts, other, otherCurrencies: [...otherCurrencies] };
}

/** Which `LedgerDayUsage` field each measure is read from. */
const FROM_LEDGER: Record<MeasureName, keyof LedgerDayUsage> = {
  num_model_requests: 'requests',
  input_tokens: 'inputTokens',
  input_cached_tokens: 'cachedInputTokens',
  output_tokens: 'outputTokens',
  input_audio_tokens: 'audioInputTokens',
  output_audio_tokens: 'audioOutputTokens',
  input_image_tokens: 'imageInputTokens',
  output_image_tokens: 'imageOutputTokens',
  images: 'images',
  characters: 'characters',
  seconds: 'seconds',
  cost_nano_usd: 'costNanoUsd',
};

/** The ledger's groups as facts on tollgate's project and key (as mapped; null when not). */
export function ledgerFacts(days: LedgerDayUsage[], projectId: string | null, apiKeyId: string | null): Fact[] {
  return days.map((d) => {
    const m = noMeasures();
    for (const name of MEASURES) m[name] = Number(d[FROM_LEDGER[name]]);
    return {
      day: d.day,
      model: modelKey(d.model),
      projectId,
      apiKeyId,
      measures: m,
      amounts: 0,
      estimatedRows: d.estimatedRows,
    };
  });
}
