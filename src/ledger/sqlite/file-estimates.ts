import type Database from 'better-sqlite3';
import type { FileEstimate, FileEstimateStore, FileModelEstimate } from '../port.js';
import type { LedgerQueue } from './queue.js';

/**
 * `FileEstimateStore` on the ledger's SQLite file (table `file_estimates`, `models` as JSON text).
 * Writes and reads go through the ledger's `LedgerQueue`: an estimate recorded while answering an
 * upload is seen by the next request's lookup.
 */
export class SqliteFileEstimates implements FileEstimateStore {
  private readonly insert: Database.Statement;
  private readonly select: Database.Statement;

  constructor(
    sqlite: Database.Database,
    private readonly queue: LedgerQueue,
  ) {
    this.insert = sqlite.prepare(
      `INSERT OR IGNORE INTO file_estimates (file_id, company_id, purpose, request_id, created_at, lines, unusable, models)
       VALUES (@fileId, @companyId, @purpose, @requestId, @createdAt, @lines, @unusable, @models)`,
    );
    this.select = sqlite.prepare(
      `SELECT file_id AS fileId, company_id AS companyId, purpose, request_id AS requestId, created_at AS createdAt,
              lines, unusable, models FROM file_estimates WHERE file_id = ?`,
    );
  }

  record(e: FileEstimate): Promise<void> {
    return this.queue.run(() => {
      this.insert.run({ ...e, models: JSON.stringify(e.models) });
    });
  }

  get(fileId: string): Promise<FileEstimate | undefined> {
    return this.queue.run(() => {
      const row = this.select.get(fileId) as (Omit<FileEstimate, 'models'> & { models: string }) | undefined;
      return row ? { ...row, models: JSON.parse(row.models) as FileModelEstimate[] } : undefined;
    });
  }
}
