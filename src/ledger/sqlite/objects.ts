import type Database from 'better-sqlite3';
import type { ObjectKind, ObjectOwner, ObjectStore, OwnedObject } from '../port.js';
import type { LedgerQueue } from './queue.js';

/** Most ids looked up in one statement (SQLite's default limit on bound parameters is 32,766). */
const CHUNK = 500;

/**
 * `ObjectStore` on the ledger's SQLite file (table `objects`). Writes and reads go through the
 * ledger's `LedgerQueue`, so they share its group commit and its order: an object recorded while
 * answering one request is seen by the next request's lookup.
 */
export class SqliteObjectStore implements ObjectStore {
  private readonly insert: Database.Statement;
  private readonly selects = new Map<number, Database.Statement>();

  constructor(
    private readonly sqlite: Database.Database,
    private readonly queue: LedgerQueue,
  ) {
    this.insert =
      sqlite.prepare(`INSERT OR IGNORE INTO objects (id, kind, company_id, key_id, user_id, request_id, created_at)
                                  VALUES (@id, @kind, @companyId, @keyId, @userId, @requestId, @createdAt)`);
  }

  record(objects: OwnedObject[]): Promise<void> {
    if (objects.length === 0) return Promise.resolve();
    return this.queue.run(() => {
      for (const o of objects) this.insert.run(o);
    });
  }

  owners(ids: readonly string[]): Promise<Map<string, ObjectOwner>> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return Promise.resolve(new Map());
    return this.queue.run(() => {
      const out = new Map<string, ObjectOwner>();
      for (let i = 0; i < unique.length; i += CHUNK) {
        const part = unique.slice(i, i + CHUNK);
        const rows = this.select(part.length).all(...part) as {
          id: string;
          kind: ObjectKind;
          companyId: string;
          keyId: string | null;
          userId: string | null;
        }[];
        for (const r of rows) out.set(r.id, { kind: r.kind, companyId: r.companyId, keyId: r.keyId, userId: r.userId });
      }
      return out;
    });
  }

  private select(n: number): Database.Statement {
    let s = this.selects.get(n);
    if (!s) {
      s = this.sqlite.prepare(
        `SELECT id, kind, company_id AS companyId, key_id AS keyId, user_id AS userId FROM objects WHERE id IN (${Array(n).fill('?').join(',')})`,
      );
      if (this.selects.size < 64) this.selects.set(n, s);
    }
    return s;
  }
}
