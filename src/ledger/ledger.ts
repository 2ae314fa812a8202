import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import type { Config } from '../config/schema.js';
import type { Usage } from '../metering/usage.js';
import { capacityTokens, covers, isActive, microUsdOf, planBurn, planHold, remaining, type GrantState } from './allocate.js';
import type { QuotaCheck } from '../limits/quotas.js';
import { billedObjects, debits, grants, holds, purchases, quotaCounters, quotaHolds, requests } from './schema.js';
import * as schema from './schema.js';

type Db = BetterSQLite3Database<typeof schema>;
type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
type GrantRow = typeof grants.$inferSelect;
type CounterRow = typeof quotaCounters.$inferSelect;

/** How many tokens of a request a quota can still take: its tightest limit, USD priced at `maxPicoPerToken`. */
function quotaCapacityTokens(check: QuotaCheck, row: CounterRow, maxPicoPerToken: number): number {
  let cap = Infinity;
  if (check.limitTokens !== undefined) cap = Math.max(0, check.limitTokens - row.spentTokens - row.heldTokens);
  if (check.limitMicroUsd !== undefined && maxPicoPerToken > 0) {
    cap = Math.min(cap, Math.floor((Math.max(0, check.limitMicroUsd - row.spentMicroUsd - row.heldMicroUsd) * 1_000_000) / maxPicoPerToken));
  }
  return cap;
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
  id: string;
  companyId: string;
  keyId: string | null;
  endpoint: string;
  requestedModel: string | null;
  stream: boolean;
  /** Prompt tokens counted at admission. */
  estimatedPromptTokens?: number;
  userId?: string | null;
  sessionId?: string | null;
  feature?: string | null;
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

/** What the proxy learned by the end of a request, written on its row by `settle` or `void`. */
export interface Outcome {
  httpStatus: number | null;
  usage?: Usage;
  usageSource: 'upstream' | 'computed' | 'estimated' | 'none';
  /** Tokens to charge to tokens grants. */
  meteredTokens: number;
  /** Micro-USD to charge to USD grants (and the row's cost). */
  costMicroUsd: number;
  returnedModel?: string;
  /** The model the charge was priced for, when the row did not know it at admission (uploads, object retrievals). */
  model?: string;
  /** `<model>@<effective date>` of the price used. */
  priceVersion?: string;
  /** The upstream object this outcome bills (a response or batch id): billed once per id, whichever row sees it first. */
  billedObject?: { id: string; kind: 'response' | 'batch' };
  latencyMs: number;
  ttfbMs?: number;
  upstreamRequestId?: string;
  errorCode?: string;
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

const iso = (d: Date) => d.toISOString();

/** Unlimited grants first (stable): a model covered without limit never burns a limited grant. */
function unlimitedFirst(list: GrantState[]): GrantState[] {
  return [...list.filter((g) => g.unlimited), ...list.filter((g) => !g.unlimited)];
}

function toState(g: GrantRow): GrantState {
  return { ...g, models: g.models ? (JSON.parse(g.models) as string[]) : null };
}

/**
 * The ledger: grants, two-phase holds and debits in SQLite.
 *
 * Every mutation runs in one `BEGIN IMMEDIATE` transaction, so admissions racing on the same grants
 * are serialised by SQLite's write lock and two requests can never both take the last tokens.
 * Burn order: unlimited grants covering the model first (they never run out, and limited grants
 * are then kept for what they alone cover), then earliest `expires_at` (no expiry last), then the
 * oldest (earliest `starts_at`, or the time the grant first appeared in the config), then `id`. Running totals on `grants` keep admission independent of the ledger's size: it reads
 * only the company's grants, never the history of requests or debits.
 */
export class Ledger {
  private readonly grantsOf;
  private readonly grantById;
  private readonly holdsOf;
  private readonly rowById;
  private readonly counterById;
  private readonly quotaHoldsOf;

  /** @param db the ledger's drizzle handle, also used by tollgate's own API for its small tables. */
  constructor(readonly db: Db) {
    const burnOrder = [sql`${grants.expiresAt} IS NULL`, asc(grants.expiresAt), asc(sql`COALESCE(${grants.startsAt}, ${grants.createdAt})`), asc(grants.id)];
    this.grantsOf = db.select().from(grants).where(and(eq(grants.companyId, sql.placeholder('companyId')), isNull(grants.removedAt))).orderBy(...burnOrder).prepare();
    this.grantById = db.select().from(grants).where(eq(grants.id, sql.placeholder('id'))).prepare();
    this.holdsOf = db.select().from(holds).where(eq(holds.requestId, sql.placeholder('requestId'))).prepare();
    this.rowById = db.select().from(requests).where(eq(requests.id, sql.placeholder('id'))).prepare();
    this.counterById = db.select().from(quotaCounters).where(eq(quotaCounters.id, sql.placeholder('id'))).prepare();
    this.quotaHoldsOf = db.select().from(quotaHolds).where(eq(quotaHolds.requestId, sql.placeholder('requestId'))).prepare();
  }

  /**
   * Mirrors the config's allocations and purchases into `grants` and `purchases`: new ones are
   * inserted, edited ones take their new terms from now on, and ones gone from the config are marked
   * removed (they stop counting). Spent and held totals, debits and request rows are never rewritten.
   */
  syncGrants(config: Config, now: Date): void {
    const at = iso(now);
    this.db.transaction(
      (tx) => {
        const present = new Set<string>();
        for (const [companyId, company] of Object.entries(config.companies)) {
          for (const a of company.allocations) {
            present.add(a.id);
            const terms = {
              companyId,
              unit: a.usd !== undefined ? ('micro_usd' as const) : ('tokens' as const),
              amount: a.usd !== undefined ? Math.round(a.usd * 1_000_000) : (a.tokens ?? 0),
              unlimited: a.unlimited === true,
              models: a.models ? JSON.stringify(a.models) : null,
              startsAt: a.startsAt ? iso(a.startsAt) : null,
              expiresAt: a.expiresAt ? iso(a.expiresAt) : null,
              purchaseId: a.purchase ?? null,
              note: a.note ?? null,
              removedAt: null,
              updatedAt: at,
            };
            const existing = this.grantById.get({ id: a.id });
            if (existing && existing.companyId !== companyId) throw new Error(`allocation "${a.id}" moved from company "${existing.companyId}" to "${companyId}"; give it a new id`);
            if (existing && existing.unit !== terms.unit && (existing.spent !== 0 || existing.held !== 0)) {
              throw new Error(`allocation "${a.id}" changed unit after use; give it a new id`);
            }
            if (!existing) tx.insert(grants).values({ id: a.id, createdAt: at, ...terms }).run();
            else if (changed(existing, terms)) tx.update(grants).set(terms).where(eq(grants.id, a.id)).run();
          }
        }
        for (const g of tx.select({ id: grants.id }).from(grants).where(isNull(grants.removedAt)).all()) {
          if (!present.has(g.id)) tx.update(grants).set({ removedAt: at, updatedAt: at }).where(eq(grants.id, g.id)).run();
        }
        for (const [id, p] of Object.entries(config.purchases)) {
          const row = { date: p.date, totalTokens: p.totalTokens, costPerTokenUsd: p.costPerTokenUsd, provider: p.provider, expiresAt: p.expiresAt ? iso(p.expiresAt) : null, notes: p.notes ?? null, removedAt: null };
          tx.insert(purchases).values({ id, ...row }).onConflictDoUpdate({ target: purchases.id, set: row }).run();
        }
        const purchaseIds = Object.keys(config.purchases);
        tx.update(purchases)
          .set({ removedAt: at })
          .where(and(isNull(purchases.removedAt), purchaseIds.length ? sql`${purchases.id} NOT IN ${purchaseIds}` : sql`1`))
          .run();
      },
      { behavior: 'immediate' },
    );
  }

  /** The company's active grants that cover `model`, in burn order. */
  private eligible(companyId: string, model: string | null, at: string): GrantState[] {
    return unlimitedFirst(
      this.grantsOf
        .all({ companyId })
        .map(toState)
        .filter((g) => isActive(g, at) && covers(g, model)),
    );
  }

  /**
   * Writes the `held` row of a request that is not billed (e.g. `GET /v1/models`): no hold, no
   * balance check; it settles with zero tokens like any other.
   */
  open(facts: RequestFacts, now: Date): void {
    this.db.insert(requests).values({ ...facts, createdAt: iso(now), status: 'held', holdTokens: 0 }).run();
  }

  /**
   * Admission: in one transaction, checks the company's active grants covering the model and either
   * places a hold (spread over them in burn order) and writes the request row with status `held`,
   * or refuses. A hold is at least 1 token, so a company with nothing left is refused.
   */
  admit(facts: RequestFacts, want: HoldRequest, now: Date, quotas: QuotaCheck[] = []): AdmitResult {
    const at = iso(now);
    return this.db.transaction(
      (tx) => {
        const costOnly = want.costOnly === true;
        // A money-only request counts in micro-USD: 1 unit = 1 micro-USD = 1e6 pico-USD.
        const pico = costOnly ? 1_000_000 : want.maxPicoPerToken;
        const eligible = this.eligible(facts.companyId, facts.requestedModel, at).filter((g) => !costOnly || g.unlimited || g.unit === 'micro_usd');
        const grantCapacity = eligible.reduce((sum, g) => sum + capacityTokens(g, pico), 0);
        const counters = quotas.map((check) => ({ check, row: this.counter(tx, facts.companyId, check, at) }));
        const quotaCapacity = counters.map(({ check, row }) => quotaCapacityTokens(costOnly ? { ...check, limitTokens: undefined } : check, row, pico));
        const available = Math.min(grantCapacity, ...quotaCapacity);
        const min = Math.max(1, want.minTokens);
        const max = Math.max(min, want.maxTokens);
        let hold: number;
        if (available >= max) hold = max;
        else if (want.clamp && available > min) hold = available;
        else {
          const q = quotaCapacity.findIndex((c) => c === available && c < grantCapacity);
          return q >= 0 ? { ok: false, reason: 'quota', quota: quotas[q]!, availableTokens: available } : { ok: false, reason: 'balance', availableTokens: available };
        }

        const holdMicroUsd = costOnly ? hold : microUsdOf(hold, pico);
        const holdTokens = costOnly ? 0 : hold;
        tx.insert(requests)
          .values({ ...facts, createdAt: at, status: 'held', holdTokens, holdMicroUsd })
          .run();
        const parts = planHold(eligible, hold, pico);
        for (const part of parts) {
          tx.insert(holds).values({ requestId: facts.id, grantId: part.grantId, amount: part.amount }).run();
          tx.update(grants)
            .set({ held: sql`${grants.held} + ${part.amount}` })
            .where(eq(grants.id, part.grantId))
            .run();
        }
        for (const { check } of counters) {
          tx.insert(quotaHolds).values({ requestId: facts.id, counterId: check.counterId, tokens: holdTokens, microUsd: holdMicroUsd }).run();
          tx.update(quotaCounters)
            .set({ heldTokens: sql`${quotaCounters.heldTokens} + ${holdTokens}`, heldMicroUsd: sql`${quotaCounters.heldMicroUsd} + ${holdMicroUsd}` })
            .where(eq(quotaCounters.id, check.counterId))
            .run();
        }
        const heldOn = new Map(parts.map((p) => [p.grantId, p.amount]));
        const left = (g: GrantState) => Math.max(0, remaining(g) - (heldOn.get(g.id) ?? 0));
        const finite = eligible.filter((g) => !g.unlimited);
        return {
          ok: true,
          holdTokens,
          standing: {
            tokens: finite.filter((g) => g.unit === 'tokens').reduce((s, g) => s + left(g), 0),
            microUsd: finite.filter((g) => g.unit === 'micro_usd').reduce((s, g) => s + left(g), 0),
            unlimited: eligible.some((g) => g.unlimited),
            quotas: counters.map(({ check, row }) => ({
              check,
              remainingTokens: check.limitTokens === undefined ? undefined : Math.max(0, check.limitTokens - row.spentTokens - row.heldTokens - holdTokens),
              remainingMicroUsd: check.limitMicroUsd === undefined ? undefined : Math.max(0, check.limitMicroUsd - row.spentMicroUsd - row.heldMicroUsd - holdMicroUsd),
            })),
          },
        };
      },
      { behavior: 'immediate' },
    );
  }

  /** The quota counter of a window, created empty on first use. */
  private counter(tx: Tx, companyId: string, check: QuotaCheck, at: string): CounterRow {
    tx.insert(quotaCounters)
      .values({ id: check.counterId, companyId, scope: check.scope, scopeId: check.scopeId, window: check.window, windowKey: check.windowKey, createdAt: at })
      .onConflictDoNothing()
      .run();
    return this.counterById.get({ id: check.counterId })!;
  }

  /**
   * Settles a held request: releases its hold, then burns `outcome.meteredTokens` (tokens grants) or
   * `outcome.costMicroUsd` (USD grants) first from the grants it held, then from the company's other
   * active grants covering the model, in burn order, writing one debit per grant touched. What none
   * can cover overdraws the first grant (bounded by the request's use beyond its hold). The quota
   * windows the request held (those of its admission) are charged the same tokens and cost.
   * Idempotent: returns false and changes nothing if the request is not `held`.
   */
  settle(requestId: string, outcome: Outcome, now: Date): boolean {
    return this.finish(requestId, 'settled', outcome, now);
  }

  /** Voids a held request: releases its hold, charges nothing, records the outcome. Idempotent like `settle`. */
  void(requestId: string, outcome: Omit<Outcome, 'meteredTokens' | 'costMicroUsd'>, now: Date): boolean {
    return this.finish(requestId, 'voided', { ...outcome, meteredTokens: 0, costMicroUsd: 0 }, now);
  }

  /**
   * Crash recovery, run at start before serving. Every request still `held` belonged to a process
   * that died mid-request; no usage was read for it. It is marked `interrupted` and its hold
   * released; with `charge_prompt` it is billed its counted prompt tokens (usage source
   * `estimated`, priced by `priceOf`), with `release` nothing. Returns the ids it resolved.
   */
  recoverOpenHolds(now: Date, policy: InterruptedPolicy, priceOf: (model: string | null, usage: Usage) => number): string[] {
    const open = this.db.select().from(requests).where(eq(requests.status, 'held')).all();
    for (const r of open) {
      const prompt = policy === 'charge_prompt' ? r.estimatedPromptTokens : 0;
      const usage = { inputTokens: prompt, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0, totalTokens: prompt };
      this.finish(
        r.id,
        'interrupted',
        { httpStatus: null, usage, usageSource: prompt > 0 ? 'estimated' : 'none', meteredTokens: prompt, costMicroUsd: prompt > 0 ? priceOf(r.requestedModel, usage) : 0, latencyMs: 0, errorCode: 'interrupted' },
        now,
      );
    }
    return open.map((r) => r.id);
  }

  private finish(requestId: string, status: 'settled' | 'voided' | 'interrupted', outcome: Outcome, now: Date): boolean {
    const at = iso(now);
    return this.db.transaction(
      (tx) => {
        let o = outcome;
        if (o.billedObject && status === 'settled' && (tx.select({ s: requests.status }).from(requests).where(eq(requests.id, requestId)).get()?.s === 'held')) {
          const first = tx.insert(billedObjects).values({ objectId: o.billedObject.id, kind: o.billedObject.kind, requestId, billedAt: at }).onConflictDoNothing().run();
          // Already billed on another row: record what was seen, charge nothing.
          if (first.changes === 0) o = { ...o, meteredTokens: 0, costMicroUsd: 0, errorCode: o.errorCode ?? 'already_billed' };
        }
        const u = o.usage;
        const changedRows = tx
          .update(requests)
          .set({
            status,
            httpStatus: o.httpStatus,
            returnedModel: o.returnedModel ?? null,
            ...(o.model ? { requestedModel: sql`COALESCE(${requests.requestedModel}, ${o.model})` } : {}),
            priceVersion: o.priceVersion ?? null,
            inputTokens: u?.inputTokens ?? 0,
            cachedInputTokens: u?.cachedInputTokens ?? 0,
            outputTokens: u?.outputTokens ?? 0,
            reasoningTokens: u?.reasoningTokens ?? 0,
            totalTokens: u?.totalTokens ?? 0,
            meteredTokens: o.meteredTokens,
            costMicroUsd: o.costMicroUsd,
            usageSource: o.usageSource,
            latencyMs: o.latencyMs,
            ttfbMs: o.ttfbMs ?? null,
            upstreamRequestId: o.upstreamRequestId ?? null,
            errorCode: o.errorCode ?? null,
            settledAt: at,
          })
          .where(and(eq(requests.id, requestId), eq(requests.status, 'held')))
          .run();
        if (changedRows.changes === 0) return false;

        const held = this.holdsOf.all({ requestId });
        for (const h of held) {
          tx.update(grants)
            .set({ held: sql`${grants.held} - ${h.amount}` })
            .where(eq(grants.id, h.grantId))
            .run();
        }
        if (held.length) tx.delete(holds).where(eq(holds.requestId, requestId)).run();
        const charged = status !== 'voided';
        const quotaHeld = this.quotaHoldsOf.all({ requestId });
        for (const h of quotaHeld) {
          tx.update(quotaCounters)
            .set({
              heldTokens: sql`${quotaCounters.heldTokens} - ${h.tokens}`,
              heldMicroUsd: sql`${quotaCounters.heldMicroUsd} - ${h.microUsd}`,
              spentTokens: sql`${quotaCounters.spentTokens} + ${charged ? o.meteredTokens : 0}`,
              spentMicroUsd: sql`${quotaCounters.spentMicroUsd} + ${charged ? o.costMicroUsd : 0}`,
            })
            .where(eq(quotaCounters.id, h.counterId))
            .run();
        }
        if (quotaHeld.length) tx.delete(quotaHolds).where(eq(quotaHolds.requestId, requestId)).run();
        if (o.meteredTokens > 0 || o.costMicroUsd > 0) this.burn(tx, requestId, held.map((h) => h.grantId), o, at);
        return true;
      },
      { behavior: 'immediate' },
    );
  }

  private burn(tx: Tx, requestId: string, heldIds: string[], o: Outcome, at: string): void {
    const row = this.rowById.get({ id: requestId })!;
    const heldGrants = this.grantsOf
      .all({ companyId: row.companyId })
      .filter((g) => heldIds.includes(g.id))
      .map(toState);
    // A held grant removed from the config since admission still takes the request it reserved.
    for (const id of heldIds) {
      if (!heldGrants.some((g) => g.id === id)) {
        const g = this.grantById.get({ id });
        if (g) heldGrants.push(toState(g));
      }
    }
    const others = this.eligible(row.companyId, row.requestedModel, at).filter((g) => !heldIds.includes(g.id));
    for (const part of planBurn([...unlimitedFirst(heldGrants), ...others], o.meteredTokens, o.costMicroUsd)) {
      tx.insert(debits).values({ requestId, grantId: part.grantId, unit: part.unit, amount: part.amount, overdraft: part.overdraft, createdAt: at }).run();
      tx.update(grants)
        .set({ spent: sql`${grants.spent} + ${part.amount}` })
        .where(eq(grants.id, part.grantId))
        .run();
    }
  }

  /** The company's balance at `now`: every grant still in the config, with its standing. */
  balance(companyId: string, now: Date): Balance {
    const at = iso(now);
    const list: GrantBalance[] = this.grantsOf.all({ companyId }).map((row) => {
      const g = toState(row);
      const left = remaining(g);
      return {
        id: g.id,
        unit: g.unit,
        unlimited: g.unlimited,
        models: g.models,
        amount: g.amount,
        spent: g.spent,
        held: g.held,
        remaining: left === Infinity ? null : left,
        active: isActive(g, at),
        startsAt: g.startsAt,
        expiresAt: g.expiresAt,
        purchaseId: row.purchaseId,
      };
    });
    const active = list.filter((g) => g.active);
    const sum = (unit: GrantBalance['unit']) => active.filter((g) => g.unit === unit && !g.unlimited).reduce((s, g) => s + (g.remaining ?? 0), 0);
    return {
      companyId,
      tokens: sum('tokens'),
      microUsd: sum('micro_usd'),
      unlimitedModels: active.filter((g) => g.unlimited).flatMap((g) => g.models ?? []),
      grants: list,
    };
  }
}

function changed(existing: GrantRow, terms: Partial<GrantRow>): boolean {
  return (Object.keys(terms) as (keyof GrantRow)[]).some((k) => k !== 'updatedAt' && existing[k] !== terms[k]);
}
