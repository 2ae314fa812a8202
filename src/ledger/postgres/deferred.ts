import type { DeferredObject, DeferredRequest, DeferredStore } from '../port.js';
import type { Queryable } from './db.js';

const COLUMNS = `object_id AS id, kind, request_id AS "requestId", company_id AS "companyId", model, multiplier, prompt_tokens AS "promptTokens", subject,
                 deferred_at AS "deferredAt", next_poll_at AS "nextPollAt", polls, misses`;

/**
 * `DeferredStore` on the Postgres ledger (table `deferred_objects`), shared by every replica. A
 * claim is one statement: the due rows are picked `FOR UPDATE SKIP LOCKED` (two replicas claiming
 * at once take different rows) and leased with `claimed_until`, so an object is polled by one
 * replica at a time and one whose replica died mid-poll is claimable again once the lease lapses.
 */
export class PgDeferredStore implements DeferredStore {
  /**
   * @param pool the ledger's connections.
   * @param onDeferred called with a request id once it is deferred (the ledger forgets its admission lane: another replica may settle it).
   */
  constructor(
    private readonly pool: Queryable,
    private readonly onDeferred: (requestId: string) => void = () => {},
  ) {}

  async defer(request: DeferredRequest, firstPollAt: Date, now: Date): Promise<boolean> {
    const r = await this.pool.query(
      `INSERT INTO deferred_objects (object_id, kind, request_id, company_id, model, multiplier, prompt_tokens, subject, deferred_at, next_poll_at)
       SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 WHERE EXISTS (SELECT 1 FROM requests WHERE id = $3 AND status = 'held')
       ON CONFLICT DO NOTHING`,
      [
        request.id,
        request.kind,
        request.requestId,
        request.companyId,
        request.model,
        request.multiplier,
        request.promptTokens,
        request.subject,
        now.toISOString(),
        firstPollAt.toISOString(),
      ],
    );
    if (r.rowCount !== 1) return false;
    this.onDeferred(request.requestId);
    return true;
  }

  async claimDue(now: Date, limit: number, leaseMs: number): Promise<DeferredObject[]> {
    const { rows } = await this.pool.query<DeferredObject>(
      `UPDATE deferred_objects SET claimed_until = $1::timestamptz + make_interval(secs => $3::float8 / 1000)
       WHERE object_id IN (
         SELECT object_id FROM deferred_objects
         WHERE next_poll_at <= $1 AND (claimed_until IS NULL OR claimed_until <= $1)
         ORDER BY next_poll_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING ${COLUMNS}`,
      [now.toISOString(), limit, leaseMs],
    );
    return rows.sort((a, b) => a.nextPollAt.localeCompare(b.nextPollAt));
  }

  async reschedule(id: string, nextPollAt: Date, misses: number): Promise<void> {
    await this.pool.query(
      'UPDATE deferred_objects SET next_poll_at = $1, polls = polls + 1, misses = $2, claimed_until = NULL WHERE object_id = $3',
      [nextPollAt.toISOString(), misses, id],
    );
  }

  async nudge(id: string, now: Date): Promise<boolean> {
    const { rows } = await this.pool.query<{ id: string }>(
      `UPDATE deferred_objects SET next_poll_at = LEAST(next_poll_at, CASE WHEN claimed_until IS NULL THEN $2::timestamptz ELSE next_poll_at END)
       WHERE object_id = $1 RETURNING object_id AS id`,
      [id, now.toISOString()],
    );
    return rows.length === 1;
  }

  async remove(id: string): Promise<void> {
    await this.pool.query('DELETE FROM deferred_objects WHERE object_id = $1', [id]);
  }

  async list(): Promise<DeferredObject[]> {
    const { rows } = await this.pool.query<DeferredObject>(
      `SELECT ${COLUMNS} FROM deferred_objects ORDER BY next_poll_at, object_id`,
    );
    return rows;
  }
}
