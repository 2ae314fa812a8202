import type { ToolCalls } from '../metering/tool-calls.js';
import type { Usage } from '../metering/usage.js';
import type { GrantState } from './allocate.js';

/**
 * The ledger port: what tollgate asks of a ledger, whatever engine stores it. One adapter per
 * engine implements it (`src/ledger/sqlite/`, `src/ledger/postgres/`); `test/ledger-contract/` is the suite every
 * adapter must pass. Nothing outside an adapter's folder knows its engine.
 *
 * What an adapter must guarantee (see src/ledger/README.md for the whole list):
 * - `admit` checks the grants and quota counters and places the hold in ONE atomic step: two
 *   admissions racing (in this process or in another sharing the store) can never both take the
 *   last tokens. A resolved `admit`/`open` means the row is durable: tollgate forwards only after.
 * - `settle` and `void` are idempotent: on a row that is no longer `held` they change nothing.
 * - Running totals (`grants.spent`/`held`, quota counters) always equal the rows they summarise.
 * - Money is integer micro-USD (1 USD = 1,000,000), tokens are integers, times are UTC instants.
 * - Calls made in one turn of the event loop are applied in call order (a client's next request is
 *   admitted after its previous one settled).
 */

/** A quota window that bounds a request, and its counter in the ledger. Limits in tokens and/or micro-USD. */
export interface QuotaCheck {
  /** The counter's id: `<scope>:<scopeId>:<window>:<windowKey>`. */
  counterId: string;
  scope: 'user' | 'key';
  /** `<company>/<user>` for users, the key id for keys. */
  scopeId: string;
  window: 'daily' | 'monthly' | 'hard' | 'session';
  /** `2026-11-22` (daily, local date), `2026-11` (monthly), `all` (hard), the session id (session). */
  windowKey: string;
  limitTokens?: number;
  limitMicroUsd?: number;
  /** When the window resets (UTC); null: never. */
  resetsAt: Date | null;
}

/** What a request asks to reserve. Tokens are the request's own (prompt + output). */
export interface HoldRequest {
  /** Tokens the request costs at the very least (its counted prompt). */
  minTokens: number;
  /** Tokens it can cost at worst (prompt + its output ceiling). */
  maxTokens: number;
  /** When the balance cannot cover `maxTokens`, hold what is left if it exceeds `minTokens`. */
  clamp: boolean;
  /** The model's highest per-token price in pico-USD (1e-12 USD), to reserve on USD grants. */
  maxPicoPerToken: number;
  /**
   * The request is priced in money only (DALL·E images, tts-1 characters): its min/max are
   * micro-USD, only USD and unlimited grants and USD quota limits can cover it, and no tokens are held.
   */
  costOnly?: boolean;
}

/** The fixed facts of a request, recorded on its row at admission. */
export interface RequestFacts {
  /** `req_` + 32 hex digits, time-ordered. */
  id: string;
  companyId: string;
  keyId: string | null;
  /** The OpenAI path (`/v1/chat/completions`), ids kept. */
  endpoint: string;
  requestedModel: string | null;
  stream: boolean;
  /** Prompt tokens counted at admission. */
  estimatedPromptTokens?: number;
  /** The Responses conversation (`conversation`) the request continues, recorded for `contextTokens`. */
  conversationId?: string | null;
  userId?: string | null;
  sessionId?: string | null;
  feature?: string | null;
  /** The caller's `X-Client-Request-Id` (at most 512 characters), kept for joining with its logs; upstream gets `id`. */
  clientRequestId?: string | null;
}

/** A quota's standing after admission: what is left of each of its limits (tokens, micro-USD). */
export interface QuotaStanding {
  check: QuotaCheck;
  remainingTokens?: number;
  remainingMicroUsd?: number;
}

/** The caller's standing after the hold, for response headers. */
export interface Standing {
  /** Tokens left on active tokens grants covering the model. */
  tokens: number;
  /** Micro-USD left on active USD grants covering the model. */
  microUsd: number;
  /** An unlimited grant covers the model. */
  unlimited: boolean;
  quotas: QuotaStanding[];
}

/**
 * Outcome of `admit`: a hold of `holdTokens` (with the standing after it), or a refusal — by the
 * grants (`balance`, with the request-tokens they had left) or by a quota (the first that could not
 * cover the request, with the request-tokens it had left).
 */
export type AdmitResult =
  | { ok: true; holdTokens: number; standing: Standing }
  | { ok: false; reason: 'balance'; availableTokens: number }
  | { ok: false; reason: 'quota'; quota: QuotaCheck; availableTokens: number };

/** The kinds of upstream object billed once per id. */
export type BilledObjectKind = 'response' | 'batch';

/** What the proxy learned by the end of a request, written on its row by `settle` or `void`. */
export interface Outcome {
  httpStatus: number | null;
  usage?: Usage;
  usageSource: 'upstream' | 'computed' | 'estimated' | 'none';
  /** Tokens to charge to tokens grants. */
  meteredTokens: number;
  /** Micro-USD to charge to USD grants and quota counters: `costNanoUsd` rounded half up. */
  costMicroUsd: number;
  /** The row's exact cost in nano-USD (1 USD = 1e9), tool fees included; absent: `costMicroUsd` × 1000. */
  costNanoUsd?: number;
  /** Built-in tool calls the response reported (their fees are in the cost), stored on the row as JSON. */
  toolCalls?: ToolCalls;
  returnedModel?: string;
  /** The model the charge was priced for, when the row did not know it at admission (uploads, object retrievals). */
  model?: string;
  /** `<model>@<effective date>` of the price used. */
  priceVersion?: string;
  /** The upstream object this outcome bills (a response or batch id): billed once per id, whichever row sees it first. */
  billedObject?: { id: string; kind: BilledObjectKind };
  /** ms from arrival to the response's last byte. */
  latencyMs: number;
  /** ms from arrival to the response's first body byte. */
  ttfbMs?: number;
  upstreamRequestId?: string;
  errorCode?: string;
}

/** A quota counter's running totals (tokens, micro-USD). */
export interface CounterState {
  id: string;
  spentTokens: number;
  heldTokens: number;
  spentMicroUsd: number;
  heldMicroUsd: number;
}

/** What a settle changed, for threshold alerts: the grants it debited and the quota counters it charged, as they stand after it. */
export interface Settled {
  grants: GrantState[];
  counters: CounterState[];
}

/** One grant's standing for balance reports; amounts in the grant's `unit`. */
export interface GrantBalance {
  id: string;
  unit: 'tokens' | 'micro_usd';
  unlimited: boolean;
  models: string[] | null;
  amount: number;
  spent: number;
  held: number;
  /** What is left; null for an unlimited grant. */
  remaining: number | null;
  active: boolean;
  /** ISO 8601 UTC, or null. */
  startsAt: string | null;
  expiresAt: string | null;
  purchaseId: string | null;
}

/** A company's balance at an instant, summed over its active grants per unit. */
export interface Balance {
  companyId: string;
  /** Tokens left on active tokens grants (not counting unlimited ones). */
  tokens: number;
  /** Micro-USD left on active USD grants. */
  microUsd: number;
  /** Models with an active unlimited grant. */
  unlimitedModels: string[];
  grants: GrantBalance[];
}

/** Policy for holds found open at start: bill the counted prompt, or nothing. */
export type InterruptedPolicy = 'charge_prompt' | 'release';

/** A grant's terms as the config states them, in the ledger's units (see `grantTerms` in config/). */
export interface GrantTerms {
  id: string;
  companyId: string;
  unit: 'tokens' | 'micro_usd';
  /** In `unit`; 0 for an unlimited grant. */
  amount: number;
  unlimited: boolean;
  /** Model names or families covered; null covers every model. */
  models: string[] | null;
  /** ISO 8601 UTC instants, or null. */
  startsAt: string | null;
  expiresAt: string | null;
  purchaseId: string | null;
  note: string | null;
}

/** A purchase record as the config states it. */
export interface PurchaseTerms {
  id: string;
  /** `YYYY-MM-DD`. */
  date: string;
  totalTokens: number;
  /** USD per token paid to the provider (a price, not an amount owed). */
  costPerTokenUsd: number;
  provider: string;
  /** ISO 8601 UTC, or null. */
  expiresAt: string | null;
  notes: string | null;
}

/** A grant as the ledger mirrors it: its terms (models as a JSON array text, or null) plus its running totals. */
export interface MirroredGrant extends Omit<GrantTerms, 'models'> {
  models: string | null;
  removedAt: string | null;
  spent: number;
  held: number;
}

/** Prices a usage in micro-USD for the model a row names (null: unknown); used by crash recovery. */
export type PriceOf = (model: string | null, usage: Usage) => number;

/** The hot path: admission, settlement, recovery and grant sync. */
export interface LedgerWriter {
  /**
   * Admission: in one atomic step, checks the company's active grants covering the model and the
   * quota counters of `quotas`, then either writes the row (status `held`) with a hold spread over
   * the grants in burn order, or refuses. A hold is at least 1 token, so a company with nothing
   * left is refused. Resolves once the row is durable.
   */
  admit(facts: RequestFacts, want: HoldRequest, now: Date, quotas: QuotaCheck[]): Promise<AdmitResult>;
  /** Writes the `held` row of a request that is not billed on an estimate: no hold, no balance check. Resolves once durable. */
  open(facts: RequestFacts, now: Date): Promise<void>;
  /**
   * Settles a held request: releases its hold and burns `outcome.meteredTokens` (tokens grants) or
   * `outcome.costMicroUsd` (USD grants), first from the grants it held, then the company's other
   * active grants covering the model, in burn order; what none can cover overdraws the first grant
   * (recorded on its debit). The quota windows it held are charged the same. Resolves to what it
   * changed, or `false` (and changes nothing) when the row is not `held`.
   */
  settle(requestId: string, outcome: Outcome, now: Date): Promise<Settled | false>;
  /** Voids a held request: releases its hold, charges nothing, records the outcome. `false` when not `held`. */
  void(requestId: string, outcome: Omit<Outcome, 'meteredTokens' | 'costMicroUsd'>, now: Date): Promise<boolean>;
  /**
   * Crash recovery, run at start before serving: every row still `held` by a process that is gone is
   * marked `interrupted` and its hold released; with `charge_prompt` it is billed its counted prompt
   * (usage source `estimated`, priced by `priceOf`), with `release` nothing. Resolves to the ids it
   * resolved. Rows record the instance (process) that holds them: a single-writer store (SQLite)
   * treats every held row as gone; a shared store resolves only rows of instances whose heartbeat
   * lapsed (or that stopped), never those of live replicas, and from then on keeps doing so, with
   * the same policy, for instances that die while it serves — each row exactly once.
   */
  recoverOpenHolds(now: Date, policy: InterruptedPolicy, priceOf: PriceOf): Promise<string[]>;
  /**
   * Mirrors the config's grants and purchases: new ones are inserted, edited ones take their new
   * terms from now on, ones absent are marked removed. Spent and held totals, debits and rows are
   * never rewritten.
   * @throws Error when a grant moved to another company, or changed unit after use (nothing is written).
   */
  syncGrants(grants: GrantTerms[], purchases: PurchaseTerms[], now: Date): Promise<void>;
  /** The company's balance at `now`: every grant still in the config, with its standing. */
  balance(companyId: string, now: Date): Promise<Balance>;
}

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
  /** ISO 8601 UTC instants compared with the admission time: `since` inclusive, `until` exclusive. */
  since?: string;
  until?: string;
}

/** How usage rows are grouped. `user` groups by company and user; `day` and `hour` are UTC. */
export const GROUP_BYS = ['none', 'company', 'user', 'model', 'endpoint', 'day', 'hour'] as const;
export type GroupBy = (typeof GROUP_BYS)[number];

/** One group of usage. Tokens as OpenAI reported them (cached in input, reasoning in output); cost integer micro-USD. */
export interface UsageRow {
  /** The group's value (company, user, model, endpoint, `2026-11-24` day or `2026-11-24T10:00Z` hour, UTC); null for `none` or a missing field. */
  key: string | null;
  /** The company, when grouping by user; otherwise null. */
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
  remainingTokens: number;
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

/** Reads for reports, the read API and the CLI. Never writes. */
export interface LedgerReader {
  /** Usage summed per group over the rows matching `filter` (one all-zero row for `none` when nothing matches). */
  usage(filter: RequestFilter, groupBy: GroupBy): Promise<UsageRow[]>;
  /** The rows matching `filter`, oldest first. */
  rows(filter: RequestFilter): Promise<RequestRow[]>;
  /**
   * The newest `limit` rows matching `filter`, newest first, each with the company's tokens left
   * right after it: the tokens left now on its active limited tokens grants plus what every newer
   * row of the company (matching the filter or not) debited from those grants.
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

/** A quota-increase request filed by a user (or a key). */
export interface QuotaRequestRecord {
  id: string;
  /** ISO 8601 UTC. */
  createdAt: string;
  companyId: string;
  /** The user id, or `key:<key id>`. */
  userId: string;
  /** What is asked for, e.g. `{"window":"daily","tokens":200000}`. */
  requested: Record<string, unknown>;
  justification: string;
}

/** Quota-increase requests. */
export interface QuotaRequestStore {
  add(request: QuotaRequestRecord): Promise<void>;
  /** A company's requests (only `userId`'s when given), newest first. */
  list(companyId: string, userId?: string): Promise<QuotaRequestRecord[]>;
}

/** The kinds of alert tollgate fires. */
export type AlertKind = 'quota_warning' | 'quota_critical' | 'low_balance_warning' | 'low_balance_critical' | 'usage_spike' | 'quota_increase_request';

/** An alert as stored: `key` names the threshold and window, so each fires once. */
export interface AlertRecord {
  key: string;
  kind: AlertKind;
  companyId: string;
  /** ISO 8601 UTC. */
  firedAt: string;
  /** The JSON body sent to the webhook. */
  payload: string;
}

/** Fired alerts and their webhook deliveries. */
export interface AlertStore {
  /** Records the alert unless its key was recorded before; resolves true when it is new. */
  record(alert: AlertRecord): Promise<boolean>;
  /** Counts one delivery attempt; `deliveredAt` (ISO UTC) when the webhook answered 2xx. */
  attempted(key: string, deliveredAt: string | null): Promise<void>;
}

/** A rate-limit bucket's level (requests or tokens, fractional) at an instant (`at`, ms since the epoch). */
export interface BucketLevel {
  level: number;
  at: number;
}

/** Rate-limit buckets kept in a store that every replica shares (see `SharedRateLimiter` in limits/). */
export interface BucketStore {
  /**
   * Atomically across replicas: reads the buckets `ids` (absent: never used), runs `plan` on them,
   * and writes back the buckets it leaves in the map. Resolves to what `plan` returned.
   */
  update<T>(ids: string[], plan: (buckets: Map<string, BucketLevel>) => T): Promise<T>;
}

/**
 * The kinds of upstream object tollgate records an owner for (OpenAI's `object` names, except
 * `model`, which stands for a fine-tuned model, and `chat.completion` for a stored one).
 */
export type ObjectKind = 'file' | 'upload' | 'batch' | 'response' | 'chat.completion' | 'fine_tuning.job' | 'model' | 'vector_store' | 'conversation' | 'container' | 'video' | 'eval';

/** Who created an upstream object through tollgate. */
export interface ObjectOwner {
  kind: ObjectKind;
  companyId: string;
  /** The company key that created it, or null when a user token did. */
  keyId: string | null;
  /** The user (JWT `sub`) that created it, or null when a company key did. */
  userId: string | null;
}

/** An object to record: its upstream id (`file-abc`, `ft:gpt-4o-mini:org::id`), owner and the request that created it. */
export interface OwnedObject extends ObjectOwner {
  id: string;
  /** The tollgate request (`req_…`) whose upstream answer named the object. */
  requestId: string;
  /** ISO 8601 UTC. */
  createdAt: string;
}

/**
 * Ownership of upstream objects created through tollgate (files, batches, stored responses,
 * fine-tuned models…): the shared upstream key can reach every company's objects, so tollgate
 * answers 404 for objects the caller's company does not own and filters lists (src/ownership/).
 *
 * - `record` is first-writer-wins: an id already recorded keeps its owner (an answer can never
 *   move an object to another company). Resolves once durable.
 * - `owners` sees every `record` made before it was called (same ordering rule as the ledger).
 * - Ids are the upstream's, compared exactly (case-sensitive).
 */
export interface ObjectStore {
  record(objects: OwnedObject[]): Promise<void>;
  /** The recorded owners of `ids` (ids never recorded are absent from the map). */
  owners(ids: readonly string[]): Promise<Map<string, ObjectOwner>>;
}

/** A whole ledger: the hot path, the reader and the small stores, on one store. */
export interface Ledger extends LedgerWriter {
  readonly reader: LedgerReader;
  readonly quotaRequests: QuotaRequestStore;
  readonly alerts: AlertStore;
  /** Rate-limit buckets shared by every process on this ledger; absent for a single-process store (SQLite). */
  readonly buckets?: BucketStore;
  /** Owners of the upstream objects created through tollgate (src/ownership/). */
  readonly objects: ObjectStore;
  /** Resolves when the store answers a trivial query; rejects with the reason otherwise (readiness). */
  ping(): Promise<void>;
  /** Finishes queued writes and closes the store. */
  close(): Promise<void>;
}
