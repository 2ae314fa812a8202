/**
 * "Before and after": tollgate at another revision beside today's, from the same interleaved
 * rounds (direct, tollgate, tollgate@<rev> taking turns), each stated as added to direct of the
 * same round, then the median over rounds (see summary.ts). The difference column is today − then:
 * negative latency and positive throughput are improvements.
 */
import type { Plan } from '../lib/plan.js';
import type { RoundsResult } from '../phases/rounds.js';
import type { TargetName } from '../targets/start.js';
import { added, med } from './summary.js';

const signed = (v: number, d = 3) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${v.toFixed(d)}` : '–');
const int = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–');

/** The side-by-side table (Markdown). */
export function compareTable(rounds: RoundsResult, before: TargetName): string {
  const rows: string[][] = [];
  const errors = (runs: { errors: number }[] | undefined) => (runs ?? []).reduce((a, r) => a + r.errors, 0);
  for (const s of rounds.scenarios) {
    const runs = rounds.latency[s.key]!;
    for (const [name, pick] of [
      ['p50', (x: { p50: number }) => x.p50],
      ['p99', (x: { p99: number }) => x.p99],
      ['p99.9', (x: { p999: number }) => x.p999],
    ] as const) {
      const [then, now] = [added(runs, before, pick), added(runs, 'tollgate', pick)];
      rows.push([`added latency ${name} @ ${s.label} (ms)`, signed(then), signed(now), signed(now - then)]);
    }
    const stalls = (t: TargetName) => {
      const each = (runs[t] ?? []).map((r) => r.loopDelayMax);
      return each.every((x) => x !== undefined) && each.length > 0 ? each.map((x) => x!.toFixed(1)).join(' / ') : '–';
    };
    rows.push([`longest event-loop stall @ ${s.label} (ms, each round)`, stalls(before), stalls('tollgate'), '']);
    const [eThen, eNow] = [errors(runs[before]), errors(runs.tollgate)];
    if (eThen + eNow > 0) rows.push([`unfinished @ ${s.label}`, int(eThen), int(eNow), '']);
  }
  const tput = (t: TargetName) => med(rounds.throughput[t], (x) => x.rps);
  const [tThen, tNow] = [tput(before), tput('tollgate')];
  rows.push([
    'max throughput (RPS)',
    int(tThen),
    int(tNow),
    Number.isFinite(tThen) && Number.isFinite(tNow)
      ? `${signed(tNow - tThen, 0)} (${signed((100 * (tNow - tThen)) / tThen, 1)} %)`
      : '–',
  ]);
  const ttfb = (t: TargetName) => added(rounds.stream, t, (x) => x.ttfbP50);
  rows.push([
    'stream TTFB p50 added (ms)',
    signed(ttfb(before)),
    signed(ttfb('tollgate')),
    signed(ttfb('tollgate') - ttfb(before)),
  ]);
  const head = ['Metric', before, 'tollgate (this checkout)', 'difference (now − then)'];
  const line = (c: string[]) => `| ${c.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The "Before and after" section of RESULTS.md. */
export function compareMarkdown(rounds: RoundsResult, before: TargetName, plan: Plan, revision: string): string {
  const rates = plan.openLoop.rates.map((r) => r.toLocaleString('en-US')).join(' / ');
  return `## Before and after

tollgate at ${before.slice('tollgate@'.length)} against this checkout (${revision}), both built the same way and run in the same rounds with direct (\`npm run bench -- --only compare --against <rev>\`, about 8 minutes): ${plan.rounds} rounds × ${rates} RPS × ${plan.openLoop.ms / 1000} s, then ${plan.closedLoop.durationS} s closed loop and ${plan.stream.count} streams per target and round, the order rotating by round, each proxy pinned to the proxy core. Figures are added to direct of the same round, medians over rounds. The longest event-loop stall is how late a 2 ms timer inside the proxy fired at worst during the run (\`perf_hooks.monitorEventLoopDelay\`, bench/lib/loop-delay-preload.mjs), per round: a stall there is every request of those milliseconds waiting.

${compareTable(rounds, before)}
`;
}
