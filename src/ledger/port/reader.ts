import type { CounterState, MirroredGrant } from './writer.js';
import type { AlertRecord } from './stores.js';

/** The ledger port's reads for reports, the read API, the dashboard and the CLI (see ../port.ts). */

/** Which rows a report reads; every given field must match exactly. Rows still `held` are always left out. */
export interface RequestFilter {
  companyId?: string;
  /** The end user named by the caller's token. */
  userId?: string;
  /** The company key the request came with. */
  keyId?: string;
  /** The model as the caller asked for it. */
  model?: string;
  /** The endpoint, e.g. `/v1/chat/completions`. */
  endpoint?: string;
  /** The `x-tollgate-feature` header. */
  feature?: string;
  /** The end user the request was made for (`requests.end_user`: the app's `safety_identifier` or `user`, as the ledger stores it). */
  endUser?: string;
  /** A spend tag: rows whose `requests.tags` hold it (among others). */
  tag?: string;
  /** ISO 8601 UTC instants compared with the admission time: `since` inclusive, `until` exclusive. */
  since?: string;
  until?: string;
}

/**
 * How usage rows are grouped. `user` and `end_user` group by company and user; `day` and `hour` are
 * UTC. `tag` gives one group per spend tag: a row with several tags counts in each of its tags'
 * groups (so the groups sum to more than the total), a row without tags in the null group.
 */
export const GROUP_BYS = ['none', 'company', 'user', 'model', 'endpoint', 'day', 'hour', 'tag', 'end_user'] as const;
export type GroupBy = (typeof GROUP_BYS)[number];

/** One group of usage. Tokens as OpenAI reported them (cached in input, reasoning in output); cost integer micro-USD. */
export interface UsageRow {
  /** The group's value (company, user, model, endpoint, `2026-11-24` day or `2026-11-24T10:00Z` hour (UTC), tag, end user); null for `none` or a missing field (untagged rows for `tag`). */
  key: string | null;
  /** The company, when grouping by user or end user; otherwise null. */
  companyId: string | null;
  requests: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  totalTokens: number;
  costMicroUsd: number;
  /** Requests that failed: HTTP status ≥ 400, or voided. */
  errors: number;
  /** Mean latency in ms (0.1 ms precision); null when no row has one. */
  avgLatencyMs: number | null;
}

/** One finished request, as the usage log, the history and the export read it. Tokens, micro-USD, ms, UTC. */
export interface RequestRow {
  id: string;
  /** Admission instant, ISO 8601 UTC. */
  createdAt: string;
  companyId: string;
  userId: string | null;
  keyId: string | null;
  endpoint: string;
  requestedModel: string | null;
  returnedModel: string | null;
  feature: string | null;
  /** The end user the request was made for, as stored (sent or hashed); null when none. */
  endUser: string | null;
  /** Its spend tags, in the order recorded; empty when none. */
  tags: string[];
  stream: boolean;
  status: 'settled' | 'voided' | 'interrupted';
  httpStatus: number | null;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  totalTokens: number;
  meteredTokens: number;
  costMicroUsd: number;
  usageSource: string | null;
  latencyMs: number | null;
  errorCode: string | null;
}

/** A recent row with the company's tokens left right after it (see `LedgerReader.recent`). */
export interface RecentRow extends RequestRow {
  /** Null when more than 20,000 newer rows of the company would have to be replayed (a filtered history reaching far back). */
  remainingTokens: number | null;
}

/** Where a grant's tokens came from (the config's `purchases` entry it names). */
export interface PurchaseRef {
  id: string;
  provider: string;
  /** Purchase date, `YYYY-MM-DD`. */
  date: string;
}

/** One broken invariant: which check, which rows, and what was found. */
export interface Finding {
  check: string;
  /** `error` breaks an invariant; `warning` is legal but needs attention (open holds of a stopped proxy). */
  severity: 'error' | 'warning';
  /** The offending rows: request ids, grant ids, or `request/grant` pairs. */
  rows: string[];
  detail: string;
}

/** Settled rows grouped by the model asked for, the company, and the price version they were billed under. */
export interface PriceVersionRow {
  model: string | null;
  companyId: string;
  /** `<priced name>@<origin>#<content hash>`, with `/priority` or `/flex` after it for those tiers; null when unpriced. */
  priceVersion: string | null;
  requests: number;
}

/**
 * A page of a grouped usage report, in the report's order (by key; by tokens with `top`): the
 * groups after the first `offset` (default 0), at most `limit` of them (default all; with `top`,
 * `top` is the page's size).
 */
export interface UsagePage {
  offset?: number;
  limit?: number;
}

/** Reads for reports, the read API and the CLI. Never writes. */
export interface LedgerReader {
  /** The price versions the settled rows matching `filter` were billed under (`tollgate prices check`), sorted by model, company, version. */
  priceVersions(filter: RequestFilter): Promise<PriceVersionRow[]>;
  /**
   * Usage summed per group over the rows matching `filter` (one all-zero row for `none` when nothing
   * matches), from the rollups for whole UTC hours and days and from the raw rows for the rest;
   * with `top`, only the `top` groups with the most tokens, those first; with `page`, a page of the
   * groups in that order (by tokens with `top`, else by key).
   * @throws ReadTimeoutError past the reader's time budget.
   */
  usage(filter: RequestFilter, groupBy: GroupBy, top?: number, page?: UsagePage): Promise<UsageRow[]>;
  /** The rows matching `filter`, oldest first (all in memory: for small sets; `exportRows` streams). */
  rows(filter: RequestFilter): Promise<RequestRow[]>;
  /**
   * The rows matching `filter`, oldest first, in pages of `pageSize` rows (default 1,000): each page
   * is read when the previous one was consumed, so an export of any size holds one page in memory.
   */
  exportRows(filter: RequestFilter, pageSize?: number): AsyncIterable<RequestRow[]>;
  /**
   * The newest `limit` rows matching `filter`, newest first, each with the company's tokens left
   * right after it: the tokens left now on its active limited tokens grants plus what every newer
   * row of the company (matching the filter or not) debited from those grants — null when more
   * than 20,000 newer rows of the company stand between it and now. Reads in proportion to the
   * rows returned (and, for a filter on more than the company, the hours holding them), not to the
   * ledger's size.
   */
  recent(filter: RequestFilter, limit: number, now: Date): Promise<RecentRow[]>;
  /** Companies with a grant still in the config, sorted. */
  companies(): Promise<string[]>;
  /** Purchase records by id (those named; absent ids are left out). */
  purchases(ids: string[]): Promise<PurchaseRef[]>;
  /** Every grant ever mirrored (removed ones too), by company then id. */
  grants(): Promise<MirroredGrant[]>;
  /** Rows still `held` right now. */
  openHolds(): Promise<number>;
  /**
   * The tokens an earlier turn carries into a request that continues it (Responses'
   * `previous_response_id` or `conversation`): the input + output tokens of the row that billed
   * response `ref.responseId`, else of the newest settled row of conversation `ref.conversationId`,
   * among `companyId`'s rows only. Undefined when no such row was recorded.
   */
  contextTokens(companyId: string, ref: { responseId?: string; conversationId?: string }): Promise<number | undefined>;
  /** Checks every invariant; empty when the ledger is sound. Each finding names up to 20 rows in `detail`. */
  verify(): Promise<Finding[]>;
  /** The quota counters with these ids (a window nothing was charged to yet has none, and is left out). For the dashboard's quota cards. */
  quotaCounters(ids: string[]): Promise<CounterState[]>;
  /** Rows still `held` right now, per company (companies with none left out). */
  openHoldsByCompany(): Promise<Record<string, number>>;
  /** The company's most recent alerts, newest first, at most `limit`. */
  recentAlerts(companyId: string, limit: number): Promise<AlertRecord[]>;
}

/**
 * A read that did not finish within its time budget (a report over too much data, or too many
 * reports at once): nothing is wrong with the request or the ledger, so the read API answers 503
 * and the caller may retry. `budgetMs` is the budget it ran past (ms).
 */
export class ReadTimeoutError extends Error {
  constructor(readonly budgetMs: number) {
    super(`the ledger read did not finish within ${budgetMs} ms`);
    this.name = 'ReadTimeoutError';
  }
}
