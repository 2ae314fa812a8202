import type Database from 'better-sqlite3';
import {
  capacityTokens,
  covers,
  isActive,
  microUsdOf,
  planBurn,
  planHold,
  remaining,
  type GrantState,
  type Part,
} from '../allocate.js';
import { tagsText } from '../tags.js';
import { interruptedOutcome } from '../recovery.js';
import { chargeColumns, outcomeValues } from '../outcome-values.js';
import { AMPLE, quotaCapacityTokens, standingAfterHold, unlimitedFirst } from '../capacity.js';
import type {
  AdmitResult,
  Balance,
  CounterState,
  HoldRequest,
  InterruptedPolicy,
  Outcome,
  PriceOf,
  QuotaCheck,
  RequestFacts,
  Settled,
} from '../port.js';
import { companyBalance, LedgerState, type HeldRow, type OpenRow } from './state.js';
import { prepareStatements, type Statements } from './statements.js';

export { models } from './state.js';

const iso = (d: Date) => d.toISOString();

/**
 * The ledger's operations on one SQLite connection, synchronous: grants, two-phase holds and debits.
 * `SqliteLedger` (index.ts) runs them through group commit and exposes them as the async port.
 *
 * Every mutation runs in one `BEGIN IMMEDIATE` transaction, so admissions racing on the same grants
 * are serialised by SQLite's write lock and two requests can never both take the last tokens.
 * Burn order (`compareBurnOrder` in allocate.ts): unlimited grants covering the model first (they
 * never run out, and limited grants are then kept for what they alone cover), then the lowest
 * `priority`, then earliest `expires_at` (no expiry last), then the oldest (earliest `starts_at`, or
 * the time the grant first appeared in the config), then `id`. Running totals on `grants` keep admission independent of the ledger's size: it reads
 * only the company's grants, never the history of requests or debits.
 */
export class SyncLedger {
  private readonly sql: Statements;
  private readonly state: LedgerState;
  /**
   * Runs its argument in `BEGIN IMMEDIATE`, then writes the running totals it changed (once per
   * grant or counter per transaction). Built once: better-sqlite3's `transaction()` makes four
   * functions and defines five properties on each, every time it is called (~4 KiB per commit).
   */
  private readonly immediate: (fn: () => unknown) => unknown;

  /**
   * @param sqlite an open ledger connection (see `openLedgerDb`), migrated.
   * @param instanceId the process recorded on the rows it admits (`inst_` + 16 hex digits; see `SqliteLedger.as`).
   */
  constructor(
    private readonly sqlite: Database.Database,
    public instanceId: string | null = null,
  ) {
    this.sql = prepareStatements(sqlite);
    this.state = new LedgerState(this.sql);
    this.immediate = sqlite.transaction((fn: () => unknown) => {
      const value = fn();
      this.state.writeDirty();
      return value;
    }).immediate;
  }

  /**
   * Runs `fn` in a `BEGIN IMMEDIATE` transaction; inside one already open (a `LedgerQueue` batch),
   * runs it as part of that one.
   */
  transaction<T>(fn: () => T): T {
    if (this.sqlite.inTransaction) return fn();
    try {
      return this.immediate(fn) as T;
    } catch (err) {
      // Rolled back: what memory carried may no longer match the file.
      this.state.reset();
      throw err;
    }
  }

  /** Grant sync rewrote grant terms: read them again on next use. */
  grantsChanged(): void {
    this.state.resetGrants();
  }

  /** The company's active grants that cover `model`, in burn order (the cached states: read, never copy-edit). */
  private eligible(companyId: string, model: string | null, at: string): GrantState[] {
    const list = this.state.grantsOf(companyId);
    let unlimited = false;
    const out: GrantState[] = [];
    for (const g of list)
      if (isActive(g, at) && covers(g, model)) {
        out.push(g);
        unlimited ||= g.unlimited;
      }
    return unlimited ? unlimitedFirst(out) : out;
  }

  /** Inserts the `held` row; a hold on one grant (`onRow`) rides on it. */
  private insertRequest(
    facts: RequestFacts,
    at: string,
    holdTokens: number,
    holdMicroUsd: number,
    onRow?: Part,
    promptTokens = facts.estimatedPromptTokens ?? 0,
  ): void {
    this.sql.insertRequest.run(
      facts.id,
      at,
      facts.companyId,
      facts.keyId,
      facts.userId ?? null,
      facts.sessionId ?? null,
      facts.feature ?? null,
      facts.endpoint,
      facts.requestedModel,
      facts.stream ? 1 : 0,
      promptTokens,
      holdTokens,
      holdMicroUsd,
      onRow?.grantId ?? null,
      onRow?.amount ?? null,
      facts.conversationId ?? null,
      facts.clientRequestId ?? null,
      this.instanceId,
      facts.forwardedLater ? 0 : null,
      facts.endUser ?? null,
      tagsText(facts.tags),
    );
  }

  /**
   * Writes the `held` row of a request that is not billed (e.g. `GET /v1/models`): no hold, no
   * balance check; it settles with zero tokens like any other.
   */
  open(facts: RequestFacts, now: Date): void {
    this.insertRequest(facts, iso(now), 0, 0);
    this.state.opened(facts.id, {
      companyId: facts.companyId,
      requestedModel: facts.requestedModel,
      holds: [],
      holdsOnRow: false,
      quotaHolds: [],
    });
  }

  /**
   * Marks held rows as gone upstream (see `LedgerWriter.forwarded`), each with its prompt's tokens
   * when `promptTokens` has them; rows no longer held are left alone.
   */
  markForwarded(ids: readonly string[], promptTokens: readonly (number | undefined)[] = []): void {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!this.state.isOpen(id)) continue;
      const tokens = promptTokens[i];
      if (tokens !== undefined) this.sql.markForwardedCounted.run(tokens, id);
      else this.sql.markForwarded.run(id);
    }
  }

  /** Whether a row this process admitted may still be held (see `LedgerState.isOpen`). */
  isOpen(requestId: string): boolean {
    return this.state.isOpen(requestId);
  }

  /**
   * Admission: in one transaction, checks the company's active grants covering the model and either
   * places a hold (spread over them in burn order) and writes the request row with status `held`,
   * or refuses. A hold is at least 1 token, so a company with nothing left is refused.
   */
  admit(facts: RequestFacts, request: HoldRequest, now: Date, quotas: QuotaCheck[] = []): AdmitResult {
    const at = iso(now);
    return this.transaction((): AdmitResult => {
      let want = request;
      let promptTokens = facts.estimatedPromptTokens ?? 0;
      const costOnly = want.costOnly === true;
      // A money-only request counts in micro-USD: 1 unit = 1 micro-USD = 1e6 pico-USD.
      const pico = costOnly ? 1_000_000 : want.maxPicoPerToken;
      let eligible = this.eligible(facts.companyId, facts.requestedModel, at);
      if (costOnly) eligible = eligible.filter((g) => g.unlimited || g.unit === 'micro_usd');
      const grantCapacity = eligible.reduce((sum, g) => sum + capacityTokens(g, pico), 0);
      const counters = quotas.map((check) => this.counter(facts.companyId, check, at));
      const quotaCapacity = quotas.map((check, i) =>
        quotaCapacityTokens(costOnly ? { ...check, limitTokens: undefined } : check, counters[i]!, pico),
      );
      const available = quotaCapacity.length ? Math.min(grantCapacity, ...quotaCapacity) : grantCapacity;
      // A hold on an uncounted prompt's bound only where it leaves ample room (see `AMPLE`); else
      // decide on the counted prompt.
      if (want.exact && available < AMPLE * Math.max(1, want.minTokens, want.maxTokens)) {
        const exact = want.exact();
        want = exact.want;
        promptTokens = exact.promptTokens;
      }
      const min = Math.max(1, want.minTokens);
      const max = Math.max(min, want.maxTokens);
      let hold: number;
      if (available >= max) hold = max;
      else if (want.clamp && available > min) hold = available;
      else {
        const q = quotaCapacity.findIndex((c) => c === available && c < grantCapacity);
        return q >= 0
          ? { ok: false, reason: 'quota', quota: quotas[q]!, availableTokens: available }
          : { ok: false, reason: 'balance', availableTokens: available };
      }

      const holdMicroUsd = costOnly ? hold : microUsdOf(hold, pico);
      const holdTokens = costOnly ? 0 : hold;
      const parts = planHold(eligible, hold, pico);
      // A hold on one grant (most requests) is written on the row itself; only a spread one needs `holds` rows.
      const onRow = parts.length === 1 ? parts[0] : undefined;
      this.insertRequest(facts, at, holdTokens, holdMicroUsd, onRow, promptTokens);
      // The standing is read before the hold is added to the totals (it subtracts `parts` itself).
      const standing = standingAfterHold(eligible, parts, quotas, counters, holdTokens, holdMicroUsd);
      for (const part of parts) {
        if (!onRow) this.sql.insertHold.run(facts.id, part.grantId, part.amount);
        this.state.addToGrant(this.state.grant(part.grantId)!, part.amount, 0);
      }
      const quotaHolds = quotas.map((check, i) => {
        this.sql.insertQuotaHold.run(facts.id, check.counterId, holdTokens, holdMicroUsd);
        this.state.addToCounter(counters[i]!, holdTokens, holdMicroUsd, 0, 0);
        return { counterId: check.counterId, tokens: holdTokens, microUsd: holdMicroUsd };
      });
      this.state.opened(facts.id, {
        companyId: facts.companyId,
        requestedModel: facts.requestedModel,
        holds: parts,
        holdsOnRow: onRow !== undefined,
        quotaHolds,
      });
      return { ok: true, holdTokens, standing };
    });
  }

  /** The quota counter of a window (its state in memory), created empty on first use. */
  private counter(companyId: string, check: QuotaCheck, at: string): CounterState {
    return this.state.counter(check.counterId, () =>
      this.sql.ensureCounter.run(
        check.counterId,
        companyId,
        check.scope,
        check.scopeId,
        check.window,
        check.windowKey,
        at,
      ),
    );
  }

  /**
   * Settles a held request: releases its hold, then burns `outcome.meteredTokens` (tokens grants) or
   * `outcome.costMicroUsd` (USD grants) first from the grants it held, then from the company's other
   * active grants covering the model, in burn order, writing one debit per grant touched. What none
   * can cover overdraws the first grant (bounded by the request's use beyond its hold). The quota
   * windows the request held (those of its admission) are charged the same tokens and cost.
   * Idempotent: returns false and changes nothing if the request is not `held`.
   */
  settle(requestId: string, outcome: Outcome, now: Date): Settled | false {
    return this.finish(requestId, 'settled', outcome, now);
  }

  /** Voids a held request: releases its hold, charges nothing, records the outcome. Idempotent like `settle`. */
  void(requestId: string, outcome: Omit<Outcome, 'meteredTokens' | 'costMicroUsd'>, now: Date): boolean {
    return this.finish(requestId, 'voided', { ...outcome, meteredTokens: 0, costMicroUsd: 0 }, now) !== false;
  }

  /**
   * Crash recovery, run at start before serving. Every request still `held` belonged to a process
   * that died mid-request; no usage was read for it. It is marked `interrupted` and its hold
   * released; with `charge_prompt` it is billed its counted prompt tokens (usage source
   * `estimated`, priced by `priceOf`), with `release` nothing; `which` picks the rows (default all). Returns the ids it resolved.
   */
  recoverOpenHolds(now: Date, policy: InterruptedPolicy, priceOf: PriceOf, which = (_r: HeldRow) => true): string[] {
    const open = (this.sql.openRequests.all() as HeldRow[]).filter(which);
    for (const r of open) {
      const forwarded = r.forwarded === null ? null : r.forwarded === 1;
      this.finish(r.id, 'interrupted', interruptedOutcome({ ...r, forwarded }, policy, priceOf), now);
    }
    return open.map((r) => r.id);
  }

  private finish(
    requestId: string,
    status: 'settled' | 'voided' | 'interrupted',
    outcome: Outcome,
    now: Date,
  ): Settled | false {
    const at = iso(now);
    return this.transaction((): Settled | false => {
      const row = this.state.take(requestId);
      if (!row) return false;
      let o = outcome;
      if (
        o.billedObject &&
        status === 'settled' &&
        this.sql.billObject.run(o.billedObject.id, o.billedObject.kind, requestId, at).changes === 0
      ) {
        // Already billed on another row: record what was seen, charge nothing.
        o = { ...o, meteredTokens: 0, costMicroUsd: 0, costNanoUsd: 0, errorCode: o.errorCode ?? 'already_billed' };
      }
      const v = outcomeValues(o);
      this.sql.finishRequest.run(
        status,
        v.httpStatus,
        v.returnedModel,
        v.model,
        v.priceVersion,
        v.priceSource,
        ...chargeColumns(v),
        v.units,
        v.usageSource,
        v.latencyMs,
        v.ttfbMs,
        v.upstreamRequestId,
        v.errorCode,
        at,
        requestId,
      );

      for (const h of row.holds) this.state.addToGrant(this.state.grant(h.grantId)!, -h.amount, 0);
      // A hold kept on the row ends with its status; only a spread one has `holds` rows to delete.
      if (row.holds.length && !row.holdsOnRow) this.sql.deleteHolds.run(requestId);
      const charged = status !== 'voided';
      const counters: CounterState[] = [];
      for (const h of row.quotaHolds) {
        const c = this.state.counter(h.counterId, () => {});
        this.state.addToCounter(c, -h.tokens, -h.microUsd, charged ? o.meteredTokens : 0, charged ? o.costMicroUsd : 0);
        counters.push({ ...c });
      }
      if (row.quotaHolds.length) this.sql.deleteQuotaHolds.run(requestId);
      const model = row.requestedModel ?? o.model ?? null;
      const burned = o.meteredTokens > 0 || o.costMicroUsd > 0 ? this.burn(requestId, row, model, o, at) : [];
      return { grants: burned, counters };
    });
  }

  /** Writes the debits of a settled request (see `settle`); returns the grants debited, as they stand after. */
  private burn(requestId: string, row: OpenRow, model: string | null, o: Outcome, at: string): GrantState[] {
    // The grants the request held, even one removed from the config since admission: it still
    // takes the request it reserved. What it held is honoured as a reservation: should an admin
    // have lowered the grant since, the charge up to the hold is still taken from it (the grant
    // shows as overdrawn; no debit overdraft is recorded, as the request stayed within its hold).
    // They usually cover the charge; the company's other grants are considered only when they do not.
    const real = new Map<string, GrantState>();
    const heldGrants: GrantState[] = [];
    for (const h of row.holds) {
      const g = this.state.grant(h.grantId);
      if (!g) continue;
      real.set(g.id, g);
      heldGrants.push(remaining(g) >= h.amount ? g : { ...g, amount: g.spent + g.held + h.amount });
    }
    let order = heldGrants.length > 1 ? unlimitedFirst(heldGrants) : heldGrants;
    let parts = planBurn(order, o.meteredTokens, o.costMicroUsd);
    if (order.length === 0 || parts.some((p) => p.overdraft > 0)) {
      const others = unlimitedFirst(
        this.state.grantsOf(row.companyId).filter((g) => !real.has(g.id) && isActive(g, at) && covers(g, model)),
      );
      for (const g of others) real.set(g.id, g);
      order = [...order, ...others];
      parts = planBurn(order, o.meteredTokens, o.costMicroUsd);
    }
    const touched: GrantState[] = [];
    for (const part of parts) {
      this.sql.insertDebit.run(requestId, part.grantId, part.unit, part.amount, part.overdraft, at);
      const g = real.get(part.grantId)!;
      this.state.addToGrant(g, 0, part.amount);
      touched.push({ ...g });
    }
    return touched;
  }

  /** The company's balance at `now`: every grant still in the config, with its standing (see `balanceFrom`). */
  balance(companyId: string, now: Date): Balance {
    return companyBalance(this.sql, companyId, iso(now));
  }
}
