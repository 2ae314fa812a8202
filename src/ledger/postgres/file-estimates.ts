import type { FileEstimate, FileEstimateStore, FileModelEstimate } from '../port.js';
import type { Queryable } from './db.js';

/**
 * `FileEstimateStore` on the Postgres ledger (table `file_estimates`, `models` as JSON text), shared
 * by every replica; first writer wins (`ON CONFLICT DO NOTHING`). As for object owners, `get` first
 * waits for this process's records still in flight, so it sees every `record` called before it.
 */
export class PgFileEstimates implements FileEstimateStore {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly pool: Queryable) {}

  record(e: FileEstimate): Promise<void> {
    const done = this.pool
      .query(
        `INSERT INTO file_estimates (file_id, company_id, purpose, request_id, created_at, lines, unusable, models)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (file_id) DO NOTHING`,
        [e.fileId, e.companyId, e.purpose, e.requestId, e.createdAt, e.lines, e.unusable, JSON.stringify(e.models)],
      )
      .then(() => {});
    const tracked = done.catch(() => {});
    this.inFlight.add(tracked);
    void tracked.then(() => this.inFlight.delete(tracked));
    return done;
  }

  async get(fileId: string): Promise<FileEstimate | undefined> {
    if (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    const { rows } = await this.pool.query<{
      fileId: string;
      companyId: string;
      purpose: string;
      requestId: string;
      createdAt: Date;
      lines: string | number;
      unusable: string | null;
      models: string;
    }>(
      `SELECT file_id AS "fileId", company_id AS "companyId", purpose, request_id AS "requestId", created_at AS "createdAt",
              lines, unusable, models FROM file_estimates WHERE file_id = $1`,
      [fileId],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      ...r,
      createdAt: new Date(r.createdAt).toISOString(),
      lines: Number(r.lines),
      models: JSON.parse(r.models) as FileModelEstimate[],
    };
  }
}
