/**
 * The scale phase: tollgate on SQLite and on a Postgres ledger in the layouts a team moving off one process would
 * run, each on a fresh database, one after another, with short runs so the phase stays within a few
 * minutes (`npm run bench -- --only scale` runs it alone):
 *
 * - `sqlite`: tollgate on its SQLite file, one process (the embedded default, for reference);
 * - `sqlite-workers-2`: `serve --workers 2` on a SQLite file: two workers behind one port, the
 *   primary owning the file and writing it for both over node:cluster IPC;
 * - `pg-1`: one replica on Postgres;
 * - `pg-2`: two replicas, each on its own port, the load driver sending every other request to each
 *   (what an L4 load balancer in front of them does, without a balancer process of its own taking
 *   CPU from the two cores under test);
 * - `pg-workers-2`: `tollgate serve --workers 2` semantics — two node:cluster workers behind one port.
 *
 * Unlike the rounds, the proxies and Postgres are NOT pinned: the layouts exist to use more than
 * one core, so they share the machine's cores (the load generator and the fake upstream stay pinned
 * to their core). Per target: a warm-up, the open-loop rates (latency from the scheduled send; added
 * = target − direct at the same rate), then closed-loop maximum throughput. Then `Ledger.admit`
 * and `Ledger.settle` timed on Postgres in a child process (see bench/ledger/pg-admission-main.ts).
 */
import { join } from 'node:path';
import { mintKey } from '../../src/auth/api-key.js';
import { closedLoop, type ClosedLoopResult, type loadAutocannon } from '../load/closed-loop.js';
import { openLoop } from '../load/open-loop.js';
import { chatBody } from '../load/requests.js';
import type { Plan } from '../lib/plan.js';
import { freshDatabase, type BenchPostgres } from '../lib/postgres.js';
import { cpuBetween, cpuSeconds, firstMessage, spawnPinned, waitExit, waitIdle } from '../lib/proc.js';
import { CHAT_PATH, startTollgate, type Env, type Target, type TargetName } from '../targets/start.js';
import { describeRun, latencyRun, type LatencyRun } from './rounds.js';
import { measureLedger, statementCounter, type LedgerPerRequest } from './scale-ledger.js';

/** One layout's figures. */
export interface ScaleTarget {
  name: TargetName;
  label: string;
  /** Latency per rate (key: RPS). */
  latency: Record<number, LatencyRun>;
  throughput: ClosedLoopResult;
  /**
   * CPU per request during the closed-loop run, µs: tollgate's processes (every replica or worker,
   * and a cluster's primary) and Postgres's (postmaster and backends; NaN when the bench did not start it);
   * `primary`: the cluster primary's share of tollgate's (on SQLite, the ledger owner's; absent with one process).
   */
  cpuUs: { tollgate: number; postgres: number; primary?: number };
  /** The ledger's statements, commits and lock waits per request during that run (Postgres layouts). */
  ledger?: LedgerPerRequest;
}

/** Ledger.admit / settle on Postgres, one request in flight: [p50, p99] ms, and pairs per second. */
export interface PgAdmission {
  admitMs: [number, number];
  settleMs: [number, number];
  pairsPerS: number;
}

export interface ScaleResult {
  /** Where Postgres ran (see lib/postgres.ts). */
  postgres: string;
  direct: Record<number, LatencyRun>;
  targets: ScaleTarget[];
  admission?: PgAdmission;
}

interface Layout {
  name: TargetName;
  label: string;
  /** Starts the layout on `ledger` (a postgres:// URL; SQLite in the work dir when undefined). */
  start(ledger: string | undefined): Promise<Target>;
  postgres: boolean;
}

export interface ScaleDeps {
  env: Env;
  plan: Plan;
  upstreamUrl: string;
  models: string[];
  postgres: BenchPostgres;
  autocannon: ReturnType<typeof loadAutocannon>;
  log: (line: string) => void;
}

function layouts(d: ScaleDeps): Layout[] {
  const base = { upstreamUrl: d.upstreamUrl, models: d.models, unpinned: true };
  const counted = (name: TargetName, env: NodeJS.ProcessEnv = process.env) => ({
    ...env,
    ...statementCounter(d.env.work, name).env,
  });
  const one = (ledger: string | undefined, tag: string, name: TargetName, env?: NodeJS.ProcessEnv) =>
    startTollgate(d.env, { ...base, ledger, tag, name, env: ledger ? counted(name, env) : env });
  return [
    {
      name: 'sqlite',
      label: 'tollgate, SQLite, 1 process',
      postgres: false,
      start: (l) => one(l, 'scale-sqlite', 'sqlite'),
    },
    {
      name: 'sqlite-workers-2',
      label: 'tollgate, SQLite, serve --workers 2 (1 port; the primary writes the file)',
      postgres: false,
      start: () =>
        startTollgate(d.env, { ...base, tag: 'scale-sqlite-workers-2', name: 'sqlite-workers-2', workers: 2 }),
    },
    {
      name: 'pg-1',
      label: 'tollgate, Postgres, 1 replica',
      postgres: true,
      start: (l) => one(l, 'scale-pg-1', 'pg-1'),
    },
    {
      name: 'pg-2',
      label: 'tollgate, Postgres, 2 replicas (2 ports, load split evenly)',
      postgres: true,
      start: async (l) => {
        // Both replicas accept the same key, as replicas reading one config do.
        const env = { ...process.env, BENCH_TOLLGATE_KEY: JSON.stringify(mintKey()) };
        const a = await one(l, 'scale-pg-2a', 'pg-2', env);
        const b = await one(l, 'scale-pg-2b', 'pg-2', env).catch(async (err) => {
          await a.stop();
          throw err;
        });
        return {
          ...a,
          origins: [a.origin, b.origin],
          pids: [a.pid!, b.pid!],
          stop: async () => {
            await Promise.all([a.stop(), b.stop()]);
          },
        };
      },
    },
    {
      name: 'pg-workers-2',
      label: 'tollgate, Postgres, serve --workers 2 (1 port)',
      postgres: true,
      start: (l) =>
        startTollgate(d.env, {
          ...base,
          ledger: l,
          tag: 'scale-workers-2',
          name: 'pg-workers-2',
          workers: 2,
          env: counted('pg-workers-2'),
        }),
    },
  ];
}

/** Runs the scale phase (see the module comment). Bounded: every run is bounded in requests and time. */
export async function runScale(d: ScaleDeps): Promise<ScaleResult> {
  const { plan, log } = d;
  const s = plan.scale;
  const body = chatBody(plan.openLoop.instant);
  const latencyAt = async (t: Pick<Target, 'origin' | 'origins' | 'headers'>, rps: number, ms = s.ms) =>
    latencyRun(
      await openLoop({
        origin: t.origin,
        origins: t.origins,
        path: CHAT_PATH,
        headers: t.headers,
        body,
        rps,
        durationMs: ms,
      }),
    );
  const result: ScaleResult = { postgres: d.postgres.source, direct: {}, targets: [] };
  const direct = { origin: d.upstreamUrl, headers: { authorization: 'Bearer sk-bench-upstream' } };
  for (const rps of s.rates) {
    result.direct[rps] = await latencyAt(direct, rps);
    log(`  scale ${`${rps} RPS`.padEnd(10)} direct        ${describeRun(result.direct[rps]!)}`);
  }
  const idle = async (t: Target) => {
    for (const pid of t.pids ?? (t.pid ? [t.pid] : [])) await waitIdle(pid);
  };
  for (const layout of layouts(d)) {
    const db = layout.postgres ? await freshDatabase(d.postgres, layout.name) : undefined;
    const t = await layout.start(db?.url);
    try {
      await latencyAt(t, s.warmup.rps, s.warmup.ms);
      await idle(t);
      const latency: Record<number, LatencyRun> = {};
      for (const rps of s.rates) {
        latency[rps] = await latencyAt(t, rps);
        await idle(t);
        log(`  scale ${`${rps} RPS`.padEnd(10)} ${layout.name.padEnd(13)} ${describeRun(latency[rps]!)}`);
      }
      const tollgatePids = [...new Set([t.pid!, ...(t.pids ?? [])])];
      const measuring = db
        ? await measureLedger(d.postgres.url, db.url, statementCounter(d.env.work, layout.name).read)
        : undefined;
      const clustered = t.pids !== undefined && t.pids.length > 0 && !t.pids.includes(t.pid!);
      const before = [cpuSeconds(tollgatePids), cpuSeconds(d.postgres.pids()), cpuSeconds([t.pid!])];
      const throughput = await closedLoop(d.autocannon, {
        origin: t.origin,
        origins: t.origins,
        path: CHAT_PATH,
        headers: t.headers,
        body,
        ...s.closedLoop,
      });
      const perRequest = (s: number) => (throughput.ok ? (s / throughput.ok) * 1e6 : NaN);
      const cpuUs = {
        tollgate: perRequest(cpuBetween(before[0]!, cpuSeconds(tollgatePids))),
        postgres: d.postgres.pids().length ? perRequest(cpuBetween(before[1]!, cpuSeconds(d.postgres.pids()))) : NaN,
        ...(clustered ? { primary: perRequest(cpuBetween(before[2]!, cpuSeconds([t.pid!]))) } : {}),
      };
      const ledger = await measuring?.stop(throughput.ok);
      log(
        `  scale max throughput ${layout.name.padEnd(13)} ${Math.round(throughput.rps)} RPS  errors ${throughput.errors}  CPU per request: tollgate ${cpuUs.tollgate.toFixed(0)} µs${cpuUs.primary !== undefined ? ` (primary ${cpuUs.primary.toFixed(0)})` : ''}, Postgres ${cpuUs.postgres.toFixed(0)} µs`,
      );
      if (ledger)
        log(
          `  scale ledger per request ${layout.name.padEnd(13)} ${ledger.statements.toFixed(2)} statements (round trips), ${ledger.commits.toFixed(2)} commits; backends waiting on locks ${(ledger.lockWaitShare * 100).toFixed(1)}% of their busy time (${ledger.lockWaiters.toFixed(2)} of ${ledger.active.toFixed(2)} busy on average)`,
        );
      result.targets.push({ name: layout.name, label: layout.label, latency, throughput, cpuUs, ledger });
    } finally {
      await t.stop();
      await db?.drop().catch(() => {});
    }
  }
  const db = await freshDatabase(d.postgres, 'admission');
  try {
    result.admission = await pgAdmission(d.env, db.url, s.admits);
    const a = result.admission;
    log(
      `  scale Ledger.admit on Postgres p50 ${a.admitMs[0].toFixed(3)} / p99 ${a.admitMs[1].toFixed(3)} ms, settle ${a.settleMs[0].toFixed(3)} / ${a.settleMs[1].toFixed(3)} ms, ${Math.round(a.pairsPerS)} pairs/s`,
    );
  } finally {
    await db.drop().catch(() => {});
  }
  return result;
}

/** `bench/ledger/pg-admission-main.ts` in a child process (unpinned, like the scale targets). */
async function pgAdmission(env: Env, url: string, admits: number): Promise<PgAdmission> {
  const child = spawnPinned(
    process.execPath,
    [
      '--import',
      'tsx',
      join(env.root, 'bench', 'ledger', 'pg-admission-main.ts'),
      '--url',
      url,
      '--admits',
      String(admits),
    ],
    { core: undefined, logFile: join(env.work, 'ledger-pg-admission.log'), ipc: true, cwd: env.root },
  );
  try {
    return await firstMessage<PgAdmission>(child, 5 * 60_000, 'Postgres admission');
  } finally {
    if ((await waitExit(child, 10_000)) === null) child.kill('SIGKILL');
  }
}
