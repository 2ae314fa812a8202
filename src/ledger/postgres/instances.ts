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

/** Registers this process as a live instance (its heartbeat stamped by the database clock, so replicas' clocks do not matter). */
export async function register(pool: pg.Pool, id: string): Promise<void> {
  await pool.query(
    'INSERT INTO instances (id, pid, host, started_at, heartbeat_at) VALUES ($1, $2, $3, now(), now())',
    [id, process.pid, hostname()],
  );
}

/** Stamps the heartbeat; also clears `stopped_at` should a stalled instance have been declared gone (its old holds stay resolved). */
export async function heartbeat(pool: pg.Pool, id: string): Promise<void> {
  await pool.query('UPDATE instances SET heartbeat_at = now(), stopped_at = NULL WHERE id = $1', [id]);
}

/** Marks this instance stopped (a clean close): its rows left held, if any, are resolved by the next recovery. */
export async function stop(pool: pg.Pool, id: string): Promise<void> {
  await pool.query('UPDATE instances SET stopped_at = now() WHERE id = $1', [id]);
}

/**
 * The held rows whose instance is gone: no instance recorded (copied rows), an instance that is
 * unknown, stopped, or whose heartbeat is older than `lapseMs`; and, when `includeSelf`, this
 * instance's own rows (recovery at start); never rows deferred on upstream work (the settler's). Marks the lapsed instances stopped on the way.
 */
export async function orphanedHolds(
  pool: pg.Pool,
  self: string,
  lapseMs: number,
  includeSelf: boolean,
): Promise<({ id: string } & OrphanRow)[]> {
  await pool.query(
    `UPDATE instances SET stopped_at = now() WHERE stopped_at IS NULL AND id <> $1 AND heartbeat_at < now() - make_interval(secs => $2::float8 / 1000)`,
    [self, lapseMs],
  );
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
