import { desc, eq, inArray, sql } from 'drizzle-orm';
import type { AlertRecord, CounterState, LedgerReader } from '../port.js';
import type { LedgerHandle } from './db.js';
import { alerts, quotaCounters, requests } from './schema.js';

/** The dashboard's reads of the SQLite ledger (the `LedgerReader` methods `quotaCounters`, `openHoldsByCompany`, `recentAlerts`). */
export type DashboardReads = Pick<LedgerReader, 'quotaCounters' | 'openHoldsByCompany' | 'recentAlerts'>;

/** Implements the dashboard's reads on a drizzle handle of the ledger (`SqliteReader` delegates to it). Read-only. */
export function dashboardReads(db: LedgerHandle): DashboardReads {
  return {
    async quotaCounters(ids: string[]): Promise<CounterState[]> {
      if (ids.length === 0) return [];
      return db
        .select({
          id: quotaCounters.id,
          spentTokens: quotaCounters.spentTokens,
          heldTokens: quotaCounters.heldTokens,
          spentMicroUsd: quotaCounters.spentMicroUsd,
          heldMicroUsd: quotaCounters.heldMicroUsd,
        })
        .from(quotaCounters)
        .where(inArray(quotaCounters.id, ids))
        .all();
    },
    async openHoldsByCompany(): Promise<Record<string, number>> {
      const rows = db
        .select({ companyId: requests.companyId, n: sql<number>`count(*)` })
        .from(requests)
        .where(eq(requests.status, 'held'))
        .groupBy(requests.companyId)
        .all();
      return Object.fromEntries(rows.map((r) => [r.companyId, Number(r.n)]));
    },
    async recentAlerts(companyId: string, limit: number): Promise<AlertRecord[]> {
      return db
        .select({
          key: alerts.key,
          kind: alerts.kind,
          companyId: alerts.companyId,
          firedAt: alerts.firedAt,
          payload: alerts.payload,
        })
        .from(alerts)
        .where(eq(alerts.companyId, companyId))
        .orderBy(desc(alerts.firedAt))
        .limit(limit)
        .all();
    },
  };
}
