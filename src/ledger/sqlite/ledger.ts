import type Database from 'better-sqlite3';
import type { Usage } from '../../metering/usage.js';
import {
  capacityTokens,
  covers,
  isActive,
  microUsdOf,
  planBurn,
  planHold,
  remaining,
  type GrantState,
} from '../allocate.js';
import { balanceFrom } from '../balance.js';
import { quotaCapacityTokens, standingAfterHold, unlimitedFirst } from '../capacity.js';
import type {
  AdmitResult,
  Balance,
  HoldRequest,
  InterruptedPolicy,
  Outcome,
  QuotaCheck,
  RequestFacts,
  Settled,
} from '../port.js';
import { prepareStatements, type CounterRecord, type GrantRecord, type Statements } from './statements.js';

const iso = (d: Date) => d.toISOString();

const parsedModels = new Map<string, string[]>();

/** The `models` column (a JSON array, or NULL for every model) as a list, parsed once per distinct text. */
export function models(json: string | null): string[] | null {
  if (json === null) return null;
  let list = parsedModels.get(json);
  if (!list) parsedModels.set(json, (list = JSON.parse(json) as string[]));
  return list;
}

function recordToState(r: GrantRecord): GrantState {
  return {
    id: r.id,
    unit: r.unit,
    amount: r.amount,
    unlimited: r.unlimited === 1,
    spent: r.spent,
    held: r.held,
    models: models(r.models),
    startsAt: r.starts_at,
    expiresAt: r.expires_at,
    removedAt: r.removed_at,
  };
}

/**
 * The ledger's operations on one SQLite connection, synchronous: grants, two-phase holds and debits.
 * `SqliteLedger` (index.ts) runs them through group commit and exposes them as the async port.
 *
 * Every mutation runs in one `BEGIN IMMEDIATE` transaction, so admissions racing on the same grants
 * are serialised by SQLite's write lock and two requests can never both take the last tokens.
 * Burn order: unlimited grants covering the model first (they never run out, and limited grants
 * are then kept for what they alone cover), then earliest `expires_at` (no expiry last), then the
 * oldest (earliest `starts_at`, or the time the grant first appeared in the config), then `id`. Running totals on `grants` keep admission independent of the ledger's size: it reads
 * only the company's grants, never the history of requests or debits.
 */
export class SyncLedger {
  private readonly sql: Statements;

  /**
   * @param sqlite an open ledger connection (see `openLedgerDb`), migrated.
   * @param instanceId this process, recorded on the rows it admits (`inst_` + 16 hex digits).
   */
  constructor(
    private readonly sqlite: Database.Database,
    private readonly instanceId: string | null = null,
  ) {
    this.sql = prepareStatements(sqlite);
  }

  /**
   * Runs `fn` in a `BEGIN IMMEDIATE` transaction; inside one already open (a `LedgerQueue` batch),
   * runs it as part of that one.
   */
  transaction<T>(fn: () => T): T {
    return this.sqlite.inTransaction ? fn() : this.sqlite.transaction(fn).immediate();
  }

  /** The company's active grants that cover `model`, in burn order. */
  private eligible(companyId: string, model: string | null, at: string): GrantState[] {
    const list = (this.sql.grantsOf.all(companyId) as GrantRecord[])
      .map(recordToState)
      .filter((g) => isActive(g, at) && covers(g, model));
    return unlimitedFirst(list);
  }

  private insertRequest(facts: RequestFacts, at: string, holdTokens: number, holdMicroUsd: number): void {
    this.sql.insertRequest.run({
      id: facts.id,
      createdAt: at,
      companyId: facts.companyId,
      keyId: facts.keyId,
      userId: facts.userId ?? null,
      sessionId: facts.sessionId ?? null,
      feature: facts.feature ?? null,
      endpoint: facts.endpoint,
      requestedModel: facts.requestedModel,
      stream: facts.stream ? 1 : 0,
      estimatedPromptTokens: facts.estimatedPromptTokens ?? 0,
      clientRequestId: facts.clientRequestId ?? null,
      holdTokens,
      holdMicroUsd,
      instanceId: this.instanceId,
      conversationId: facts.conversationId ?? null,
    });
  }

  /**
   * Writes the `held` row of a request that is not billed (e.g. `GET /v1/models`): no hold, no
   * balance check; it settles with zero tokens like any other.
   */
  open(facts: RequestFacts, now: Date): void {
    this.insertRequest(facts, iso(now), 0, 0);
  }

  /**
   * Admission: in one transaction, checks the company's active grants covering the model and either
   * places a hold (spread over them in burn order) and writes the request row with status `held`,
   * or refuses. A hold is at least 1 token, so a company with nothing left is refused.
   */
  admit(facts: RequestFacts, want: HoldRequest, now: Date, quotas: QuotaCheck[] = []): AdmitResult {
    const at = iso(now);
    return this.transaction((): AdmitResult => {
      const costOnly = want.costOnly === true;
      // A money-only request counts in micro-USD: 1 unit = 1 micro-USD = 1e6 pico-USD.
      const pico = costOnly ? 1_000_000 : want.maxPicoPerToken;
      const eligible = this.eligible(facts.companyId, facts.requestedModel, at).filter(
        (g) => !costOnly || g.unlimited || g.unit === 'micro_usd',
      );
      const grantCapacity = eligible.reduce((sum, g) => sum + capacityTokens(g, pico), 0);
      const counters = quotas.map((check) => ({ check, row: this.counter(facts.companyId, check, at) }));
      const quotaCapacity = counters.map(({ check, row }) =>
        quotaCapacityTokens(costOnly ? { ...check, limitTokens: undefined } : check, row, pico),
      );
      const available = Math.min(grantCapacity, ...quotaCapacity);
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
      this.insertRequest(facts, at, holdTokens, holdMicroUsd);
      const parts = planHold(eligible, hold, pico);
      for (const part of parts) {
        this.sql.insertHold.run(facts.id, part.grantId, part.amount);
        this.sql.addHeld.run(part.amount, part.grantId);
      }
      for (const { check } of counters) {
        this.sql.insertQuotaHold.run(facts.id, check.counterId, holdTokens, holdMicroUsd);
        this.sql.addCounterHeld.run(holdTokens, holdMicroUsd, check.counterId);
      }
      const standing = standingAfterHold(
        eligible,
        parts,
        counters.map((c) => c.check),
        counters.map((c) => c.row),
        holdTokens,
        holdMicroUsd,
      );
      return { ok: true, holdTokens, standing };
    });
  }

  /** The quota counter of a window, created empty on first use. */
  private counter(companyId: string, check: QuotaCheck, at: string): CounterRecord {
    this.sql.ensureCounter.run(
      check.counterId,
      companyId,
      check.scope,
      check.scopeId,
      check.window,
      check.windowKey,
      at,
    );
    return this.sql.counterById.get(check.counterId) as CounterRecord;
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
   * `estimated`, priced by `priceOf`), with `release` nothing. Returns the ids it resolved.
   */
  recoverOpenHolds(
    now: Date,
    policy: InterruptedPolicy,
    priceOf: (model: string | null, usage: Usage) => number,
  ): string[] {
    const open = this.sql.openRequests.all() as {
      id: string;
      requestedModel: string | null;
      estimatedPromptTokens: number;
    }[];
    for (const r of open) {
      const prompt = policy === 'charge_prompt' ? r.estimatedPromptTokens : 0;
      const usage = {
        inputTokens: prompt,
        cachedInputTokens: 0,
        outputTokens: 0,
        reasoningTokens: 0,
        totalTokens: prompt,
      };
      this.finish(
        r.id,
        'interrupted',
        {
          httpStatus: null,
          usage,
          usageSource: prompt > 0 ? 'estimated' : 'none',
          meteredTokens: prompt,
          costMicroUsd: prompt > 0 ? priceOf(r.requestedModel, usage) : 0,
          latencyMs: 0,
          errorCode: 'interrupted',
        },
        now,
      );
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
      const head = this.sql.requestHead.get(requestId) as
        | { companyId: string; requestedModel: string | null; status: string }
        | undefined;
      if (!head || head.status !== 'held') return false;
      let o = outcome;
      if (
        o.billedObject &&
        status === 'settled' &&
        this.sql.billObject.run(o.billedObject.id, o.billedObject.kind, requestId, at).changes === 0
      ) {
        // Already billed on another row: record what was seen, charge nothing.
        o = { ...o, meteredTokens: 0, costMicroUsd: 0, costNanoUsd: 0, errorCode: o.errorCode ?? 'already_billed' };
      }
      const u = o.usage;
      this.sql.finishRequest.run({
        id: requestId,
        status,
        httpStatus: o.httpStatus,
        returnedModel: o.returnedModel ?? null,
        model: o.model ?? null,
        priceVersion: o.priceVersion ?? null,
        inputTokens: u?.inputTokens ?? 0,
        cachedInputTokens: u?.cachedInputTokens ?? 0,
        outputTokens: u?.outputTokens ?? 0,
        reasoningTokens: u?.reasoningTokens ?? 0,
        totalTokens: u?.totalTokens ?? 0,
        meteredTokens: o.meteredTokens,
        costMicroUsd: o.costMicroUsd,
        costNanoUsd: o.costNanoUsd ?? o.costMicroUsd * 1000,
        toolCalls: o.toolCalls ? JSON.stringify(o.toolCalls) : null,
        usageSource: o.usageSource,
        latencyMs: o.latencyMs,
        ttfbMs: o.ttfbMs ?? null,
        upstreamRequestId: o.upstreamRequestId ?? null,
        errorCode: o.errorCode ?? null,
        settledAt: at,
      });

      const held = this.sql.holdsOf.all(requestId) as { grantId: string; amount: number }[];
      for (const h of held) this.sql.addHeld.run(-h.amount, h.grantId);
      if (held.length) this.sql.deleteHolds.run(requestId);
      const charged = status !== 'voided';
      const quotaHeld = this.sql.quotaHoldsOf.all(requestId) as {
        counterId: string;
        tokens: number;
        microUsd: number;
      }[];
      const counters: CounterRecord[] = [];
      for (const h of quotaHeld) {
        this.sql.settleCounter.run(
          h.tokens,
          h.microUsd,
          charged ? o.meteredTokens : 0,
          charged ? o.costMicroUsd : 0,
          h.counterId,
        );
        counters.push(this.sql.counterById.get(h.counterId) as CounterRecord);
      }
      if (quotaHeld.length) this.sql.deleteQuotaHolds.run(requestId);
      const model = head.requestedModel ?? o.model ?? null;
      const burned =
        o.meteredTokens > 0 || o.costMicroUsd > 0 ? this.burn(requestId, head.companyId, model, held, o, at) : [];
      return { grants: burned, counters };
    });
  }

  /** Writes the debits of a settled request (see `settle`); returns the grants debited, as they stand after. */
  private burn(
    requestId: string,
    companyId: string,
    model: string | null,
    held: { grantId: string; amount: number }[],
    o: Outcome,
    at: string,
  ): GrantState[] {
    // The grants the request held, even one removed from the config since admission: it still
    // takes the request it reserved. What it held is honoured as a reservation: should an admin
    // have lowered the grant since, the charge up to the hold is still taken from it (the grant
    // shows as overdrawn; no debit overdraft is recorded, as the request stayed within its hold).
    // They usually cover the charge; the company's other grants are read only when they do not.
    const heldIds = held.map((h) => h.grantId);
    const real = new Map<string, GrantState>();
    const heldGrants: GrantState[] = [];
    for (const h of held) {
      const record = this.sql.grantById.get(h.grantId) as GrantRecord | undefined;
      if (!record) continue;
      const g = recordToState(record);
      real.set(g.id, g);
      heldGrants.push(remaining(g) >= h.amount ? g : { ...g, amount: g.spent + g.held + h.amount });
    }
    let order = unlimitedFirst(heldGrants);
    let parts = planBurn(order, o.meteredTokens, o.costMicroUsd);
    if (order.length === 0 || parts.some((p) => p.overdraft > 0)) {
      const others = unlimitedFirst(
        (this.sql.grantsOf.all(companyId) as GrantRecord[])
          .map(recordToState)
          .filter((g) => !heldIds.includes(g.id) && isActive(g, at) && covers(g, model)),
      );
      for (const g of others) real.set(g.id, g);
      order = [...order, ...others];
      parts = planBurn(order, o.meteredTokens, o.costMicroUsd);
    }
    const touched: GrantState[] = [];
    for (const part of parts) {
      this.sql.insertDebit.run(requestId, part.grantId, part.unit, part.amount, part.overdraft, at);
      this.sql.addSpent.run(part.amount, part.grantId);
      const g = real.get(part.grantId)!;
      touched.push({ ...g, spent: g.spent + part.amount });
    }
    return touched;
  }

  /** The company's balance at `now`: every grant still in the config, with its standing (see `balanceFrom`). */
  balance(companyId: string, now: Date): Balance {
    const grants = (this.sql.grantsOf.all(companyId) as GrantRecord[]).map((row) => ({
      state: recordToState(row),
      purchaseId: row.purchase_id,
    }));
    return balanceFrom(companyId, grants, iso(now));
  }
}
