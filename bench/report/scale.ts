/** The scale phase's table (console and RESULTS.md's "Scaling out" section); see phases/scale.ts. */
import type { Plan } from '../lib/plan.js';
import type { ScaleResult } from '../phases/scale.js';

const n3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '–');
const signed = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${v.toFixed(3)}` : '–');
const int = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–');

/** The layouts' table: added latency at each rate (target − direct, same rate), failures, max throughput. */
export function scaleTable(r: ScaleResult, plan: Plan): string {
  const rates = plan.scale.rates;
  const head = [
    'Layout',
    ...rates.map((rps) => `added p50 / p99 / p99.9 @ ${rps.toLocaleString('en-US')} RPS (ms)`),
    'unfinished / sent',
    `max throughput, ${plan.scale.closedLoop.connections} connections (RPS)`,
    'CPU per request at max: tollgate / Postgres (µs)',
  ];
  const one = r.targets.find((t) => t.name === 'pg-1')?.throughput.rps ?? NaN;
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
          : '';
      return [
        t.label,
        ...added,
        `${int(errors)} / ${int(sent)}`,
        `${int(t.throughput.rps)}${vsOne}`,
        `${int(t.cpuUs.tollgate)} / ${int(t.cpuUs.postgres)}`,
      ];
    }),
  ];
  const line = (c: string[]) => `| ${c.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/**
 * What N replicas would reach if each had a core of its own and Postgres had P cores, from the CPU
 * per request measured with two replicas (`pg-2`; else one): min(N / tollgate's CPU per request,
 * P / Postgres's). An upper bound: it leaves out lock waits (one company's admissions queue on its
 * grant rows across replicas) and the network between machines.
 */
export function replicaEstimate(r: ScaleResult): string {
  const t = r.targets.find((x) => x.name === 'pg-2') ?? r.targets.find((x) => x.name === 'pg-1');
  if (!t || !Number.isFinite(t.cpuUs.tollgate) || !Number.isFinite(t.cpuUs.postgres)) return '';
  const rps = (n: number, p: number) => Math.min((n * 1e6) / t.cpuUs.tollgate, (p * 1e6) / t.cpuUs.postgres);
  const rows = [1, 2, 3, 4].map((n) => `| ${n} | ${int(rps(n, 1))} | ${int(rps(n, 2))} |`);
  return [
    `Estimate from the CPU per request of \`${t.name}\` (tollgate ${int(t.cpuUs.tollgate)} µs, Postgres ${int(t.cpuUs.postgres)} µs): N replicas, each on a core of its own, reach about min(N × 10⁶ / tollgate's µs, P × 10⁶ / Postgres's µs) requests/s with Postgres on P cores — an upper bound (no lock waits, no network between machines).`,
    '',
    '| Replicas | Postgres on 1 core (RPS) | Postgres on 2 cores (RPS) |',
    '| --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/** The "Scaling out" section of RESULTS.md. */
export function scaleMarkdown(r: ScaleResult, plan: Plan): string {
  const s = plan.scale;
  const a = r.admission;
  return `## Scaling out: tollgate on Postgres

\`npm run bench -- --only scale\` runs this section alone (about 5 minutes). Postgres: ${r.postgres}; every layout on a fresh database. The proxies and Postgres run unpinned on every core (the layouts exist to use more than one); the load generator and the fake upstream stay pinned to their core, so on a 2-core machine they share it with whatever else runs there. Per layout: warm-up, then ${s.rates.map((x) => x.toLocaleString('en-US')).join(' and ')} RPS open loop for ${s.ms / 1000} s each (added = layout − direct at the same rate), then closed loop with ${s.closedLoop.connections} connections for ${s.closedLoop.durationS} s. Two replicas listen on two ports and the load driver alternates between them (an L4 balancer's job, without a balancer process taking CPU); \`--workers 2\` shares one port through node:cluster. CPU per request: the CPU time (user + system, from /proc) of tollgate's processes and of Postgres's during the closed-loop run, divided by the requests answered.

${scaleTable(r, plan)}

${a ? `Ledger on Postgres, one request in flight (${s.admits.toLocaleString('en-US')} requests): \`Ledger.admit\` p50 / p99 ${n3(a.admitMs[0])} / ${n3(a.admitMs[1])} ms, \`Ledger.settle\` ${n3(a.settleMs[0])} / ${n3(a.settleMs[1])} ms, ${int(a.pairsPerS)} admit + settle pairs/s.` : ''}

${replicaEstimate(r)}
`;
}
