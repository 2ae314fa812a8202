import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import type { OrphanRow } from '../recovery.js';

/** How often an instance heartbeats, and after how long without one it counts as gone (ms). */
export interface Liveness {
  heartbeatMs: number;
  lapseMs: number;
}

/** Defaults: a heartbeat every 5 s; gone after 30 s of silence (a GC pause or a slow database must not look like a crash). */
export const DEFAULT_LIVENESS: Liveness = { heartbeatMs: 5_000, lapseMs: 30_000 };

/** A new instance id: `inst_` + 16 hex digits. */
export function newInstanceId(): string {
  return `inst_${randomBytes(8).toString('hex')}`;
}

/**
 * Registers instance `id` for this process (its heartbeat stamped by the database clock, so replicas'
 * clocks do not matter), taking over the rows of `adopt` still held (an instance declared gone that
 * registers again keeps the requests it still serves). Resolves to how many it took over.
 */
export async function register(pool: pg.Pool, id: string, adopt: readonly string[] = []): Promise<number> {
  const { rows } = await pool.query<{ n: number }>('SELECT tollgate_register($1, $2, $3, $4) AS n', [
    id,
    process.pid,
    hostname(),
    adopt,
  ]);
  return rows[0]?.n ?? 0;
}

/**
 * One heartbeat (see `tollgate_heartbeat`): stamps it on the ledger's clock and, once this instance
 * has been connected without a gap for a whole lapse, declares gone the instances silent for
 * `liveness.lapseMs`. A gap longer than half the lapse (this instance cut off, or the ledger down)
 * restarts that watch. Resolves false when this instance was itself declared gone.
 */
export async function heartbeat(pool: pg.Pool, id: string, liveness: Liveness): Promise<boolean> {
  const { rows } = await pool.query<{ alive: boolean }>({
    name: 'tollgate_heartbeat',
    text: 'SELECT tollgate_heartbeat($1, $2, $3) AS alive',
    values: [id, liveness.lapseMs / 2, liveness.lapseMs],
  });
  return rows[0]?.alive === true;
}

/** Marks this instance stopped (a clean close): its rows left held, if any, are resolved by the next recovery. */
export async function stop(pool: pg.Pool, id: string): Promise<void> {
  await pool.query('UPDATE instances SET stopped_at = now() WHERE id = $1', [id]);
}

/**
 * The held rows whose instance is gone: no instance recorded (copied rows), an instance that is
 * unknown or stopped (closed, or declared gone by a heartbeat that watched it lapse); and, when
 * `includeSelf`, this instance's own rows (recovery at start); never rows deferred on upstream work
 * (the settler's).
 */
export async function orphanedHolds(
  pool: pg.Pool,
  self: string,
  includeSelf: boolean,
): Promise<({ id: string } & OrphanRow)[]> {
  const { rows } = await pool.query<{ id: string } & OrphanRow>(
    `SELECT r.id, r.company_id AS "companyId", r.requested_model AS "requestedModel", r.estimated_prompt_tokens AS "estimatedPromptTokens", r.forwarded
     FROM requests r LEFT JOIN instances i ON i.id = r.instance_id
     WHERE r.status = 'held' AND NOT EXISTS (SELECT 1 FROM deferred_objects d WHERE d.request_id = r.id)
       AND (r.instance_id IS NULL OR i.id IS NULL OR i.stopped_at IS NOT NULL OR ($2 AND r.instance_id = $1))
     ORDER BY r.created_at, r.seq`,
    [self, includeSelf],
  );
  return rows;
}
