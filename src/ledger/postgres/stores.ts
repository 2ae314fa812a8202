import type { Queryable } from './db.js';
import type { AlertRecord, AlertStore, QuotaRequestRecord, QuotaRequestStore } from '../port.js';

/** Quota-increase requests in the Postgres `quota_requests` table (`requested` stored as JSON text). */
export class PgQuotaRequests implements QuotaRequestStore {
  constructor(private readonly pool: Queryable) {}

  async add(r: QuotaRequestRecord): Promise<void> {
    await this.pool.query(
      'INSERT INTO quota_requests (id, created_at, company_id, user_id, requested, justification) VALUES ($1, $2, $3, $4, $5, $6)',
      [r.id, r.createdAt, r.companyId, r.userId, JSON.stringify(r.requested), r.justification],
    );
  }

  async list(companyId: string, userId?: string): Promise<QuotaRequestRecord[]> {
    const { rows } = await this.pool.query<{
      id: string;
      created_at: string;
      company_id: string;
      user_id: string;
      requested: string;
      justification: string;
    }>(
      'SELECT * FROM quota_requests WHERE company_id = $1 AND ($2::text IS NULL OR user_id = $2) ORDER BY created_at DESC',
      [companyId, userId ?? null],
    );
    return rows.map((r) => ({
      id: r.id,
      createdAt: r.created_at,
      companyId: r.company_id,
      userId: r.user_id,
      requested: JSON.parse(r.requested) as Record<string, unknown>,
      justification: r.justification,
    }));
  }
}

/** Fired alerts in the Postgres `alerts` table; its primary key makes each fire once across every replica. */
export class PgAlerts implements AlertStore {
  constructor(private readonly pool: Queryable) {}

  async record(a: AlertRecord): Promise<boolean> {
    const r = await this.pool.query(
      'INSERT INTO alerts (key, fired_at, kind, company_id, payload) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING',
      [a.key, a.firedAt, a.kind, a.companyId, a.payload],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async attempted(key: string, deliveredAt: string | null): Promise<void> {
    await this.pool.query(
      'UPDATE alerts SET attempts = attempts + 1, delivered_at = COALESCE($2, delivered_at) WHERE key = $1',
      [key, deliveredAt],
    );
  }
}
