import type { GrantState, Part } from '../allocate.js';
import { balanceFrom } from '../balance.js';
import type { Balance, CounterState } from '../port.js';
import type { OrphanRow } from '../recovery.js';
import type { GrantRecord, Statements } from './statements.js';

const parsedModels = new Map<string, string[]>();

/** The `models` column (a JSON array, or NULL for every model) as a list, parsed once per distinct text. */
export function models(json: string | null): string[] | null {
  if (json === null) return null;
  let list = parsedModels.get(json);
  if (!list) parsedModels.set(json, (list = JSON.parse(json) as string[]));
  return list;
}

/** A hot-path `grants` row as the allocation arithmetic's `GrantState`. */
export function recordToState(r: GrantRecord): GrantState {
  return {
    id: r.id,
    unit: r.unit,
    priority: r.priority,
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

/** The company's balance at `at` (ISO UTC): every grant still in the config, with its standing (see `balanceFrom`). */
export function companyBalance(sql: Statements, companyId: string, at: string): Balance {
  const grants = (sql.balanceOf.all(companyId) as (GrantRecord & { purchase_id: string | null })[]).map((row) => ({
    state: recordToState(row),
    purchaseId: row.purchase_id,
  }));
  return balanceFrom(companyId, grants, at);
}

/** A quota hold of an open row: the counter and what it holds (tokens, micro-USD). */
/** A row still `held` (not deferred), as recovery reads it; `instanceId` is the process that admitted it. */
export type HeldRow = OrphanRow & { id: string; forwarded: number | null; instanceId: string | null };

export interface QuotaHold {
  counterId: string;
  tokens: number;
  microUsd: number;
}

/** What settling an open row needs, kept from its admission: no re-read of the row or its holds. */
export interface OpenRow {
  companyId: string;
  requestedModel: string | null;
  holds: Part[];
  /** Its one hold is on the row (`requests.hold_grant_id`): no `holds` rows to delete. */
  holdsOnRow: boolean;
  quotaHolds: QuotaHold[];
}

/** Quota counters cached at most (one per user or key and window); past it the cache starts again empty. */
const MAX_COUNTERS = 50_000;

/**
 * The SQLite ledger's state carried in memory between statements: the grants (terms and running
 * totals, per company in burn order), the quota counters, and the holds of the rows this process
 * admitted and has not finished. Sound because one process writes a SQLite ledger (`WriterLock`):
 * nothing else changes these rows while it serves. Changes to running totals are applied here and
 * written once per transaction (`writeDirty`, absolute values) instead of one UPDATE per hold or
 * debit, so a group commit of many admissions and settles on one grant writes its row once.
 *
 * Invalidated (`reset`) when a transaction rolls back and after grant sync: the next use reads the
 * database again. Amounts in each grant's unit (tokens or micro-USD), counters in tokens and micro-USD.
 */
export class LedgerState {
  private companies = new Map<string, GrantState[]>();
  private grants = new Map<string, GrantState>();
  private counters = new Map<string, CounterState>();
  private readonly open = new Map<string, OpenRow>();
  /** Every row this process admitted and has not finished is in `open` (false after a reset). */
  private complete = true;
  private readonly dirtyGrants = new Set<GrantState>();
  private readonly dirtyCounters = new Set<CounterState>();

  constructor(private readonly sql: Statements) {}

  /** The company's grants still in the config, in burn order (see `SyncLedger`); the cached objects themselves. */
  grantsOf(companyId: string): GrantState[] {
    let list = this.companies.get(companyId);
    if (!list) {
      list = (this.sql.grantsOf.all(companyId) as GrantRecord[]).map((r) => this.cacheGrant(r));
      this.companies.set(companyId, list);
    }
    return list;
  }

  /** One grant by id, removed ones included; undefined when the ledger has none. */
  grant(id: string): GrantState | undefined {
    const cached = this.grants.get(id);
    if (cached) return cached;
    const record = this.sql.grantById.get(id) as GrantRecord | undefined;
    return record && this.cacheGrant(record);
  }

  private cacheGrant(r: GrantRecord): GrantState {
    const known = this.grants.get(r.id);
    if (known) return known;
    const g = recordToState(r);
    this.grants.set(g.id, g);
    return g;
  }

  /** Adds to a grant's running totals (held and spent, in its unit); written at the end of the transaction. */
  addToGrant(g: GrantState, held: number, spent: number): void {
    g.held += held;
    g.spent += spent;
    this.dirtyGrants.add(g);
  }

  /** The quota counter `id`, created empty in the ledger on first use (`create` inserts it). */
  counter(id: string, create: () => void): CounterState {
    let c = this.counters.get(id);
    if (!c) {
      create();
      c = this.sql.counterById.get(id) as CounterState;
      this.counters.set(id, c);
    }
    return c;
  }

  /** Adds to a counter's running totals (tokens, micro-USD); written at the end of the transaction. */
  addToCounter(c: CounterState, heldTokens: number, heldMicroUsd: number, spentTokens: number, spentMicroUsd: number) {
    c.heldTokens += heldTokens;
    c.heldMicroUsd += heldMicroUsd;
    c.spentTokens += spentTokens;
    c.spentMicroUsd += spentMicroUsd;
    this.dirtyCounters.add(c);
  }

  /** Remembers an open row's holds (admission), for its settle. */
  opened(requestId: string, row: OpenRow): void {
    this.open.set(requestId, row);
  }

  /**
   * Whether a row this process admitted may still be held: in memory and not finished, or not
   * known for sure since a reset forgot the open rows.
   */
  isOpen(requestId: string): boolean {
    return !this.complete || this.open.has(requestId);
  }

  /**
   * Takes an open row's facts for finishing it: from memory when this process admitted it, else
   * read from the ledger (a row admitted before a restart, or after a reset); undefined when the
   * row is not `held`.
   */
  take(requestId: string): OpenRow | undefined {
    const known = this.open.get(requestId);
    if (known) {
      this.open.delete(requestId);
      return known;
    }
    const head = this.sql.requestHead.get(requestId) as
      | {
          companyId: string;
          requestedModel: string | null;
          status: string;
          holdGrantId: string | null;
          holdAmount: number | null;
        }
      | undefined;
    if (!head || head.status !== 'held') return undefined;
    const onRow = head.holdGrantId !== null;
    return {
      companyId: head.companyId,
      requestedModel: head.requestedModel,
      holds: onRow
        ? [{ grantId: head.holdGrantId!, amount: head.holdAmount ?? 0 }]
        : (this.sql.holdsOf.all(requestId) as Part[]),
      holdsOnRow: onRow,
      quotaHolds: this.sql.quotaHoldsOf.all(requestId) as QuotaHold[],
    };
  }

  /** Writes the running totals changed since the last call (one UPDATE per grant or counter touched). */
  writeDirty(): void {
    for (const g of this.dirtyGrants) this.sql.setGrantTotals.run(g.held, g.spent, g.id);
    this.dirtyGrants.clear();
    for (const c of this.dirtyCounters)
      this.sql.setCounterTotals.run(c.heldTokens, c.heldMicroUsd, c.spentTokens, c.spentMicroUsd, c.id);
    this.dirtyCounters.clear();
    if (this.counters.size > MAX_COUNTERS) this.counters = new Map();
  }

  /** Forgets everything carried in memory (a rolled-back transaction, grant sync): the next use reads the ledger. */
  reset(): void {
    this.companies = new Map();
    this.grants = new Map();
    this.counters = new Map();
    this.open.clear();
    this.complete = false;
    this.dirtyGrants.clear();
    this.dirtyCounters.clear();
  }

  /** Forgets the grants only (grant sync rewrote their terms); open rows and counters stay valid. */
  resetGrants(): void {
    this.companies = new Map();
    this.grants = new Map();
  }
}
