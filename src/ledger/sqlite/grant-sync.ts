import { and, eq, isNull, notInArray, sql } from 'drizzle-orm';
import { DEFAULT_PRIORITY } from '../allocate.js';
import type { GrantTerms, PurchaseTerms } from '../port.js';
import type { LedgerHandle } from './db.js';
import { grants, purchases } from './schema.js';

type GrantRow = typeof grants.$inferSelect;

/**
 * Mirrors the config's grants and purchases into `grants` and `purchases`, in one `BEGIN IMMEDIATE`
 * transaction: new grants are inserted, edited ones take their new terms from now on (but a
 * `createOnly` one keeps the terms it was created with, and is only brought back if removed), and
 * ones absent are marked removed (they stop counting). Spent and held totals, debits and request rows
 * are never rewritten. Runs synchronously: the caller can swap its config before any other request
 * is admitted.
 * @throws Error when a grant moved to another company, or changed unit after use (nothing is written).
 */
export function syncGrants(db: LedgerHandle, terms: GrantTerms[], purchaseTerms: PurchaseTerms[], now: Date): void {
  const at = now.toISOString();
  const byId = db
    .select()
    .from(grants)
    .where(eq(grants.id, sql.placeholder('id')))
    .prepare();
  db.transaction(
    (tx) => {
      for (const t of terms) {
        const { id, createOnly, ...rest } = t;
        const row = {
          ...rest,
          priority: t.priority ?? DEFAULT_PRIORITY,
          models: t.models ? JSON.stringify(t.models) : null,
          removedAt: null,
          updatedAt: at,
        };
        const existing = byId.get({ id });
        if (existing && existing.companyId !== t.companyId)
          throw new Error(
            `allocation "${id}" moved from company "${existing.companyId}" to "${t.companyId}"; give it a new id`,
          );
        if (existing && existing.unit !== t.unit && (existing.spent !== 0 || existing.held !== 0))
          throw new Error(`allocation "${id}" changed unit after use; give it a new id`);
        if (!existing)
          tx.insert(grants)
            .values({ id, createdAt: at, ...row })
            .run();
        else if (createOnly) {
          // Kept as created; only brought back when it had been removed.
          if (existing.removedAt !== null)
            tx.update(grants).set({ removedAt: null, updatedAt: at }).where(eq(grants.id, id)).run();
        } else if (changed(existing, row)) tx.update(grants).set(row).where(eq(grants.id, id)).run();
      }
      const present = terms.map((t) => t.id);
      tx.update(grants)
        .set({ removedAt: at, updatedAt: at })
        .where(and(isNull(grants.removedAt), present.length ? notInArray(grants.id, present) : undefined))
        .run();
      for (const p of purchaseTerms) {
        const { id, ...row } = p;
        tx.insert(purchases)
          .values({ id, ...row, removedAt: null })
          .onConflictDoUpdate({ target: purchases.id, set: { ...row, removedAt: null } })
          .run();
      }
      const ids = purchaseTerms.map((p) => p.id);
      tx.update(purchases)
        .set({ removedAt: at })
        .where(and(isNull(purchases.removedAt), ids.length ? notInArray(purchases.id, ids) : undefined))
        .run();
    },
    { behavior: 'immediate' },
  );
}

function changed(existing: GrantRow, terms: Partial<GrantRow>): boolean {
  return (Object.keys(terms) as (keyof GrantRow)[]).some((k) => k !== 'updatedAt' && existing[k] !== terms[k]);
}
