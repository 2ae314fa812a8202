import type pg from 'pg';
import type { GrantState } from '../allocate.js';
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

/** The grants in the order of the SQLite ledger's `grantsOf`: earliest expiry (none last), then the oldest start (or first mirrored), then id. */
export function expiryOrder(rows: GrantRow[]): GrantRow[] {
  const key = (r: GrantRow) =>
    [r.expires_at === null ? 1 : 0, r.expires_at ?? '', r.starts_at ?? r.created_at, r.id] as const;
  const sorted = [...rows].sort((a, b) => {
    const x = key(a);
    const y = key(b);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
    return 0;
  });
  return sorted;
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
