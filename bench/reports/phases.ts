/**
 * The reports bench's measurements against a running tollgate on the bench ledger: every report
 * of the read API timed alone, proxied latency at a fixed rate with and without dashboards
 * refreshing, and proxied latency while 30 days of raw rows are archived.
 */
import type { ChildProcess } from 'node:child_process';
import { Agent, request } from 'undici';
import { median, percentile } from '../lib/stats.js';
import { openLoop, type OpenLoopResult } from '../load/open-loop.js';
import { refreshing, signIn } from './dashboard.js';

/** One report of the read API: who reads, what. */
export interface ReportCase {
  name: string;
  /** The key to read with (an operator key, a company admin key, a member key). */
  key: string;
  path: string;
}

export interface ReportTiming {
  name: string;
  path: string;
  /** Rows in the answer (`data`). */
  rows: number;
  medianMs: number;
  maxMs: number;
  status: number;
}

/** Times each case `runs` times (after one warm-up), one at a time; ms from request to last byte. */
export async function timeReports(origin: string, cases: ReportCase[], runs = 5): Promise<ReportTiming[]> {
  const agent = new Agent({ connections: 1 });
  const out: ReportTiming[] = [];
  try {
    for (const c of cases) {
      const ms: number[] = [];
      let rows = 0;
      let status = 0;
      for (let i = 0; i <= runs; i++) {
        const started = performance.now();
        const res = await request(`${origin}${c.path}`, {
          dispatcher: agent,
          headers: { authorization: `Bearer ${c.key}` },
        });
        const body = (await res.body.json()) as { data?: unknown[] };
        status = res.statusCode;
        if (i > 0) ms.push(performance.now() - started);
        rows = body.data?.length ?? 0;
      }
      out.push({ name: c.name, path: c.path, rows, medianMs: median(ms), maxMs: Math.max(...ms), status });
    }
  } finally {
    await agent.close();
  }
  return out;
}

/** Latency figures of one open-loop run, ms. */
export interface LoadFigures {
  p50: number;
  p99: number;
  p999: number;
  max: number;
  ok: number;
  errors: number;
}

export const figures = (r: OpenLoopResult): LoadFigures => ({
  p50: percentile(r.latencyMs, 50),
  p99: percentile(r.latencyMs, 99),
  p999: percentile(r.latencyMs, 99.9),
  max: percentile(r.latencyMs, 100),
  ok: r.ok,
  errors: r.errors,
});

/** The proxied load: chat completions through tollgate at `rps` for `seconds`. */
export interface Load {
  origin: string;
  headers: Record<string, string>;
  body: string;
  rps: number;
  seconds: number;
}

const run = (l: Load, origin = l.origin, samples = false) =>
  openLoop({
    origin,
    path: '/v1/chat/completions',
    headers: l.headers,
    body: l.body,
    rps: l.rps,
    durationMs: l.seconds * 1000,
    connections: 64,
    samples,
  });

/** Per round: direct (the upstream itself), tollgate alone, tollgate with the dashboards refreshing every second. */
export interface DashboardRound {
  direct: LoadFigures;
  alone: LoadFigures;
  withDashboards: LoadFigures;
  /** Each dashboard refresh's ms during the round with readers. */
  refreshMs: { median: number; max: number; count: number; failed: number };
}

/**
 * `rounds` rounds of: the load sent straight to the upstream, through tollgate with nobody reading,
 * and through tollgate while an admin's 90-day view and the operator's overview refresh every second.
 */
export async function dashboardRounds(
  load: Load,
  upstream: string,
  views: { credential: string; path: string }[],
  rounds: number,
): Promise<DashboardRound[]> {
  const sessions = await Promise.all(
    views.map(async (v) => ({ path: v.path, cookie: await signIn(load.origin, v.credential) })),
  );
  const out: DashboardRound[] = [];
  for (let i = 0; i < rounds; i++) {
    const direct = figures(await run(load, upstream));
    const alone = figures(await run(load));
    const readers = refreshing(load.origin, sessions);
    const withDashboards = figures(await run(load));
    const r = await readers.stop();
    const sortedMs = Float64Array.from(r.ms).sort();
    out.push({
      direct,
      alone,
      withDashboards,
      refreshMs: {
        median: percentile(sortedMs, 50),
        max: percentile(sortedMs, 100),
        count: r.ms.length,
        failed: r.failed,
      },
    });
  }
  return out;
}

/** What archiving did to proxied requests meanwhile. */
export interface ArchiveUnderLoad {
  archived: { requests: number; debits: number; bytes: number; writeMs: number; deleteMs: number } | { error: string };
  /** The proxied requests due while the archive ran. */
  during: LoadFigures & { over10ms: number };
  /** The same load with no archive, just before. */
  before: LoadFigures;
}

/**
 * Archives `before` → `to` inside the tollgate process (as `serve`'s retention does) while the load
 * runs, for as long as the archive takes (load in `load.seconds` slices); figures for the requests
 * due while it ran, against a run of the same load just before.
 */
export async function archiveUnderLoad(
  load: Load,
  child: ChildProcess,
  before: string,
  to: string,
): Promise<ArchiveUnderLoad> {
  const baseline = figures(await run(load));
  const done = new Promise<ArchiveUnderLoad['archived']>((resolve) => {
    const onMessage = (m: { archived?: ArchiveUnderLoad['archived']; error?: string }) => {
      if (!m.archived && !m.error) return;
      child.off('message', onMessage);
      resolve(m.archived ?? { error: m.error! });
    };
    child.on('message', onMessage);
  });
  const startedAt = performance.timeOrigin + performance.now();
  child.send({ archive: { before, to } });
  let finished: ArchiveUnderLoad['archived'] | undefined;
  void done.then((a) => (finished = a));
  let endedAt = Infinity;
  const samples: { dueAt: number; ms: number }[] = [];
  let errors = 0;
  while (!finished) {
    const r = await run(load, load.origin, true);
    samples.push(...r.samples!);
    errors += r.errors;
    if (finished) endedAt = performance.timeOrigin + performance.now();
  }
  const within = samples.filter((s) => s.dueAt >= startedAt && s.dueAt <= endedAt).map((s) => s.ms);
  const asc = Float64Array.from(within).sort();
  return {
    archived: finished,
    before: baseline,
    during: {
      p50: percentile(asc, 50),
      p99: percentile(asc, 99),
      p999: percentile(asc, 99.9),
      max: percentile(asc, 100),
      ok: within.length,
      errors,
      over10ms: within.filter((ms) => ms > 10).length,
    },
  };
}
