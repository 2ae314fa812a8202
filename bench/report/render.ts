/** Renders the results: the table (Markdown, also what the console shows) and bench/RESULTS.md. */
import type { Machine } from '../lib/machine.js';
import type { TargetName } from '../targets/start.js';
import type { RunResults, Row } from './summary.js';

const HEAD = ['Metric', 'direct', 'floor', 'tollgate', 'Portkey 1.15.2', 'tollgate target', 'tollgate'];

/** The rows as a Markdown table with padded columns. */
export function table(rows: Row[]): string {
  const cells = [HEAD, ...rows.map((r) => [r.metric, r.direct, r.floor, r.tollgate, r.portkey, r.target, r.verdict])];
  const widths = HEAD.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(cells[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join(
    '\n',
  );
}

/** Per-round figures, so the medians can be checked. */
function perRound(r: RunResults): string {
  const out: string[] = ['| Run | round | direct | floor | tollgate | Portkey |', '|---|---|---|---|---|---|'];
  const n = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : '–');
  for (let i = 0; i < r.plan.rounds; i++) {
    for (const s of r.rounds.scenarios) {
      const l = r.rounds.latency[s.key]!;
      const cell = (t: TargetName) =>
        l[t]?.[i] ? `${n(l[t]![i]!.p50)} / ${n(l[t]![i]!.p99)} / ${n(l[t]![i]!.p999)} / ${n(l[t]![i]!.max, 1)}` : '–';
      out.push(
        `| Latency p50 / p99 / p99.9 / max @ ${s.label} (ms) | ${i + 1} | ${cell('direct')} | ${cell('floor')} | ${cell('tollgate')} | ${cell('portkey')} |`,
      );
    }
    const tp = (t: TargetName) => n(r.rounds.throughput[t]?.[i]?.rps ?? NaN, 0);
    out.push(
      `| Max throughput (RPS) | ${i + 1} | ${tp('direct')} | ${tp('floor')} | ${tp('tollgate')} | ${tp('portkey')} |`,
    );
    const st = (t: TargetName) => {
      const x = r.rounds.stream[t]?.[i];
      return x ? `${n(x.ttfbP50)} / ${n(x.ttfbP99)} · ${n(x.gapP50)} / ${n(x.gapP99)}` : '–';
    };
    out.push(
      `| Stream TTFB p50 / p99 · gap p50 / p99 (ms) | ${i + 1} | ${st('direct')} | ${st('floor')} | ${st('tollgate')} | ${st('portkey')} |`,
    );
    const ch = (t: TargetName) => {
      const x = r.rounds.stream[t]?.[i];
      return x ? `${x.reads} / ${x.eventsExpected}, ${x.coalescedReads} coalesced` : '–';
    };
    out.push(
      `| Stream reads / upstream writes | ${i + 1} | ${ch('direct')} | ${ch('floor')} | ${ch('tollgate')} | ${ch('portkey')} |`,
    );
  }
  return out.join('\n');
}

export interface ReportMeta {
  machine: Machine;
  /** tollgate's commit (see `revision`). */
  revision: string;
  pinned: boolean;
  startedAt: Date;
  /** Wall time of the whole run, s. */
  tookS: number;
}

/** The whole RESULTS.md. */
export function resultsMarkdown(r: RunResults, rows: Row[], meta: ReportMeta): string {
  const p = r.plan;
  const m = meta.machine;
  const skipped = Object.entries(r.skipped).map(([t, why]) => `- ${t} skipped: ${why}`);
  const adm = (r.admission ?? []).map(
    (a) =>
      `| ${a.rows.toLocaleString('en-US')} | ${(a.loadMs / 1000).toFixed(1)} | ${a.admitMs[0].toFixed(3)} / ${a.admitMs[1].toFixed(3)} | ${a.settleMs[0].toFixed(3)} / ${a.settleMs[1].toFixed(3)} |`,
  );
  return `# tollgate bench results

Written by \`npm run bench\` (${p.mode} plan) on ${meta.startedAt.toISOString()} for tollgate ${meta.revision}; the run took ${Math.round(meta.tookS)} s.

## Machine

- ${m.nproc} cores (nproc), ${m.cpuModel}, ${m.memoryGiB} GiB memory, Linux ${m.kernel}
- Node ${m.node}
- ${meta.pinned ? 'Pinned with `taskset -c`: the proxy under test on core 0; the load generator and the fake upstream on core 1 (the same for every target).' : 'NOT pinned (taskset missing or fewer than 2 cores): figures are less comparable.'}

## Commands

\`\`\`sh
npm run bench                               # this file: ~40 min (2 rounds, 30 s per rate, 10M-row ledger, the scale phase)
npm run bench -- --only scale               # only the "Scaling out" section: tollgate on Postgres, ~5 min
npm run bench -- --only compare --against R # only the "Before and after" section: tollgate at revision R beside this one, ~8 min
npm run bench:smoke                         # a short check that every part runs (writes nothing)
node --import tsx bench/profile/run.ts      # CPU profiles of tollgate at 1,000 RPS and at max throughput
\`\`\`

## Method

- **Targets**: \`direct\` (load → fake upstream), **floor** (\`bench/targets/floor-main.mjs\`: the barest Node pass-through — node:http server, undici pool, nothing else — the yardstick every tollgate target is stated against), **tollgate** (metering and the SQLite ledger file on, logging at \`info\` to a file, as \`tollgate serve\` runs; built from \`src/\` with esbuild into one ES module, npm packages external, run with plain \`node\`), **Portkey** gateway 1.15.2 (\`@hono/node-server\` overridden to 1.13.8; routed with \`x-portkey-provider: openai\` and \`x-portkey-custom-host\`). Each proxy is its own Node process.
- **Fake upstream** (\`bench/upstream/server.ts\`): prebuilt OpenAI chat completion bodies with \`usage\`; a variant delayed ${p.openLoop.delayed.delayMs} ms; SSE streams of ${p.stream.variant.chunks} content chunks ${p.stream.variant.intervalMs} ms apart, one event per write, honouring \`stream_options.include_usage\` as OpenAI does. Requests are short chat completions (~200 bytes) without \`include_usage\` (tollgate adds it and hides the usage chunk).
- **Latency**: open-loop driver (\`bench/load/open-loop.ts\`, undici): requests sent on a fixed schedule regardless of completions, latency measured from the scheduled send to the last byte, ${p.openLoop.ms / 1000} s per run; p50, p99, p99.9 and the maximum. "Added" = proxy − direct of the same round, then the median over ${p.rounds} rounds. Direct and proxy runs are interleaved within each round, the order rotating by round; before each run the previous target has worked off any backlog (its CPU use fell under 10 %). A rate above a target's max throughput overloads it: its queue grows for the whole run, latencies are those of the backlog, and requests still unanswered 5 s after the schedule ends are cut and counted "unfinished".
- **Max throughput**: autocannon (bench-local \`bench/tools\`), ${p.closedLoop.connections} connections, ${p.closedLoop.durationS} s, 2xx responses per second; median over rounds.
- **Streams**: ${p.stream.count} streams started at ${p.stream.ratePerS}/s; TTFB = scheduled start → first body byte; gap = time between consecutive body reads; a read carrying more than one SSE event means upstream writes were coalesced on the way (by buffering, or by the proxy's event loop being busy while several writes arrived).
- **RSS**: \`VmHWM\` from \`/proc/<pid>/status\`. Concurrent streams: ${p.concurrent.streams} streams (${p.concurrent.variant.chunks} chunks × ${p.concurrent.variant.intervalMs} ms) started at ${p.concurrent.ratePerS}/s through a freshly started proxy (tollgate with \`upstream.connections\` raised to hold them all, its default being 128).
- **Ledger** (tollgate alone, pinned to the proxy core): \`Ledger.admit\` + \`Ledger.settle\` pairs per second on a WAL file DB for ${p.ledger.settleMs / 1000} s; then \`Ledger.admit\` p50 / p99 over ${p.ledger.admits.toLocaleString('en-US')} calls (each followed by a settle) after bulk-loading settled requests (one debit each) into the same file.
${skipped.length ? `\n${skipped.join('\n')}\n` : ''}
## Results (medians over ${p.rounds} round${p.rounds > 1 ? 's' : ''})

${table(rows)}

## Ledger size and admission

| Requests in ledger | Load time (s) | Ledger.admit p50 / p99 (ms) | Ledger.settle p50 / p99 (ms) |
|---|---|---|---|
${adm.join('\n')}

## Per round

${perRound(r)}
`;
}
