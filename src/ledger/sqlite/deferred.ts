import type Database from 'better-sqlite3';
import type { DeferredObject, DeferredRequest, DeferredStore } from '../port.js';
import type { LedgerQueue } from './queue.js';

const COLUMNS = `object_id AS id, kind, request_id AS requestId, company_id AS companyId, model, multiplier, prompt_tokens AS promptTokens, subject, deferred_at AS deferredAt,
                 next_poll_at AS nextPollAt, polls, misses`;

/**
 * `DeferredStore` on the ledger's SQLite file (table `deferred_objects`). Calls go through the
 * ledger's `LedgerQueue` (its group commit and call order), so a `defer` queued right after an
 * `admit` sees the row. One process writes a SQLite ledger, so a claim is a plain update; it still
 * records a lease so that an object claimed by a settler that stopped mid-poll is due again later.
 */
export class SqliteDeferredStore implements DeferredStore {
  private readonly s: Record<
    'heldRequest' | 'exists' | 'insert' | 'unclaim' | 'due' | 'claim' | 'reschedule' | 'nudge' | 'remove' | 'list',
    Database.Statement
  >;

  constructor(
    sqlite: Database.Database,
    private readonly queue: LedgerQueue,
  ) {
    this.s = {
      heldRequest: sqlite.prepare("SELECT 1 FROM requests WHERE id = ? AND status = 'held'"),
      exists: sqlite.prepare('SELECT 1 FROM deferred_objects WHERE object_id = ?'),
      insert: sqlite.prepare(`INSERT OR IGNORE INTO deferred_objects
        (object_id, kind, request_id, company_id, model, multiplier, prompt_tokens, subject, deferred_at, next_poll_at)
        VALUES (@id, @kind, @requestId, @companyId, @model, @multiplier, @promptTokens, @subject, @deferredAt, @nextPollAt)`),
      due: sqlite.prepare(`SELECT ${COLUMNS} FROM deferred_objects
        WHERE next_poll_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?) ORDER BY next_poll_at LIMIT ?`),
      claim: sqlite.prepare('UPDATE deferred_objects SET claimed_until = ? WHERE object_id = ?'),
      reschedule: sqlite.prepare(
        'UPDATE deferred_objects SET next_poll_at = ?, polls = polls + 1, misses = ?, claimed_until = NULL WHERE object_id = ?',
      ),
      nudge: sqlite.prepare(
        'UPDATE deferred_objects SET next_poll_at = ? WHERE object_id = ? AND next_poll_at > ? AND claimed_until IS NULL',
      ),
      remove: sqlite.prepare('DELETE FROM deferred_objects WHERE object_id = ?'),
      unclaim: sqlite.prepare('UPDATE deferred_objects SET claimed_until = NULL WHERE claimed_until IS NOT NULL'),
      list: sqlite.prepare(`SELECT ${COLUMNS} FROM deferred_objects ORDER BY next_poll_at, object_id`),
    };
  }

  defer(request: DeferredRequest, firstPollAt: Date, now: Date): Promise<boolean> {
    const row = { ...request, deferredAt: now.toISOString(), nextPollAt: firstPollAt.toISOString() };
    return this.queue.run(() => {
      if (!this.s.heldRequest.get(request.requestId)) return false;
      return this.s.insert.run(row).changes === 1;
    });
  }

  claimDue(now: Date, limit: number, leaseMs: number): Promise<DeferredObject[]> {
    const at = now.toISOString();
    const until = new Date(now.getTime() + leaseMs).toISOString();
    return this.queue.run(() => {
      const rows = this.s.due.all(at, at, limit) as DeferredObject[];
      for (const r of rows) this.s.claim.run(until, r.id);
      return rows;
    });
  }

  reschedule(id: string, nextPollAt: Date, misses: number): Promise<void> {
    return this.queue.run(() => {
      this.s.reschedule.run(nextPollAt.toISOString(), misses, id);
    });
  }

  nudge(id: string, now: Date): Promise<boolean> {
    const at = now.toISOString();
    return this.queue.run(() => {
      this.s.nudge.run(at, id, at);
      return this.s.exists.get(id) !== undefined;
    });
  }

  remove(id: string): Promise<void> {
    return this.queue.run(() => {
      this.s.remove.run(id);
    });
  }

  /**
   * Ends every claim, synchronously (inside recovery's transaction): one process writes a SQLite
   * ledger, so at start every claim is a dead process's, and its objects are due again at once
   * instead of after their lease.
   */
  releaseClaims(): void {
    this.s.unclaim.run();
  }

  list(): Promise<DeferredObject[]> {
    return this.queue.run(() => this.s.list.all() as DeferredObject[]);
  }
}
