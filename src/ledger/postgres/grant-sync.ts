import type pg from 'pg';
import { DEFAULT_PRIORITY } from '../allocate.js';
import type { GrantTerms, PurchaseTerms } from '../port.js';

/** The transaction-level advisory lock key under which grant sync runs: replicas starting or reloading together sync one at a time. */
const SYNC_LOCK = 7_406_211_402;

interface Existing {
  id: string;
  company_id: string;
  unit: string;
  spent: number;
  held: number;
  amount: number;
  unlimited: boolean;
  models: string | null;
  starts_at: string | null;
  expires_at: string | null;
  purchase_id: string | null;
  note: string | null;
  priority: number;
  removed_at: string | null;
}

/**
 * Mirrors the config's grants and purchases (see `LedgerWriter.syncGrants`) inside the caller's
 * transaction, under an advisory lock, with every grant row locked in id order first (the lock order
 * admissions follow, so a sync never deadlocks with them). Idempotent: a replica syncing the same
 * config after another changes nothing. A `createOnly` grant is inserted when absent and otherwise
 * left as it is (only brought back if removed), so the first replica to create it (a rollover
 * grant) fixes its amount.
 * @throws Error when a grant moved to another company, or changed unit after use (the caller rolls back).
 */
export async function syncGrantsIn(
  c: pg.PoolClient,
  terms: GrantTerms[],
  purchaseTerms: PurchaseTerms[],
  now: Date,
): Promise<void> {
  const at = now.toISOString();
  await c.query('SELECT pg_advisory_xact_lock($1)', [SYNC_LOCK]);
  const { rows } = await c.query<Existing>('SELECT * FROM grants ORDER BY id COLLATE "C" FOR UPDATE');
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const t of terms) {
    const existing = byId.get(t.id);
    if (existing && existing.company_id !== t.companyId)
      throw new Error(
        `allocation "${t.id}" moved from company "${existing.company_id}" to "${t.companyId}"; give it a new id`,
      );
    if (existing && existing.unit !== t.unit && (existing.spent !== 0 || existing.held !== 0))
      throw new Error(`allocation "${t.id}" changed unit after use; give it a new id`);
    const models = t.models ? JSON.stringify(t.models) : null;
    const values = [
      t.id,
      t.companyId,
      t.unit,
      t.amount,
      t.unlimited,
      models,
      t.startsAt,
      t.expiresAt,
      t.purchaseId,
      t.note,
      at,
      t.priority ?? DEFAULT_PRIORITY,
    ];
    if (!existing) {
      await c.query(
        `INSERT INTO grants (id, company_id, unit, amount, unlimited, models, starts_at, expires_at, purchase_id, note, created_at, updated_at, priority)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)`,
        values,
      );
    } else if (t.createOnly) {
      // Kept as created; only brought back when it had been removed.
      if (existing.removed_at !== null)
        await c.query('UPDATE grants SET removed_at = NULL, updated_at = $2 WHERE id = $1', [t.id, at]);
    } else if (changed(existing, t, models)) {
      await c.query(
        `UPDATE grants SET company_id = $2, unit = $3, amount = $4, unlimited = $5, models = $6, starts_at = $7, expires_at = $8, purchase_id = $9, note = $10,
           removed_at = NULL, updated_at = $11, priority = $12 WHERE id = $1`,
        values,
      );
    }
  }
  await c.query(
    'UPDATE grants SET removed_at = $1, updated_at = $1 WHERE removed_at IS NULL AND NOT (id = ANY($2::text[]))',
    [at, terms.map((t) => t.id)],
  );
  for (const p of purchaseTerms) {
    await c.query(
      `INSERT INTO purchases (id, date, total_tokens, cost_per_token_usd, provider, expires_at, notes, removed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)
       ON CONFLICT (id) DO UPDATE SET date = EXCLUDED.date, total_tokens = EXCLUDED.total_tokens, cost_per_token_usd = EXCLUDED.cost_per_token_usd,
         provider = EXCLUDED.provider, expires_at = EXCLUDED.expires_at, notes = EXCLUDED.notes, removed_at = NULL`,
      [p.id, p.date, p.totalTokens, p.costPerTokenUsd, p.provider, p.expiresAt, p.notes],
    );
  }
  await c.query('UPDATE purchases SET removed_at = $1 WHERE removed_at IS NULL AND NOT (id = ANY($2::text[]))', [
    at,
    purchaseTerms.map((p) => p.id),
  ]);
}

const same = (a: string | null, b: string | null) =>
  a === null || b === null ? a === b : new Date(a).getTime() === new Date(b).getTime();

function changed(e: Existing, t: GrantTerms, models: string | null): boolean {
  return (
    e.unit !== t.unit ||
    e.amount !== t.amount ||
    e.unlimited !== t.unlimited ||
    e.models !== models ||
    !same(e.starts_at, t.startsAt) ||
    !same(e.expires_at, t.expiresAt) ||
    e.purchase_id !== t.purchaseId ||
    e.note !== t.note ||
    e.priority !== (t.priority ?? DEFAULT_PRIORITY) ||
    e.removed_at !== null
  );
}
