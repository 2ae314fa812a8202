/**
 * The reconciliation report: tollgate's ledger compared with OpenAI's usage and costs, as
 * `tollgate reconcile --format json` prints it, the ledger stores it and the dashboard reads it.
 * Measures carry the Admin API's field names; tokens and units are integers, money integer nano-USD
 * (1 USD = 1e9), days UTC (`YYYY-MM-DD`).
 */

/**
 * What is compared, by the Admin API's names (openai/openai-openapi, `UsageCompletionsResult` and
 * siblings): `input_audio_tokens` / `input_image_tokens` count cached ones too (OpenAI's
 * `input_*_tokens` + `input_cached_*_tokens`); `cost_nano_usd` is the costs API's `amount.value`.
 */
export const MEASURES = [
  'num_model_requests',
  'input_tokens',
  'input_cached_tokens',
  'output_tokens',
  'input_audio_tokens',
  'output_audio_tokens',
  'input_image_tokens',
  'output_image_tokens',
  'images',
  'characters',
  'seconds',
  'cost_nano_usd',
] as const;
export type MeasureName = (typeof MEASURES)[number];
export type Measures = Record<MeasureName, number>;

/** The measures in tokens (what the threshold's `tokens` floor applies to). */
export const TOKEN_MEASURES: readonly MeasureName[] = MEASURES.filter((m) => m.endsWith('_tokens'));

/** Every measure at 0. */
export const noMeasures = (): Measures => Object.fromEntries(MEASURES.map((m) => [m, 0])) as Measures;

/** The dimensions a report can group by: UTC day, model (snapshot dates folded into the alias), OpenAI project, API key. */
export const DIMENSIONS = ['day', 'model', 'project', 'key'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** One measure of one line on both sides. `drift` = ledger − OpenAI. */
export interface Comparison {
  name: MeasureName;
  ledger: number;
  openai: number;
  drift: number;
  /** `drift` in % of OpenAI's figure (2 decimals); null when OpenAI's is 0 and the ledger's is not. */
  driftPercent: number | null;
  /** Whether the threshold applies to it (requests never: a batch is one ledger row but many model requests). */
  judged: boolean;
  over: boolean;
}

/**
 * How a line compares:
 * - `match`: every measure equal (cost within the rounding bound);
 * - `drift`: tollgate's figures differ from OpenAI's in a way traffic around tollgate cannot explain
 *   (the ledger has more, or the compared key is tollgate's alone);
 * - `unmatched`: OpenAI has more, on a project or organization other clients may share;
 * - `ledger_only`: OpenAI shows nothing for it (drift);
 * - `openai_only`: the ledger has nothing for it: traffic that did not go through tollgate, or a
 *   path tollgate did not meter (never drift).
 */
export type LineStatus = 'match' | 'drift' | 'unmatched' | 'ledger_only' | 'openai_only';

/** One group of the comparison. A dimension the report does not group by is null. */
export interface Line {
  day: string | null;
  model: string | null;
  projectId: string | null;
  apiKeyId: string | null;
  /** Its figures may still change: the current UTC day, or a day with requests still open in the ledger. */
  provisional: boolean;
  status: LineStatus;
  /** Beyond the threshold on a judged measure, on a day that is not provisional. */
  over: boolean;
  /** The judged measure that drifts most, in % (signed); null when OpenAI has none of it. For the daily drift chart. */
  driftPercent: number | null;
  /** Ledger rows whose usage tollgate estimated (the upstream's usage never arrived). */
  estimatedRows: number;
  /** The measures either side has (non-zero on one side at least), in `MEASURES` order. */
  measures: Comparison[];
}

/** Usage OpenAI reports on projects or keys that are not tollgate's upstream key: not compared. */
export interface OutsideLine {
  projectId: string | null;
  apiKeyId: string | null;
  num_model_requests: number;
  input_tokens: number;
  output_tokens: number;
  cost_nano_usd: number;
}

/** What OpenAI bills that tollgate does not meter per request (vector store bytes, code interpreter sessions), per day and project. */
export interface OtherUsage {
  day: string;
  projectId: string | null;
  /** `vector_stores` (`usage_bytes`) or `code_interpreter_sessions` (`num_sessions`). */
  kind: 'vector_stores' | 'code_interpreter_sessions';
  value: number;
}

/** Which OpenAI project and key tollgate's upstream key is (from the config's `reconciliation.upstreamKeys`). */
export interface Scope {
  /** The environment variable of tollgate's upstream key (`upstream.apiKeyEnv`). */
  upstreamKey: string;
  projectId: string | null;
  apiKeyId: string | null;
  /** Only tollgate uses what is compared (an API key is mapped): then OpenAI having more is drift too. */
  exclusive: boolean;
}

/** The threshold: a judged measure is over it when its drift exceeds both `percent` % of OpenAI's figure and its floor. */
export interface Threshold {
  percent: number;
  /** Floor for token measures (tokens). */
  tokens: number;
  /** Floor for cost (USD). */
  usd: number;
}

export interface ReconciliationReport {
  object: 'tollgate.reconciliation';
  /** First and last UTC day compared, both included. */
  from: string;
  to: string;
  /** ISO 8601 UTC. */
  generatedAt: string;
  groupBy: Dimension[];
  scope: Scope;
  threshold: Threshold;
  lines: Line[];
  /**
   * Cost per day (and project / key when grouped so), judged: the costs API has no model
   * dimension, so per-model cost in `lines` comes from line items and is shown, not judged. Empty
   * when `lines` are not per model (they judge cost themselves).
   */
  days: Line[];
  /** Every line summed (not judged). */
  total: Line;
  outside: OutsideLine[];
  other: OtherUsage[];
  /** What the operator should know to read it: mappings that would separate traffic, limits met. */
  notes: string[];
  summary: {
    lines: number;
    match: number;
    drift: number;
    unmatched: number;
    ledgerOnly: number;
    openaiOnly: number;
    /** Lines and days beyond the threshold (the command exits 1 when > 0). */
    over: number;
    provisionalDays: string[];
  };
}
