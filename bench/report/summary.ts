/**
 * Turns a run's raw figures into the results table: medians over rounds, each proxy's figure
 * "added" to direct's taken within a round (proxy − direct, same round) before the median, and
 * tollgate's targets with PASS/FAIL, each stated against the floor (the bare node:http + undici
 * pass-through) measured in the same run.
 */
import type { Plan } from '../lib/plan.js';
import { median } from '../lib/stats.js';
import type { ConcurrentRun } from '../phases/concurrent.js';
import type { AdmissionSize, SettleResult } from '../phases/ledger.js';
import type { RoundsResult, StreamRun } from '../phases/rounds.js';
import type { TargetName } from '../targets/start.js';

export interface RunResults {
  plan: Plan;
  rounds: RoundsResult;
  /** Peak RSS (VmHWM) of each proxy after the rounds, MB. */
  rss: Partial<Record<TargetName, number>>;
  concurrent: Partial<Record<TargetName, ConcurrentRun>>;
  settle?: SettleResult;
  admission?: AdmissionSize[];
  /** Why a target was left out (e.g. Portkey not installed). */
  skipped: Partial<Record<TargetName, string>>;
}

export type Verdict = 'PASS' | 'FAIL' | 'n/a' | '';

export interface Row {
  metric: string;
  direct: string;
  floor: string;
  tollgate: string;
  portkey: string;
  target: string;
  verdict: Verdict;
}

const fmt = (v: number, digits = 3) => (Number.isFinite(v) ? v.toFixed(digits) : '–');
const signed = (v: number, digits = 3) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${v.toFixed(digits)}` : '–');
const int = (v: number) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–');
const judge = (ok: boolean | undefined): Verdict => (ok === undefined ? 'n/a' : ok ? 'PASS' : 'FAIL');

/** Median over rounds of (proxy − direct) of `pick`, pairing runs of the same round. */
export function added<T>(runs: Partial<Record<TargetName, T[]>>, proxy: TargetName, pick: (r: T) => number): number {
  const d = runs.direct ?? [];
  const p = runs[proxy] ?? [];
  return median(p.map((r, i) => (d[i] ? pick(r) - pick(d[i]) : NaN)));
}

export const med = <T>(runs: T[] | undefined, pick: (r: T) => number) => median((runs ?? []).map(pick));

/** A row: direct's absolute median, each proxy's median added to it; failed or unfinished requests noted. */
function addedRow<T extends { errors: number }>(
  metric: string,
  runs: Partial<Record<TargetName, T[]>>,
  pick: (r: T) => number,
): Row {
  const failed = (t: TargetName) => {
    const n = (runs[t] ?? []).reduce((a, r) => a + r.errors, 0);
    return n ? ` (${int(n)} unfinished)` : '';
  };
  return {
    metric,
    direct: fmt(med(runs.direct, pick)) + failed('direct'),
    floor: signed(added(runs, 'floor', pick)) + failed('floor'),
    tollgate: signed(added(runs, 'tollgate', pick)) + failed('tollgate'),
    portkey: signed(added(runs, 'portkey', pick)) + failed('portkey'),
    target: '',
    verdict: '',
  };
}

export function summarise(r: RunResults): Row[] {
  const rows: Row[] = [];
  const { rounds } = r;

  /** Verdict of "tollgate's added figure ≤ the floor's + `slackMs`", or n/a when either is missing. */
  const vsFloor = <T>(runs: Partial<Record<TargetName, T[]>>, pick: (r: T) => number, slackMs: number) => {
    const [t, f] = [added(runs, 'tollgate', pick), added(runs, 'floor', pick)];
    return judge(Number.isFinite(t) && Number.isFinite(f) ? t <= f + slackMs : undefined);
  };
  for (const s of rounds.scenarios) {
    const runs = rounds.latency[s.key]!;
    const p50 = addedRow(`Latency p50 @ ${s.label} (ms; proxies: added)`, runs, (x) => x.p50);
    const p99 = addedRow(`Latency p99 @ ${s.label} (ms; proxies: added)`, runs, (x) => x.p99);
    const p999 = addedRow(`Latency p99.9 @ ${s.label} (ms; proxies: added)`, runs, (x) => x.p999);
    const max = addedRow(`Latency max @ ${s.label} (ms; proxies: added)`, runs, (x) => x.max);
    if (s.key === 'instant@1000') {
      Object.assign(p50, { target: "≤ floor's + 0.3 ms", verdict: vsFloor(runs, (x) => x.p50, 0.3) });
      Object.assign(p99, { target: "≤ floor's + 1.5 ms", verdict: vsFloor(runs, (x) => x.p99, 1.5) });
    }
    if (s.key === 'instant@2000') {
      const held = (runs.tollgate ?? []).length > 0 && (runs.tollgate ?? []).every((x) => x.errors === 0);
      const v = vsFloor(runs, (x) => x.p99, 5);
      Object.assign(p99, { target: "held, ≤ floor's + 5 ms", verdict: v === 'n/a' ? v : judge(held && v === 'PASS') });
    }
    rows.push(p50, p99, p999, max);
  }

  const tput = (n: TargetName) => med(rounds.throughput[n], (x) => x.rps);
  const [tg, fl, pk] = [tput('tollgate'), tput('floor'), tput('portkey')];
  const tputOk =
    Number.isFinite(tg) && Number.isFinite(fl) ? tg >= 0.5 * fl && (!Number.isFinite(pk) || tg >= 3 * pk) : undefined;
  rows.push({
    metric: `Max throughput, closed loop, ${r.plan.closedLoop.connections} connections (RPS)`,
    direct: int(tput('direct')),
    floor: int(fl),
    tollgate: `${int(tg)}${Number.isFinite(fl) ? ` (${Math.round((100 * tg) / fl)}% of floor)` : ''}`,
    portkey: int(pk),
    target: "≥ 50% of floor's, ≥ 3× Portkey's",
    verdict: judge(tputOk),
  });

  const st = rounds.stream;
  const ttfb = addedRow('Stream TTFB p50 (ms; proxies: added)', st, (x) => x.ttfbP50);
  Object.assign(ttfb, { target: "≤ floor's + 0.3 ms", verdict: vsFloor(st, (x) => x.ttfbP50, 0.3) });
  rows.push(
    ttfb,
    addedRow('Stream TTFB p99 (ms; proxies: added)', st, (x) => x.ttfbP99),
  );
  rows.push(addedRow('Stream inter-chunk gap p50 (ms; proxies: added)', st, (x) => x.gapP50));
  rows.push(addedRow('Stream inter-chunk gap p99 (ms; proxies: added)', st, (x) => x.gapP99));
  const chunks = (n: TargetName) => {
    const runs = st[n];
    if (!runs?.length) return { text: '–', ok: undefined };
    const sum = (f: (x: StreamRun) => number) => runs.reduce((a, x) => a + f(x), 0);
    const [reads, expected, events, coalesced] = [
      sum((x) => x.reads),
      sum((x) => x.eventsExpected),
      sum((x) => x.eventsReceived),
      sum((x) => x.coalescedReads),
    ];
    return {
      text: `${int(reads)} / ${int(expected)}, ${int(coalesced)} coalesced`,
      ok: reads === expected && events === expected && coalesced === 0,
    };
  };
  const tgChunks = chunks('tollgate');
  rows.push({
    metric: 'Stream chunks received / sent (reads / upstream writes)',
    direct: chunks('direct').text,
    floor: chunks('floor').text,
    tollgate: tgChunks.text,
    portkey: chunks('portkey').text,
    target: 'none coalesced',
    verdict: judge(tgChunks.ok),
  });

  rows.push({
    metric: 'Peak RSS after the rounds (MB)',
    direct: '',
    floor: fmt(r.rss.floor ?? NaN, 1),
    tollgate: fmt(r.rss.tollgate ?? NaN, 1),
    portkey: fmt(r.rss.portkey ?? NaN, 1),
    target: '',
    verdict: '',
  });
  const n = r.plan.concurrent.streams.toLocaleString('en-US');
  const cc = (t: TargetName) => {
    const c = r.concurrent[t];
    return c ? `${fmt(c.peakRssMb, 1)} (${c.completed}/${c.streams} ok, ${c.peakOpen} open)` : '–';
  };
  const ccT = r.concurrent.tollgate;
  rows.push({
    metric: `${n} concurrent streams: peak RSS of a fresh process (MB)`,
    direct: '',
    floor: '',
    tollgate: cc('tollgate'),
    portkey: cc('portkey'),
    target: '< 300 MB, all complete',
    verdict: judge(ccT ? ccT.peakRssMb < 300 && ccT.completed === ccT.streams : undefined),
  });

  if (r.settle) {
    rows.push({
      metric: 'Ledger admit + settle on a file DB (pairs/s, 1 core)',
      direct: '',
      floor: '',
      tollgate: `${int(r.settle.pairsPerS)} (admit ${fmt(r.settle.admitUs / 1000)} ms, settle ${fmt(r.settle.settleUs / 1000)} ms)`,
      portkey: '',
      target: '',
      verdict: '',
    });
  }
  const adm = r.admission ?? [];
  const base = adm[0];
  for (const [i, a] of adm.entries()) {
    const last = i === adm.length - 1 && i > 0 && base;
    const flat = last ? a.admitMs[0] <= 1.25 * base.admitMs[0] && a.admitMs[1] <= 2 * base.admitMs[1] : undefined;
    rows.push({
      metric: `Ledger.admit p50 / p99 with ${int(a.rows)} requests in the ledger (ms)`,
      direct: '',
      floor: '',
      tollgate: `${fmt(a.admitMs[0])} / ${fmt(a.admitMs[1])}`,
      portkey: '',
      target: last ? 'flat: p50 ≤ 1.25×, p99 ≤ 2× the 0-row figures' : '',
      verdict: last ? judge(flat) : '',
    });
  }

  const errors = (t: TargetName) => {
    const { errors: e, sent } = tally(r, t);
    return sent ? `${int(e)} / ${int(sent)}` : r.skipped[t] ? 'skipped' : '–';
  };
  rows.push({
    metric: 'Unfinished or failed requests / requests sent (all runs)',
    direct: errors('direct'),
    floor: errors('floor'),
    tollgate: errors('tollgate'),
    portkey: errors('portkey'),
    target: '',
    verdict: '',
  });
  return rows;
}

/** Failed requests of `target` over every run, and requests (or streams) sent; 0 when it did not run. */
export function tally(r: RunResults, target: TargetName): { errors: number; sent: number } {
  let errors = 0;
  let sent = 0;
  for (const s of r.rounds.scenarios)
    for (const x of r.rounds.latency[s.key]?.[target] ?? []) [errors, sent] = [errors + x.errors, sent + x.sent];
  for (const x of r.rounds.throughput[target] ?? []) [errors, sent] = [errors + x.errors, sent + x.ok + x.errors];
  for (const x of r.rounds.stream[target] ?? []) [errors, sent] = [errors + x.errors, sent + x.streams];
  const c = r.concurrent[target];
  if (c) [errors, sent] = [errors + c.errors, sent + c.streams];
  return { errors, sent };
}
