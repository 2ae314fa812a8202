import type { DeferredKind } from '../../settlement/kinds.js';
import type { ToolCalls } from '../../metering/tool-calls.js';
import type { Usage } from '../../metering/usage.js';
import type { GrantState } from '../allocate.js';

/** The ledger port's hot path: admission, settlement, recovery and grant sync, and the facts they carry (see ../port.ts). */

/** A quota window that bounds a request, and its counter in the ledger. Limits in tokens and/or micro-USD. */
export interface QuotaCheck {
  /** The counter's id: `<scope>:<scopeId>:<window>:<windowKey>`. */
  counterId: string;
  scope: 'user' | 'key' | 'end_user';
  /** `<company>/<user>` for users, the key id for keys, `<company>/<end user as stored>` for end users. */
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
  /**
   * Present when the prompt was not counted: min and max then rest on an upper bound of its tokens
   * (and `clamp` is false). An adapter must call it (it counts the prompt, once) when the bound does
   * not fit what is left, and may whenever it chooses (SQLite: unless ample room is left; Postgres:
   * always), then decides on the request it returns instead and records `promptTokens` as the
   * row's estimated prompt.
   */
  exact?: () => ExactHold;
}

/** A hold request on the counted prompt (see `HoldRequest.exact`). */
export interface ExactHold {
  want: HoldRequest;
  /** The prompt's tokens, counted: the row's `estimatedPromptTokens`. */
  promptTokens: number;
}

/** A prompt's tokens, counted when first asked (gpt-tokenizer) and remembered. */
export interface PromptTokens {
  tokens(): number;
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
  /**
   * Prompt tokens counted at admission; 0 when admission needed no count (see `HoldRequest.exact`):
   * `forwarded` then records it should the request still be open.
   */
  estimatedPromptTokens?: number;
  /** The Responses conversation (`conversation`) the request continues, recorded for `contextTokens`. */
  conversationId?: string | null;
  userId?: string | null;
  sessionId?: string | null;
  feature?: string | null;
  /** The caller's `X-Client-Request-Id` (at most 512 characters), kept for joining with its logs; upstream gets `id`. */
  clientRequestId?: string | null;
  /** The end user of the company's app (`safety_identifier`, else `user`), as stored: as sent or hashed (at most 512 characters). */
  endUser?: string | null;
  /** Spend tags (`x-tollgate-tags` and named `metadata` keys), distinct, in the order given; null or empty when none. */
  tags?: readonly string[] | null;
  /**
   * The request goes upstream only after admission, and `forwarded(id)` will say when it did: until
   * then crash recovery resolves the row without charge (whatever the policy), as the upstream
   * never had it. Absent or false: recovery applies the policy (the row's request is taken as sent).
   */
  forwardedLater?: boolean;
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

/** The kinds of upstream object billed once per id (the kinds of deferred work). */
export type BilledObjectKind = DeferredKind;

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
  /** The version of the price used: `<priced name>@<origin>#<content hash>` (see src/pricing/types.ts). */
  priceVersion?: string;
  /** Who answered the price: `config`, `tollgate` (its own table), `genai-prices` (the price source) or `fallback` (a company's fallback price). */
  priceSource?: 'config' | 'tollgate' | 'genai-prices' | 'fallback';
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
  /** Burn order: lower burns first (see `compareBurnOrder` in allocate.ts). */
  priority: number;
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
  /** Burn order: lower burns first, then soonest expiry, then oldest (see `compareBurnOrder`); absent: `DEFAULT_PRIORITY`. */
  priority?: number;
  /**
   * Insert the grant if the ledger has none with this id, and never update it (a rollover grant,
   * whose amount is fixed by whichever replica creates it first). It still counts as present.
   */
  createOnly?: boolean;
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
export interface MirroredGrant extends Omit<GrantTerms, 'models' | 'createOnly'> {
  models: string | null;
  removedAt: string | null;
  spent: number;
  held: number;
}

/**
 * Prices a usage in micro-USD for the model a row names (null: unknown), for the row's company
 * (whose fallback prices apply to a model nothing else prices); used by crash recovery.
 */
export type PriceOf = (model: string | null, usage: Usage, companyId: string) => number;

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
   * Marks a `held` row admitted with `forwardedLater` as gone upstream (called as its first byte is
   * sent), so that crash recovery applies the interrupted policy to it. Not awaited: the mark is
   * written with the adapter's next write (SQLite: with a group commit 10–30 ms later,
   * and not at all for a row settled sooner — see `FORWARDED_MARK_DELAY_MS`; `recoverOpenHolds`
   * and `close` apply the marks made before them); a crash before that resolves the row without charge. A row
   * no longer held is left as it is. Never throws: a mark that could not be written only leaves
   * its row to be resolved without charge. `prompt`, given for a row admitted without counting its
   * prompt, is asked for its tokens only when the mark is written on a row still held, and they are
   * written with it (`estimatedPromptTokens`, what `charge_prompt` charges after a crash).
   */
  forwarded(requestId: string, prompt?: PromptTokens): void;
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
   * Withdraws a request whose admission (`admit` or `open`) was never confirmed — it timed out or
   * its connection failed, so the request was refused and never forwarded: its row, if written, is
   * voided like `void` does; if it was not written, it is recorded `voided` (from `facts`, with
   * `outcome`), so that the admission, should it still reach the store later, writes nothing. On a
   * store that applies calls in order within one process (SQLite) the first case is the only one.
   * Idempotent: `false` when it changed nothing.
   */
  cancel(facts: RequestFacts, outcome: Omit<Outcome, 'meteredTokens' | 'costMicroUsd'>, now: Date): Promise<boolean>;
  /**
   * Crash recovery, run at start before serving: every row still `held` by a process that is gone is
   * marked `interrupted` and its hold released; with `charge_prompt` it is billed its counted prompt
   * (usage source `estimated`, priced by `priceOf`), with `release` nothing. A row admitted with
   * `forwardedLater` and never marked `forwarded` is billed nothing whatever the policy (error code
   * `interrupted_before_upstream`): its request never left tollgate. Resolves to the ids it
   * resolved. Rows deferred on upstream work (`DeferredStore`) are left held: the settler settles
   * them. Rows record the instance (process) that holds them: a single-writer store (SQLite)
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
