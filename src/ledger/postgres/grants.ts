import type pg from 'pg';
import { compareBurnOrder, type GrantState } from '../allocate.js';
import { balanceFrom } from '../balance.js';
import type { Balance } from '../port.js';

/** The grants as the Postgres adapter reads them: rows, their state, their orders, the balance. */

/** A `grants` row as the pool returns it (numbers, booleans, ISO strings). */
export interface GrantRow {
  id: string;
  company_id: string;
  unit: 'tokens' | 'micro_usd';
  amount: number;
  unlimited: boolean;
  models: string | null;
  starts_at: string | null;
  expires_at: string | null;
  purchase_id: string | null;
  priority: number;
  removed_at: string | null;
  spent: number;
  held: number;
  created_at: string;
}

const parsedModels = new Map<string, string[]>();

/** A row's state for the pure arithmetic (allocate.ts). */
export function stateOf(r: GrantRow): GrantState {
  let models: string[] | null = null;
  if (r.models !== null) {
    models = parsedModels.get(r.models) ?? JSON.parse(r.models);
    parsedModels.set(r.models, models!);
  }
  return {
    id: r.id,
    unit: r.unit,
    priority: r.priority,
    amount: r.amount,
    unlimited: r.unlimited,
    spent: r.spent,
    held: r.held,
    models,
    startsAt: r.starts_at,
    expiresAt: r.expires_at,
    removedAt: r.removed_at,
  };
}

/** The grants in the order of `compareBurnOrder` (allocate.ts): priority, soonest expiry (none last), oldest start (or first mirrored), id. */
export function expiryOrder(rows: GrantRow[]): GrantRow[] {
  return [...rows].sort((a, b) =>
    compareBurnOrder(
      { id: a.id, priority: a.priority, expiresAt: a.expires_at, startsAt: a.starts_at, createdAt: a.created_at },
      { id: b.id, priority: b.priority, expiresAt: b.expires_at, startsAt: b.starts_at, createdAt: b.created_at },
    ),
  );
}

/** The company's balance at `now` (no lock: a consistent snapshot of one statement). */
export async function balanceOf(c: pg.Pool | pg.PoolClient, companyId: string, now: Date): Promise<Balance> {
  const { rows } = await c.query<GrantRow>('SELECT * FROM grants WHERE company_id = $1 AND removed_at IS NULL', [
    companyId,
  ]);
  return balanceFrom(
    companyId,
    expiryOrder(rows).map((row) => ({ state: stateOf(row), purchaseId: row.purchase_id })),
    now.toISOString(),
  );
}
