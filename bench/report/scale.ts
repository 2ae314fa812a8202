/** The scale phase's table (console and RESULTS.md's "Scaling out" section); see phases/scale.ts. */
import type { Plan } from '../lib/plan.js';
import type { ScaleResult } from '../phases/scale.js';

const n3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '–');
const signed = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${v.toFixed(3)}` : '–');
const int = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–');
const n2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '–');

/** The layouts' table: added latency at each rate (target − direct, same rate), failures, max throughput. */
export function scaleTable(r: ScaleResult, plan: Plan): string {
  const rates = plan.scale.rates;
  const head = [
    'Layout',
    ...rates.map((rps) => `added p50 / p99 / p99.9 @ ${rps.toLocaleString('en-US')} RPS (ms)`),
    'unfinished / sent',
    `max throughput, ${plan.scale.closedLoop.connections} connections (RPS)`,
    'CPU per request at max: tollgate / Postgres (µs)',
    'ledger per request at max: statements (round trips) / commits',
    'Postgres backends waiting on locks (share of busy time)',
  ];
  const one = r.targets.find((t) => t.name === 'pg-1')?.throughput.rps ?? NaN;
  const alone = r.targets.find((t) => t.name === 'sqlite')?.throughput.rps ?? NaN;
  const rows = [
    [
      'direct (absolute)',
      ...rates.map(
        (rps) =>
          `${n3(r.direct[rps]?.p50 ?? NaN)} / ${n3(r.direct[rps]?.p99 ?? NaN)} / ${n3(r.direct[rps]?.p999 ?? NaN)}`,
      ),
      '',
      '',
      '',
      '',
      '',
    ],
    ...r.targets.map((t) => {
      const added = rates.map((rps) => {
        const [x, d] = [t.latency[rps], r.direct[rps]];
        return x && d ? `${signed(x.p50 - d.p50)} / ${signed(x.p99 - d.p99)} / ${signed(x.p999 - d.p999)}` : '–';
      });
      const errors = Object.values(t.latency).reduce((a, x) => a + x.errors, 0) + t.throughput.errors;
      const sent = Object.values(t.latency).reduce((a, x) => a + x.sent, 0) + t.throughput.ok + t.throughput.errors;
      const vsOne =
        t.name.startsWith('pg-') && t.name !== 'pg-1' && Number.isFinite(one)
          ? ` (${(t.throughput.rps / one).toFixed(2)}× 1 replica)`
          : t.name === 'sqlite-workers-2' && Number.isFinite(alone)
            ? ` (${(t.throughput.rps / alone).toFixed(2)}× 1 process)`
            : '';
      const primary = t.cpuUs.primary !== undefined ? ` (primary ${int(t.cpuUs.primary)})` : '';
      return [
        t.label,
        ...added,
        `${int(errors)} / ${int(sent)}`,
        `${int(t.throughput.rps)}${vsOne}`,
        `${int(t.cpuUs.tollgate)}${primary} / ${int(t.cpuUs.postgres)}`,
        t.ledger ? `${n2(t.ledger.statements)} / ${n2(t.ledger.commits)}` : '–',
        t.ledger ? `${(t.ledger.lockWaitShare * 100).toFixed(1)}%` : '–',
      ];
    }),
  ];
  const line = (c: string[]) => `| ${c.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/**
 * What N replicas would reach if each had a core of its own and Postgres had P cores, from the CPU
 * per request measured with two replicas (`pg-2`; else one): min(N / tollgate's CPU per request,
 * P / Postgres's). An upper bound: it leaves out the network between machines, and one company's
 * requests serialize on its grant row: a company alone reaches at most about 10⁶ / Postgres's µs per
 * request whatever the replicas (each statement holds the row for about its own time in Postgres).
 */
export function replicaEstimate(r: ScaleResult): string {
  const t = r.targets.find((x) => x.name === 'pg-2') ?? r.targets.find((x) => x.name === 'pg-1');
  if (!t || !Number.isFinite(t.cpuUs.tollgate) || !Number.isFinite(t.cpuUs.postgres)) return '';
  const rps = (n: number, p: number) => Math.min((n * 1e6) / t.cpuUs.tollgate, (p * 1e6) / t.cpuUs.postgres);
  const rows = [1, 2, 4, 8].map((n) => `| ${n} | ${int(rps(n, 1))} | ${int(rps(n, 2))} | ${int(rps(n, 4))} |`);
  const waits = t.ledger
    ? ` Backends waited on locks ${(t.ledger.lockWaitShare * 100).toFixed(1)}% of their busy time in that run.`
    : '';
  return [
    `Estimate from the CPU per request of \`${t.name}\` (tollgate ${int(t.cpuUs.tollgate)} µs, Postgres ${int(t.cpuUs.postgres)} µs): N replicas, each on a core of its own, reach about min(N × 10⁶ / tollgate's µs, P × 10⁶ / Postgres's µs) requests/s with Postgres on P cores — an upper bound (no network between machines). One company alone is bounded by its grant row, which every admission and settlement of it locks: about ${int(1e6 / t.cpuUs.postgres)} requests/s (10⁶ / Postgres's µs per request), whatever the replicas.${waits}`,
    '',
    '| Replicas | Postgres on 1 core (RPS) | Postgres on 2 cores (RPS) | Postgres on 4 cores (RPS) |',
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/**
 * What `serve --workers N` on SQLite would reach with a core per worker and one for the primary,
 * which owns the file and runs every worker's ledger calls: min(N × 10⁶ / a worker's CPU per
 * request, 10⁶ / the primary's), from the CPU per request measured with two workers. An upper
 * bound: the primary's share grows a little with N (more IPC channels), and the disk's fsync rate
 * is not in it (group commit makes it one per batch).
 */
export function sqliteWorkersEstimate(r: ScaleResult): string {
  const t = r.targets.find((x) => x.name === 'sqlite-workers-2');
  const primary = t?.cpuUs.primary;
  if (!t || primary === undefined || !Number.isFinite(t.cpuUs.tollgate) || !Number.isFinite(primary)) return '';
  const worker = t.cpuUs.tollgate - primary; // µs of worker CPU per request, whichever worker served it
  const rps = (cores: number) => Math.min(((cores - 1) * 1e6) / worker, 1e6 / primary);
  const rows = [2, 4, 8, 16].map((c) => `| ${c} | ${c - 1} | ${int(rps(c))} |`);
  return [
    `Estimate for SQLite from the CPU per request of \`${t.name}\` (workers ${int(worker)} µs, primary ${int(primary)} µs): on C cores, C − 1 workers and the primary reach about min((C − 1) × 10⁶ / the workers' µs, 10⁶ / the primary's µs) requests/s — the primary, which writes the file for every worker, is the ceiling at about ${int(1e6 / primary)} requests/s.`,
    '',
    '| Cores | Workers | SQLite, serve --workers (RPS) |',
    '| --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/**
 * The scale targets as ratios of one run: Postgres with one replica against SQLite in one process
 * (max throughput ≥ 50%, tollgate's CPU per request ≤ 1.5×), Postgres's CPU per request (≤ 500 µs),
 * round trips per request (≤ 2), and two replicas against one estimated from tollgate's CPU per
 * request (≥ 1.8×: each replica on a core of its own; this machine's two cores also run Postgres).
 */
export function scaleTargets(r: ScaleResult): string {
  const by = (name: string) => r.targets.find((t) => t.name === name);
  const sqlite = by('sqlite');
  const one = by('pg-1');
  const two = by('pg-2');
  const workers = by('sqlite-workers-2');
  if (!sqlite || !one) return '';
  const pass = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const share = one.throughput.rps / sqlite.throughput.rps;
  const cpu = one.cpuUs.tollgate / sqlite.cpuUs.tollgate;
  const trips = one.ledger?.statements ?? Number.NaN;
  const est = two ? (2 * one.cpuUs.tollgate) / two.cpuUs.tollgate : Number.NaN;
  const lines = [
    `| Postgres 1 replica / SQLite 1 process, max throughput | ${(share * 100).toFixed(0)}% | ≥ 50% | ${pass(share >= 0.5)} |`,
    `| tollgate CPU per request, Postgres / SQLite | ${cpu.toFixed(2)}× | ≤ 1.5× | ${pass(cpu <= 1.5)} |`,
    `| Postgres CPU per request (1 replica) | ${int(one.cpuUs.postgres)} µs | ≤ 500 µs | ${pass(one.cpuUs.postgres <= 500)} |`,
    `| round trips per request, admit → settle (1 replica) | ${n2(trips)} | ≤ 2 | ${pass(trips <= 2)} |`,
    `| 2 replicas / 1, from tollgate's CPU per request | ${n2(est)}× | ≥ 1.8× | ${pass(est >= 1.8)} |`,
  ];
  if (workers) {
    const x = workers.throughput.rps / sqlite.throughput.rps;
    lines.push(`| SQLite, serve --workers 2 / 1 process, max throughput | ${n2(x)}× | ≥ 1.7× | ${pass(x >= 1.7)} |`);
  }
  return ['| Target | This run | Goal | |', '| --- | --- | --- | --- |', ...lines].join('\n');
}

/** The "Scaling out" section of RESULTS.md. */
export function scaleMarkdown(r: ScaleResult, plan: Plan): string {
  const s = plan.scale;
  const a = r.admission;
  return `## Scaling out: tollgate on SQLite with workers, and on Postgres

\`npm run bench -- --only scale\` runs this section alone (about 5 minutes). Postgres: ${r.postgres}; every layout on a fresh database. The proxies and Postgres run unpinned on every core (the layouts exist to use more than one); the load generator and the fake upstream stay pinned to their core, so on a 2-core machine they share it with whatever else runs there. Per layout: warm-up, then ${s.rates.map((x) => x.toLocaleString('en-US')).join(' and ')} RPS open loop for ${s.ms / 1000} s each (added = layout − direct at the same rate), then closed loop with ${s.closedLoop.connections} connections for ${s.closedLoop.durationS} s. Two replicas listen on two ports and the load driver alternates between them (an L4 balancer's job, without a balancer process taking CPU); \`--workers 2\` shares one port through node:cluster (on SQLite the primary owns the file and runs the workers' ledger calls over the cluster's IPC channel). CPU per request: the CPU time (user + system, from /proc) of tollgate's processes and of Postgres's during the closed-loop run, divided by the requests answered. Ledger per request, same run: the statements tollgate's processes sent to Postgres (counted in the driver; each is one round trip, BEGIN and COMMIT included), the transactions Postgres committed in the layout's database (\`pg_stat_database\`; heartbeats included), and the share of its busy backends' time spent waiting on a lock (\`pg_stat_activity\` sampled every 10 ms: one company's grant row is locked by every admission and settlement).

${scaleTable(r, plan)}

${a ? `Ledger on Postgres, one request in flight (${s.admits.toLocaleString('en-US')} requests): \`Ledger.admit\` p50 / p99 ${n3(a.admitMs[0])} / ${n3(a.admitMs[1])} ms, \`Ledger.settle\` ${n3(a.settleMs[0])} / ${n3(a.settleMs[1])} ms, ${int(a.pairsPerS)} admit + settle pairs/s.` : ''}

${scaleTargets(r)}

${replicaEstimate(r)}

${sqliteWorkersEstimate(r)}
`;
}
