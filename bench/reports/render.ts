/** The reports bench's section of RESULTS.md: tables of what `run.ts` measured, each against its target. */
import type { Machine } from '../lib/machine.js';
import { median } from '../lib/stats.js';
import type { ArchiveUnderLoad, DashboardRound, ReportTiming } from './phases.js';
import type { LedgerSize } from './size.js';

export interface ReportsResult {
  engine: 'sqlite' | 'postgres';
  rows: number;
  rps: number;
  seconds: number;
  machine: Machine;
  pinned: boolean;
  size: LedgerSize;
  reports: ReportTiming[];
  dashboards: DashboardRound[];
  /** Absent when the run skipped it (`--skip-archive`). */
  archive?: ArchiveUnderLoad;
}

const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(n < 10 ? 2 : 1) : '–');
const mb = (n: number) => (n / 1e6).toFixed(0);
const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

export function reportMarkdown(r: ReportsResult): string {
  const lines: string[] = [];
  const n = r.rows.toLocaleString('en-US');
  lines.push(`## Reports on ${n} requests over 90 days (${r.engine})`, '');
  lines.push(
    `${r.machine.cpuModel}, ${r.machine.nproc} cores, Node ${r.machine.node}; ${r.pinned ? 'tollgate pinned to core 0, load and upstream to core 1' : 'unpinned'}. ` +
      '20 companies (Zipf sizes), 4,000 end users, 3 keys per company, 8 models, 5 endpoints, 3 features.',
    '',
  );
  lines.push('### Size', '', '| table (with its indexes) | MB | bytes per request row |', '|---|---:|---:|');
  for (const [t, b] of Object.entries(r.size.tables).sort(([, a], [, b]) => b - a)) {
    if (b < 1e6) continue;
    lines.push(`| ${t} | ${mb(b)} | ${(b / r.size.rows).toFixed(0)} |`);
  }
  lines.push(
    `| **raw rows (requests + debits)** | | **${r.size.rawBytesPerRow.toFixed(0)}** |`,
    `| **rollups (every usage_* table)** | | **${r.size.rollupBytesPerRow.toFixed(0)}** |`,
    '',
  );
  lines.push(
    '### Read API, each report alone (median of 5, target ≤ 100 ms)',
    '',
    '| report | rows | median ms | max ms | |',
    '|---|---:|---:|---:|---|',
  );
  for (const t of r.reports)
    lines.push(
      `| ${t.name} | ${t.rows} | ${ms(t.medianMs)} | ${ms(t.maxMs)} | ${t.status === 200 ? pass(t.medianMs <= 100) : `HTTP ${t.status}`} |`,
    );
  lines.push('');
  const added = (f: (x: DashboardRound) => number) => median(r.dashboards.map(f));
  const alone = added((d) => d.alone.p99 - d.direct.p99);
  const withDash = added((d) => d.withDashboards.p99 - d.direct.p99);
  lines.push(
    `### Proxied latency at ${r.rps} RPS with the dashboards refreshing every second (median of ${r.dashboards.length} round(s), ${r.seconds} s each)`,
    '',
    "Dashboards: the largest company's admin view over 90 days, and the operator's view of every company, each refreshed once a second.",
    '',
    '| | p50 ms | p99 ms | p99.9 ms | max ms | errors |',
    '|---|---:|---:|---:|---:|---:|',
  );
  for (const [name, f] of [
    ['direct (the upstream)', (d: DashboardRound) => d.direct],
    ['tollgate, nobody reading', (d: DashboardRound) => d.alone],
    ['tollgate, dashboards refreshing', (d: DashboardRound) => d.withDashboards],
  ] as const)
    lines.push(
      `| ${name} | ${ms(added((d) => f(d).p50))} | ${ms(added((d) => f(d).p99))} | ${ms(added((d) => f(d).p999))} | ${ms(added((d) => f(d).max))} | ${r.dashboards.reduce((s, d) => s + f(d).errors, 0)} |`,
    );
  lines.push(
    '',
    `Added p99 (over direct): ${ms(alone)} ms alone, ${ms(withDash)} ms with the dashboards: **+${ms(withDash - alone)} ms** (target ≤ +2 ms: ${pass(withDash - alone <= 2)}). ` +
      `A dashboard refresh took ${ms(added((d) => d.refreshMs.median))} ms (median; max ${ms(Math.max(...r.dashboards.map((d) => d.refreshMs.max)))}), ` +
      `${r.dashboards.reduce((s, d) => s + d.refreshMs.failed, 0)} failed.`,
    '',
  );
  const a = r.archive;
  if (!a) {
    lines.push('### Archiving 30 days of raw rows under the same load', '', 'Not run (`--skip-archive`).');
    return lines.join('\n');
  }
  lines.push('### Archiving 30 days of raw rows under the same load', '');
  if ('error' in a.archived) lines.push(`The archive failed: ${a.archived.error}`, '');
  else
    lines.push(
      `${a.archived.requests.toLocaleString('en-US')} requests and ${a.archived.debits.toLocaleString('en-US')} debits: written (${mb(a.archived.bytes)} MB gzip'd NDJSON) in ${(a.archived.writeMs / 1000).toFixed(0)} s, deleted in ${(a.archived.deleteMs / 1000).toFixed(0)} s.`,
      '',
    );
  lines.push(
    '| proxied requests | p50 ms | p99 ms | p99.9 ms | max ms | over 10 ms |',
    '|---|---:|---:|---:|---:|---:|',
    `| just before | ${ms(a.before.p50)} | ${ms(a.before.p99)} | ${ms(a.before.p999)} | ${ms(a.before.max)} | |`,
    `| while archiving (${a.during.ok.toLocaleString('en-US')}) | ${ms(a.during.p50)} | ${ms(a.during.p99)} | ${ms(a.during.p999)} | ${ms(a.during.max)} | ${a.during.over10ms} |`,
    '',
    `Target, no proxied request over 10 ms while archiving: ${pass(a.during.over10ms === 0)}.`,
  );
  return lines.join('\n');
}
