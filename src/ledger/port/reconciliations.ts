/**
 * The ledger port's reconciliation store: what the ledger recorded per UTC day and model, read for a
 * comparison with OpenAI's own usage and costs (src/reconcile/), and the results of each comparison
 * (see ../port.ts). Tokens are integers, money integer nano-USD (1 USD = 1e9), instants ISO 8601 UTC.
 */

/** One UTC day × model group of the ledger's finished requests (rows still `held` are left out). */
export interface LedgerDayUsage {
  /** The admission instant's UTC day, `YYYY-MM-DD`. */
  day: string;
  /** The model the upstream answered with, else the one asked for; null when the row names none. */
  model: string | null;
  /** Rows that metered anything (tokens, other units or a cost). */
  requests: number;
  /** `input_tokens` as OpenAI reports them (cached tokens included). */
  inputTokens: number;
  cachedInputTokens: number;
  /** `output_tokens` (reasoning tokens included). */
  outputTokens: number;
  /** Parts of input / output in audio and images (from the rows' `units`; 0 for rows settled before it was recorded). */
  audioInputTokens: number;
  audioOutputTokens: number;
  imageInputTokens: number;
  imageOutputTokens: number;
  /** Non-token units: images generated (DALL·E), characters spoken (tts), seconds transcribed (whisper). */
  images: number;
  characters: number;
  seconds: number;
  /** Σ of the rows' exact cost, nano-USD. */
  costNanoUsd: number;
  /** Rows whose usage tollgate estimated because the upstream's never arrived (a cut stream): they explain drift. */
  estimatedRows: number;
}

/** Rows still `held` (in flight, or waiting on a batch or background response) on one UTC day. */
export interface HeldOnDay {
  day: string;
  rows: number;
}

/** What the ledger recorded over a time range, for reconciliation. */
export interface LedgerUsageRange {
  days: LedgerDayUsage[];
  held: HeldOnDay[];
}

/** How a reconciliation run ended: `ok` (within the threshold), `drift` (beyond it), `failed` (see `error`). */
export type ReconciliationStatus = 'running' | 'ok' | 'drift' | 'failed';

/** One reconciliation run, as stored. */
export interface ReconciliationRecord {
  /** `rec_<…>` for a run from the command line, `daily:<YYYY-MM-DD>` for the scheduled run of that UTC day. */
  id: string;
  /** What started it. */
  trigger: 'cli' | 'schedule';
  /** ISO 8601 UTC. */
  startedAt: string;
  finishedAt: string | null;
  /** First and last UTC day compared, `YYYY-MM-DD`, both included. */
  fromDay: string;
  toDay: string;
  status: ReconciliationStatus;
  /** The report as JSON (`ReconciliationReport`, src/reconcile/report.ts); null while running or when failed. */
  report: string | null;
  /** Why the run failed (never a credential); null otherwise. */
  error: string | null;
}

/** A run to start (see `ReconciliationStore.begin`). */
export type ReconciliationStart = Pick<ReconciliationRecord, 'id' | 'trigger' | 'startedAt' | 'fromDay' | 'toDay'>;

/** How a run ended (see `ReconciliationStore.finish`). */
export type ReconciliationEnd = Pick<ReconciliationRecord, 'finishedAt' | 'status' | 'report' | 'error'> & {
  finishedAt: string;
  status: Exclude<ReconciliationStatus, 'running'>;
};

/**
 * Reconciliation with OpenAI's usage and costs (src/reconcile/): the ledger's side of the comparison,
 * and the runs' results (table `reconciliations`), shared by every process on the store.
 */
export interface ReconciliationStore {
  /**
   * The ledger's finished rows admitted in [`since`, `until`) (ISO 8601 UTC), summed per UTC day
   * and model — without rows billed elsewhere (`error_code = already_billed`: what they saw is counted
   * on the row that billed it) — and the rows still held per day.
   */
  usage(since: string, until: string): Promise<LedgerUsageRange>;
  /**
   * Records `run` as `running`. Resolves false, writing nothing, when a run with its id exists —
   * unless that one is still `running` and started before `staleBefore` (its process died): then
   * it is taken over. Across every process on the store, one `begin` of an id wins.
   */
  begin(run: ReconciliationStart, staleBefore: string): Promise<boolean>;
  /** Records how run `id` ended. */
  finish(id: string, end: ReconciliationEnd): Promise<void>;
  /** The newest `limit` runs (by `startedAt`), newest first. */
  recent(limit: number): Promise<ReconciliationRecord[]>;
}
