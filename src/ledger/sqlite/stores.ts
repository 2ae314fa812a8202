import { and, desc, eq, sql } from 'drizzle-orm';
import type { AlertRecord, AlertStore, QuotaRequestRecord, QuotaRequestStore } from '../port.js';
import type { LedgerHandle } from './db.js';
import { alerts, quotaRequests } from './schema.js';

/** Quota-increase requests in the `quota_requests` table (`requested` stored as JSON text). */
export class SqliteQuotaRequests implements QuotaRequestStore {
  constructor(private readonly db: LedgerHandle) {}

  async add(r: QuotaRequestRecord): Promise<void> {
    this.db
      .insert(quotaRequests)
      .values({ ...r, requested: JSON.stringify(r.requested) })
      .run();
  }

  async list(companyId: string, userId?: string): Promise<QuotaRequestRecord[]> {
    const where =
      userId === undefined
        ? eq(quotaRequests.companyId, companyId)
        : and(eq(quotaRequests.companyId, companyId), eq(quotaRequests.userId, userId));
    return this.db
      .select()
      .from(quotaRequests)
      .where(where)
      .orderBy(desc(quotaRequests.createdAt))
      .all()
      .map((r) => ({ ...r, requested: JSON.parse(r.requested) as Record<string, unknown> }));
  }
}

/** Fired alerts in the `alerts` table; its primary key (`key`) makes each fire once. */
export class SqliteAlerts implements AlertStore {
  constructor(private readonly db: LedgerHandle) {}

  async record(alert: AlertRecord): Promise<boolean> {
    return this.db.insert(alerts).values(alert).onConflictDoNothing().run().changes > 0;
  }

  async attempted(key: string, deliveredAt: string | null): Promise<void> {
    this.db
      .update(alerts)
      .set({ attempts: sql`${alerts.attempts} + 1`, ...(deliveredAt ? { deliveredAt } : {}) })
      .where(eq(alerts.key, key))
      .run();
  }
}
