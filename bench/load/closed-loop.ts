/**
 * Closed-loop load for maximum throughput: autocannon (from the bench-local package `bench/tools`)
 * keeps `connections` requests in flight, each connection sending its next request as soon as the
 * previous answer ends, for `durationS` seconds.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';

export interface ClosedLoopOptions {
  origin: string;
  /** Several origins (replicas on their own ports): one autocannon per origin, the connections split evenly, results summed. */
  origins?: string[];
  path: string;
  headers: Record<string, string>;
  body: string;
  /** Concurrent connections (requests in flight). */
  connections: number;
  /** Length of the run, whole seconds. */
  durationS: number;
}

export interface ClosedLoopResult {
  /** 2xx responses per second over the run, RPS. */
  rps: number;
  ok: number;
  /** Non-2xx responses, transport errors and time-outs. */
  errors: number;
  /** Mean latency, ms. */
  meanMs: number;
}

type Autocannon = (opts: Record<string, unknown>) => Promise<{
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
  latency: { average: number };
}>;

/** Loads autocannon from `<root>/bench/tools/node_modules`. */
export function loadAutocannon(root: string): Autocannon {
  return createRequire(join(root, 'bench', 'tools', 'package.json'))('autocannon') as Autocannon;
}

export async function closedLoop(autocannon: Autocannon, o: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const origins = o.origins?.length ? o.origins : [o.origin];
  if (origins.length > 1) {
    const each = Math.max(1, Math.round(o.connections / origins.length));
    const runs = await Promise.all(
      origins.map((origin) => closedLoop(autocannon, { ...o, origin, origins: undefined, connections: each })),
    );
    const ok = runs.reduce((a, r) => a + r.ok, 0);
    return {
      rps: runs.reduce((a, r) => a + r.rps, 0),
      ok,
      errors: runs.reduce((a, r) => a + r.errors, 0),
      meanMs: ok ? runs.reduce((a, r) => a + r.meanMs * r.ok, 0) / ok : NaN,
    };
  }
  const r = await autocannon({
    url: origins[0] + o.path,
    method: 'POST',
    headers: { ...o.headers, 'content-type': 'application/json' },
    body: o.body,
    connections: o.connections,
    pipelining: 1,
    duration: o.durationS,
    timeout: 10,
  });
  const seconds = r.duration > 0 ? r.duration : o.durationS;
  return { rps: r['2xx'] / seconds, ok: r['2xx'], errors: r.non2xx + r.errors + r.timeouts, meanMs: r.latency.average };
}
