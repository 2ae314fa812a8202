import type { ObjectKind, ObjectOwner, ObjectStore, OwnedObject } from '../port.js';
import type { Queryable } from './db.js';

/**
 * `ObjectStore` on the Postgres ledger (table `objects`), shared by every replica. `record` is one
 * statement, first writer wins (`ON CONFLICT DO NOTHING`, also within one call: the first of two
 * equal ids is kept), and resolves once committed. Callers record without waiting (the relay
 * observes an answer), so `owners` first waits for this process's records still in flight: the
 * port's rule, an `owners` sees every `record` called before it, holds in each process; on another
 * replica it holds once the record resolved.
 */
export class PgObjectStore implements ObjectStore {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly pool: Queryable) {}

  record(objects: OwnedObject[]): Promise<void> {
    if (objects.length === 0) return Promise.resolve();
    const done = this.insert(objects);
    const tracked = done.then(
      () => {},
      () => {},
    );
    this.inFlight.add(tracked);
    void tracked.then(() => this.inFlight.delete(tracked));
    return done;
  }

  private async insert(objects: OwnedObject[]): Promise<void> {
    const col = <K extends keyof OwnedObject>(k: K) => objects.map((o) => o[k]);
    await this.pool.query(
      `INSERT INTO objects (id, kind, company_id, key_id, user_id, request_id, created_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
       ON CONFLICT (id) DO NOTHING`,
      [col('id'), col('kind'), col('companyId'), col('keyId'), col('userId'), col('requestId'), col('createdAt')],
    );
  }

  async owners(ids: readonly string[]): Promise<Map<string, ObjectOwner>> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return new Map();
    if (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    const { rows } = await this.pool.query<{
      id: string;
      kind: ObjectKind;
      companyId: string;
      keyId: string | null;
      userId: string | null;
    }>(
      `SELECT id, kind, company_id AS "companyId", key_id AS "keyId", user_id AS "userId" FROM objects WHERE id = ANY($1::text[])`,
      [unique],
    );
    return new Map(rows.map((r) => [r.id, { kind: r.kind, companyId: r.companyId, keyId: r.keyId, userId: r.userId }]));
  }
}
