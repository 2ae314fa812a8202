import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import type { Config } from '../config/schema.js';
import type { Usage } from '../metering/usage.js';
import { debits, grants, holds, requests } from './schema.js';
import * as schema from './schema.js';

type Db = BetterSQLite3Database<typeof schema>;
type GrantRow = typeof grants.$inferSelect;

/** What a request asks to reserve, in tokens. */
export interface HoldRequest {
  /** Tokens the request costs at the very least (its counted prompt). */
  minTokens: number;
  /** Tokens it can cost at worst (prompt + its output ceiling). */
  maxTokens: number;
  /** When the balance cannot cover `maxTokens`, hold what is left if it exceeds `minTokens`. */
  clamp: boolean;
}

/** The fixed facts of a request, recorded on its row at admission. */
export interface RequestFacts {
  id: string;
  companyId: string;
  keyId: string | null;
  endpoint: string;
  requestedModel: string | null;
  stream: boolean;
}

/** Outcome of `admit`: a hold of `holdTokens`, or a refusal with the balance that was left. */
export type AdmitResult = { ok: true; holdTokens: number } | { ok: false; availableTokens: number };

/** What the proxy learned by the end of a request, written on its row by `settle` or `void`. */
export interface Outcome {
  httpStatus: number | null;
  usage?: Usage;
  usageSource: 'upstream' | 'estimated' | 'none';
  /** Tokens to charge to grants. */
  meteredTokens: number;
  costMicroUsd: number;
  returnedModel?: string;
  latencyMs: number;
  ttfbMs?: number;
  upstreamRequestId?: string;
  errorCode?: string;
}

/** One grant's standing, for balance reports. Amounts in tokens. */
export interface GrantBalance {
  id: string;
  amountTokens: number;
  spentTokens: number;
  heldTokens: number;
  remainingTokens: number;
  active: boolean;
  startsAt: string | null;
  expiresAt: string | null;
}

/** A company's balance at an instant: the sum of `remainingTokens` over its active grants. */
export interface Balance {
  companyId: string;
  availableTokens: number;
  grants: GrantBalance[];
}

const iso = (d: Date) => d.toISOString();

function isActive(g: GrantRow, now: string): boolean {
  return !g.removedAt && (!g.startsAt || g.startsAt <= now) && (!g.expiresAt || g.expiresAt > now);
}

const remaining = (g: GrantRow) => Math.max(0, g.amountTokens - g.spentTokens - g.heldTokens);

/**
 * The ledger: grants, two-phase holds and debits in SQLite.
 *
 * Every mutation runs in one `BEGIN IMMEDIATE` transaction, so admissions racing on the same
 * grants are serialised by SQLite's write lock. Grants burn in this order: earliest `expires_at`
 * first (no expiry last), then earliest `starts_at`, then `id`. Running totals on `grants`
 * (`spent_tokens`, `held_tokens`) keep admission independent of the ledger's size.
 */
export class Ledger {
  private readonly grantsOf;
  private readonly grantById;
  private readonly holdsOf;

  constructor(private readonly db: Db) {
    const burnOrder = [sql`${grants.expiresAt} IS NULL`, asc(grants.expiresAt), asc(grants.startsAt), asc(grants.id)];
    this.grantsOf = db
      .select()
      .from(grants)
      .where(and(eq(grants.companyId, sql.placeholder('companyId')), isNull(grants.removedAt)))
      .orderBy(...burnOrder)
      .prepare();
    this.grantById = db.select().from(grants).where(eq(grants.id, sql.placeholder('id'))).prepare();
    this.holdsOf = db.select().from(holds).where(eq(holds.requestId, sql.placeholder('requestId'))).prepare();
  }

  /**
   * Mirrors the config's allocations into `grants`: new ones are inserted, edited ones take their new
   * terms, and ones no longer in the config are marked removed. Spent and held totals, debits and
   * request rows are never rewritten.
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
              amountTokens: a.tokens,
              startsAt: a.startsAt ? iso(a.startsAt) : null,
              expiresAt: a.expiresAt ? iso(a.expiresAt) : null,
              note: a.note ?? null,
              removedAt: null,
            };
            tx.insert(grants)
              .values({ id: a.id, createdAt: at, ...terms })
              .onConflictDoUpdate({ target: grants.id, set: terms })
              .run();
          }
        }
        for (const g of tx.select({ id: grants.id }).from(grants).where(isNull(grants.removedAt)).all()) {
          if (!present.has(g.id)) tx.update(grants).set({ removedAt: at }).where(eq(grants.id, g.id)).run();
        }
      },
      { behavior: 'immediate' },
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
   * Admission: in one transaction, checks the company's active grants and either places a hold
   * (spread over grants in burn order) and writes the request row with status `held`, or refuses.
   * A hold is always at least 1 token, so a company with nothing left is refused.
   */
  admit(facts: RequestFacts, want: HoldRequest, now: Date): AdmitResult {
    const at = iso(now);
    return this.db.transaction(
      (tx) => {
        const active = this.grantsOf.all({ companyId: facts.companyId }).filter((g) => isActive(g, at));
        const available = active.reduce((sum, g) => sum + remaining(g), 0);
        const min = Math.max(1, want.minTokens);
        const max = Math.max(min, want.maxTokens);
        let hold: number;
        if (available >= max) hold = max;
        else if (want.clamp && available > min) hold = available;
        else return { ok: false, availableTokens: available };

        tx.insert(requests)
          .values({ ...facts, createdAt: at, status: 'held', holdTokens: hold })
          .run();
        let need = hold;
        for (const g of active) {
          const take = Math.min(remaining(g), need);
          if (take === 0) continue;
          tx.insert(holds).values({ requestId: facts.id, grantId: g.id, tokens: take }).run();
          tx.update(grants)
            .set({ heldTokens: sql`${grants.heldTokens} + ${take}` })
            .where(eq(grants.id, g.id))
            .run();
          need -= take;
          if (need === 0) break;
        }
        return { ok: true, holdTokens: hold };
      },
      { behavior: 'immediate' },
    );
  }

  /**
   * Settles a held request: releases its hold, burns `outcome.meteredTokens` (first from the grants
   * it held, then from the company's other active grants, in burn order; any excess over what they
   * have left overdraws the first of them) and writes one debit per grant touched.
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
   * Crash recovery, run at start before serving: every request still `held` (its process died
   * mid-request) is marked `interrupted`, its hold released and nothing charged, since no usage
   * was ever read for it. Returns the ids it resolved.
   */
  recoverOpenHolds(now: Date): string[] {
    const open = this.db.select({ id: requests.id }).from(requests).where(eq(requests.status, 'held')).all();
    for (const { id } of open) {
      this.finish(id, 'interrupted', { httpStatus: null, usageSource: 'none', meteredTokens: 0, costMicroUsd: 0, latencyMs: 0, errorCode: 'interrupted' }, now);
    }
    return open.map((r) => r.id);
  }

  private finish(requestId: string, status: 'settled' | 'voided' | 'interrupted', o: Outcome, now: Date): boolean {
    const at = iso(now);
    return this.db.transaction(
      (tx) => {
        const u = o.usage;
        const changed = tx
          .update(requests)
          .set({
            status,
            httpStatus: o.httpStatus,
            returnedModel: o.returnedModel ?? null,
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
        if (changed.changes === 0) return false;

        const held = this.holdsOf.all({ requestId });
        for (const h of held) {
          tx.update(grants)
            .set({ heldTokens: sql`${grants.heldTokens} - ${h.tokens}` })
            .where(eq(grants.id, h.grantId))
            .run();
        }
        tx.delete(holds).where(eq(holds.requestId, requestId)).run();
        if (o.meteredTokens > 0) this.burn(tx, requestId, held.map((h) => h.grantId), o.meteredTokens, at);
        return true;
      },
      { behavior: 'immediate' },
    );
  }

  private burn(tx: Parameters<Parameters<Db['transaction']>[0]>[0], requestId: string, heldIds: string[], tokens: number, at: string): void {
    const heldGrants = heldIds.map((id) => this.grantById.get({ id })).filter((g): g is GrantRow => !!g);
    const companyId = heldGrants[0]?.companyId ?? tx.select({ c: requests.companyId }).from(requests).where(eq(requests.id, requestId)).get()?.c;
    const others = companyId ? this.grantsOf.all({ companyId }).filter((g) => isActive(g, at) && !heldIds.includes(g.id)) : [];
    const order = [...heldGrants, ...others];
    const take = new Map<string, number>();
    let need = tokens;
    for (const g of order) {
      const t = Math.min(remaining(g), need);
      if (t > 0) take.set(g.id, t);
      need -= t;
      if (need === 0) break;
    }
    const first = order[0];
    if (need > 0 && first) take.set(first.id, (take.get(first.id) ?? 0) + need);
    for (const [grantId, t] of take) {
      tx.insert(debits).values({ requestId, grantId, tokens: t, createdAt: at }).run();
      tx.update(grants)
        .set({ spentTokens: sql`${grants.spentTokens} + ${t}` })
        .where(eq(grants.id, grantId))
        .run();
    }
  }

  /** The company's balance at `now`: every grant not removed, with its standing. */
  balance(companyId: string, now: Date): Balance {
    const at = iso(now);
    const rows = this.grantsOf.all({ companyId });
    const list = rows.map((g) => ({
      id: g.id,
      amountTokens: g.amountTokens,
      spentTokens: g.spentTokens,
      heldTokens: g.heldTokens,
      remainingTokens: remaining(g),
      active: isActive(g, at),
      startsAt: g.startsAt,
      expiresAt: g.expiresAt,
    }));
    return { companyId, availableTokens: list.filter((g) => g.active).reduce((s, g) => s + g.remainingTokens, 0), grants: list };
  }
}
