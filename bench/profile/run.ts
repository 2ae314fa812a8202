/**
 * CPU profiles of tollgate under load: one tollgate process (pinned to core 0, `node --cpu-prof`)
 * per load, the fake upstream and the load on core 1, as in the bench:
 * - `open-1000`: open loop at `--rps` (default 1,000 RPS) for `--seconds` (default 20 s);
 * - `closed-max`: autocannon, 64 connections, for `--seconds`.
 * tollgate runs from the bench's build (bench/.build/, mapped back to src/ by its source map).
 * Node writes one profile per thread when tollgate exits (SIGTERM), so each load gets its own folder
 * bench/profile/out/<load>/ and the summary is of the busiest profile in it (the main thread's),
 * with the CPU per request by module (µs). Then the same load runs twice more through a fresh,
 * unprofiled tollgate: for at most 10 s with `alloc-preload.mjs` (V8 heap bytes allocated per
 * request, GC pauses) and its CPU time read from /proc (which, unlike a profile's wall-clock
 * samples, leaves out time spent waiting for a core other processes share), and for at most 5 s counting its ledger connection's SQL
 * (`TOLLGATE_SQL_STATS`), for the statements and commits per request.
 * *.cpuprofile is git-ignored; the summaries go to stdout and to bench/profile/out/PROFILE.md.
 *
 *   node --import tsx bench/profile/run.ts [--seconds 20] [--rps 1000] [--quick]
 *
 * `--quick` leaves out the profiled runs: CPU (from /proc), allocation and SQL per request only,
 * for A/B runs of two revisions taking turns on a shared machine.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureInstalled } from '../lib/install.js';
import { machine } from '../lib/machine.js';
import { canPin, CORES, cpuTicks, killLive, pinSelf, TICKS_PER_S } from '../lib/proc.js';
import { modelOf, type Variant } from '../lib/variants.js';
import { closedLoop, loadAutocannon } from '../load/closed-loop.js';
import { openLoop } from '../load/open-loop.js';
import { chatBody } from '../load/requests.js';
import { percentile } from '../lib/stats.js';
import { buildTollgate } from '../targets/build.js';
import { CHAT_PATH, startTollgate, startUpstream, type Env } from '../targets/start.js';
import { SQL_STATS_ENV, type SqlStats } from '../../src/ledger/sqlite/sql-stats.js';
import { summarise, summaryMarkdown, type Summary } from './summarise.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    rps: { type: 'string', default: '1000' },
    quick: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const rps = Number(values.rps);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = join(root, 'bench', 'profile', 'out');
const m = machine();
const env: Env = {
  root,
  work: mkdtempSync(join(tmpdir(), 'tollgate-profile-')),
  pin: canPin(m.nproc),
  tollgateMain: '',
};
const variant: Variant = { delayMs: 0, chunks: 20, intervalMs: 10 };

mkdirSync(out, { recursive: true });
if (env.pin) pinSelf(CORES.load);
ensureInstalled(join(root, 'bench', 'tools'), console.log);
const autocannon = loadAutocannon(root);
env.tollgateMain = buildTollgate(root);
const upstream = await startUpstream(env);
const sections: string[] = [
  `# tollgate CPU profiles\n\n${m.nproc} cores, ${m.cpuModel}, Node ${m.node}; ${new Date().toISOString()}.\n`,
];

/** A load: what it did (for the title) and how many requests completed. */
type Load = (
  origin: string,
  headers: Record<string, string>,
  seconds: number,
) => Promise<{ text: string; requests: number }>;
const loads: [string, string, Load][] = [
  [
    'open-1000',
    `open loop, ${rps} RPS, ${seconds} s`,
    async (origin, headers, s) => {
      const r = await openLoop({
        origin,
        path: CHAT_PATH,
        headers,
        body: chatBody(variant),
        rps,
        durationMs: s * 1000,
      });
      return {
        text: `${r.ok}/${r.sent} ok, p50 ${percentile(r.latencyMs, 50).toFixed(3)} ms, p99 ${percentile(r.latencyMs, 99).toFixed(3)} ms, p99.9 ${percentile(r.latencyMs, 99.9).toFixed(3)} ms`,
        requests: r.ok,
      };
    },
  ],
  [
    'closed-max',
    `closed loop, 64 connections, ${seconds} s`,
    async (origin, headers, s) => {
      const r = await closedLoop(autocannon, {
        origin,
        path: CHAT_PATH,
        headers,
        body: chatBody(variant),
        connections: 64,
        durationS: s,
      });
      return { text: `${Math.round(r.rps)} RPS, ${r.errors} errors`, requests: r.ok };
    },
  ],
];

/** CPU per request by module (µs of the main thread's busy time), the top `top`, as Markdown. */
function perRequest(s: Summary, requests: number, top = 12): string {
  const us = (ms: number) => ((ms * 1000) / requests).toFixed(1);
  const rows = s.areas.slice(0, top).map((a) => `| ${a.name} | ${us(a.selfMs)} |`);
  return [
    `CPU per request: ${us(s.busyMs)} µs (main thread, ${requests.toLocaleString('en-US')} requests; the profile's samples are wall clock, so time waiting for a shared core counts too)`,
    '',
    '| Module | µs per request |',
    '|---|---|',
    ...rows,
  ].join('\n');
}

/** A fresh, unprofiled tollgate for a measuring run, with extra node flags and environment variables. */
function measured(tag: string, nodeFlags: string[], extra: NodeJS.ProcessEnv) {
  const models = [modelOf(variant)];
  return startTollgate(env, { upstreamUrl: upstream.url, models, tag, nodeFlags, env: { ...process.env, ...extra } });
}

/** Statements and commits per request on the ledger connection, from an unprofiled run of `load`. */
async function sqlPerRequest(name: string, load: Load): Promise<string> {
  const file = join(env.work, `sql-${name}.json`);
  const t = await measured(`sql-${name}`, [], { [SQL_STATS_ENV]: file });
  const { requests } = await load(t.origin, t.headers, Math.min(5, seconds));
  await t.stop();
  const stats = JSON.parse(readFileSync(file, 'utf8')) as SqlStats;
  return `Ledger SQL per request (unprofiled run, ${requests.toLocaleString('en-US')} requests; start-up statements included): ${(stats.statements / requests).toFixed(2)} statements, ${(stats.commits / requests).toFixed(2)} commits`;
}

/** What alloc-preload.mjs writes. */
interface AllocStats {
  requests: number;
  allocatedBytes: number;
  gcs: { type: string; ms: number }[];
}

/** V8 heap bytes allocated per request and the GC pauses, from an unprofiled run of `load` with alloc-preload.mjs. */
async function allocPerRequest(name: string, load: Load): Promise<string> {
  const file = join(env.work, `alloc-${name}.json`);
  const preload = join(root, 'bench', 'profile', 'alloc-preload.mjs');
  const t = await measured(`alloc-${name}`, ['--import', preload], { TOLLGATE_ALLOC_FILE: file });
  const runS = Math.min(10, seconds);
  const ticks = () => [cpuTicks(t.pid!) ?? 0, cpuTicks(t.pid!, true) ?? 0];
  const before = ticks();
  const { requests } = await load(t.origin, t.headers, runS);
  const after = ticks();
  await t.stop();
  const us = (i: number) => (((after[i]! - before[i]!) / TICKS_PER_S) * 1e6) / requests;
  const a = JSON.parse(readFileSync(file, 'utf8')) as AllocStats;
  const major = a.gcs.filter((g) => g.type === 'MarkSweepCompact').map((g) => g.ms);
  const minor = a.gcs.filter((g) => g.type === 'Scavenge').map((g) => g.ms);
  const max = (xs: number[]) => (xs.length ? Math.max(...xs).toFixed(1) : '–');
  return [
    `CPU per request from /proc (unprofiled run, ${requests.toLocaleString('en-US')} requests in ${runS} s; time waiting for a shared core not counted): ${us(1).toFixed(0)} µs main thread, ${us(0).toFixed(0)} µs all threads`,
    '',
    `Heap allocated per request (same run, ${a.requests.toLocaleString('en-US')} requests): ${(a.allocatedBytes / a.requests / 1024).toFixed(1)} KiB; ${minor.length} scavenges (longest ${max(minor)} ms), ${major.length} mark-compacts (longest ${max(major)} ms)`,
  ].join('\n');
}

/** The summary of the busiest `.cpuprofile` in `dir` (waits up to 10 s for tollgate to write them). */
async function busiestProfile(dir: string): Promise<Summary> {
  for (let i = 0; i < 100 && !(existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.cpuprofile'))); i++)
    await sleep(100);
  await sleep(500);
  const all = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => summarise(JSON.parse(readFileSync(join(dir, f), 'utf8'))));
  if (!all.length) throw new Error(`no .cpuprofile written in ${dir}`);
  return all.sort((a, b) => b.busyMs - a.busyMs)[0]!;
}

try {
  for (const [name, label, load] of loads) {
    if (values.quick) {
      const md = [`### ${name}: ${label}`, await allocPerRequest(name, load), await sqlPerRequest(name, load), ''].join(
        '\n\n',
      );
      console.log(md);
      sections.push(md);
      continue;
    }
    const dir = join(out, name);
    rmSync(dir, { recursive: true, force: true });
    const t = await startTollgate(env, {
      upstreamUrl: upstream.url,
      models: [modelOf(variant)],
      tag: name,
      nodeFlags: ['--cpu-prof', '--cpu-prof-dir', dir],
    });
    const outcome = await load(t.origin, t.headers, seconds);
    await t.stop();
    const s = await busiestProfile(dir);
    const md = [
      summaryMarkdown(`${name}: ${label} — ${outcome.text}`, s),
      perRequest(s, outcome.requests),
      await allocPerRequest(name, load),
      await sqlPerRequest(name, load),
      '',
    ].join('\n\n');
    console.log(md);
    sections.push(md);
  }
  writeFileSync(join(out, 'PROFILE.md'), sections.join('\n'));
  console.log(`profiles and PROFILE.md in ${out}`);
} finally {
  await upstream.stop();
  killLive();
  rmSync(env.work, { recursive: true, force: true });
}
