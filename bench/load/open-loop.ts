/**
 * Open-loop load (fixed arrival rate): request i is due at `start + i / rps` whether or not earlier
 * ones have finished, and its latency is measured from that scheduled instant to the last byte of
 * its response, so time spent queued anywhere (the driver, the sockets, the proxy) shows in the
 * figures instead of silently lowering the rate (no coordinated omission).
 *
 * The schedule is bounded: `rps × durationMs / 1000` requests, then at most `drainMs` ms for the
 * ones still in flight, which are then aborted and counted as errors.
 */
import { Pool } from 'undici';
import { sorted } from '../lib/stats.js';

export interface OpenLoopOptions {
  /** `http://127.0.0.1:PORT`. */
  origin: string;
  /** Several origins (replicas on their own ports): requests go to each in turn; `origin` is then ignored. */
  origins?: string[];
  path: string;
  headers: Record<string, string>;
  /** JSON request body. */
  body: string;
  /** Arrival rate, requests per second. */
  rps: number;
  /** Length of the schedule, ms. */
  durationMs: number;
  /** Most sockets the driver opens to the target. */
  connections?: number;
  /** Longest wait for in-flight requests after the last one is sent, ms. */
  drainMs?: number;
  /** Also return each `ok` request's scheduled instant and latency (`samples`), for tracing the tail. */
  samples?: boolean;
}

export interface OpenLoopResult {
  /** Requests scheduled (and sent). */
  sent: number;
  /** 2xx responses read to the end. */
  ok: number;
  /** Non-2xx, transport errors and aborted requests. */
  errors: number;
  /** First error seen, for the log. */
  firstError?: string;
  /** Latencies of the `ok` requests from their scheduled instant, ms, ascending. */
  latencyMs: Float64Array;
  /** With `samples: true`: per `ok` request, its scheduled instant (wall clock, ms since the epoch) and latency (ms). */
  samples?: { dueAt: number; ms: number }[];
}

export async function openLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const origins = o.origins?.length ? o.origins : [o.origin];
  const pools = origins.map(
    (origin) =>
      new Pool(origin, {
        connections: Math.ceil((o.connections ?? 256) / origins.length),
        pipelining: 1,
        keepAliveTimeout: 30_000,
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
      }),
  );
  const headers = { ...o.headers, 'content-type': 'application/json' };
  const total = Math.max(1, Math.round((o.rps * o.durationMs) / 1000));
  const interval = 1000 / o.rps;
  const latencies: number[] = [];
  const samples: { dueAt: number; ms: number }[] | undefined = o.samples ? [] : undefined;
  let ok = 0;
  let inFlight = 0;
  let firstError: string | undefined;
  let allSettled: (() => void) | undefined;

  const fail = (why: string) => {
    firstError ??= why;
  };
  const fire = (due: number, i: number) => {
    inFlight++;
    pools[i % pools.length]!.request({ method: 'POST', path: o.path, headers, body: o.body })
      .then(async (res) => {
        const text = await res.body.text();
        if (res.statusCode >= 200 && res.statusCode < 300) {
          const ms = performance.now() - due;
          latencies.push(ms);
          samples?.push({ dueAt: performance.timeOrigin + due, ms });
          ok++;
        } else fail(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
      })
      .catch((err: Error) => fail(err.message))
      .finally(() => {
        if (--inFlight === 0) allSettled?.();
      });
  };

  const start = performance.now() + 5;
  await new Promise<void>((resolve) => {
    let next = 0;
    const tick = () => {
      const now = performance.now();
      while (next < total && start + next * interval <= now) {
        fire(start + next * interval, next);
        next++;
      }
      if (next >= total) resolve();
      else setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
    };
    tick();
  });

  if (inFlight > 0) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, o.drainMs ?? 5_000);
      allSettled = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  const latencyMs = sorted(latencies);
  const done = ok;
  await Promise.all(pools.map((p) => p.destroy().catch(() => {})));
  return {
    sent: total,
    ok: done,
    errors: total - done,
    firstError: firstError ?? (done < total ? 'not finished within the drain time' : undefined),
    latencyMs,
    samples,
  };
}
