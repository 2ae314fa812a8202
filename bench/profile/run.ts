/**
 * CPU profiles of tollgate under load: one tollgate process (pinned to core 0, `node --cpu-prof`)
 * per load, the fake upstream and the load on core 1, as in the bench:
 * - `open-1000`: open loop at `--rps` (default 1,000 RPS) for `--seconds` (default 20 s);
 * - `closed-max`: autocannon, 64 connections, for `--seconds`.
 * tollgate runs from the bench's build (bench/.build/, mapped back to src/ by its source map).
 * Node writes one profile per thread when tollgate exits (SIGTERM), so each load gets its own folder
 * bench/profile/out/<load>/ and the summary is of the busiest profile in it (the main thread's).
 * *.cpuprofile is git-ignored; the summaries go to stdout and to bench/profile/out/PROFILE.md.
 *
 *   node --import tsx bench/profile/run.ts [--seconds 20] [--rps 1000]
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureInstalled } from '../lib/install.js';
import { machine } from '../lib/machine.js';
import { canPin, CORES, killLive, pinSelf } from '../lib/proc.js';
import { modelOf, type Variant } from '../lib/variants.js';
import { closedLoop, loadAutocannon } from '../load/closed-loop.js';
import { openLoop } from '../load/open-loop.js';
import { chatBody } from '../load/requests.js';
import { percentile } from '../lib/stats.js';
import { buildTollgate } from '../targets/build.js';
import { CHAT_PATH, startTollgate, startUpstream, type Env } from '../targets/start.js';
import { summarise, summaryMarkdown, type Summary } from './summarise.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, rps: { type: 'string', default: '1000' } } });
const seconds = Number(values.seconds);
const rps = Number(values.rps);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const out = join(root, 'bench', 'profile', 'out');
const m = machine();
const env: Env = { root, work: mkdtempSync(join(tmpdir(), 'tollgate-profile-')), pin: canPin(m.nproc), tollgateMain: '' };
const variant: Variant = { delayMs: 0, chunks: 20, intervalMs: 10 };

mkdirSync(out, { recursive: true });
if (env.pin) pinSelf(CORES.load);
ensureInstalled(join(root, 'bench', 'tools'), console.log);
const autocannon = loadAutocannon(root);
env.tollgateMain = buildTollgate(root);
const upstream = await startUpstream(env);
const sections: string[] = [`# tollgate CPU profiles\n\n${m.nproc} cores, ${m.cpuModel}, Node ${m.node}; ${new Date().toISOString()}.\n`];

const loads: [string, string, (origin: string, headers: Record<string, string>) => Promise<string>][] = [
  [
    'open-1000',
    `open loop, ${rps} RPS, ${seconds} s`,
    async (origin, headers) => {
      const r = await openLoop({ origin, path: CHAT_PATH, headers, body: chatBody(variant), rps, durationMs: seconds * 1000 });
      return `${r.ok}/${r.sent} ok, p50 ${percentile(r.latencyMs, 50).toFixed(3)} ms, p99 ${percentile(r.latencyMs, 99).toFixed(3)} ms`;
    },
  ],
  [
    'closed-max',
    `closed loop, 64 connections, ${seconds} s`,
    async (origin, headers) => {
      const r = await closedLoop(autocannon, { origin, path: CHAT_PATH, headers, body: chatBody(variant), connections: 64, durationS: seconds });
      return `${Math.round(r.rps)} RPS, ${r.errors} errors`;
    },
  ],
];

/** The summary of the busiest `.cpuprofile` in `dir` (waits up to 10 s for tollgate to write them). */
async function busiestProfile(dir: string): Promise<Summary> {
  for (let i = 0; i < 100 && !(existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.cpuprofile'))); i++) await sleep(100);
  await sleep(500);
  const all = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => summarise(JSON.parse(readFileSync(join(dir, f), 'utf8'))));
  if (!all.length) throw new Error(`no .cpuprofile written in ${dir}`);
  return all.sort((a, b) => b.busyMs - a.busyMs)[0]!;
}

try {
  for (const [name, label, load] of loads) {
    const dir = join(out, name);
    rmSync(dir, { recursive: true, force: true });
    const t = await startTollgate(env, { upstreamUrl: upstream.url, models: [modelOf(variant)], tag: name, nodeFlags: ['--cpu-prof', '--cpu-prof-dir', dir] });
    const outcome = await load(t.origin, t.headers);
    await t.stop();
    const s = await busiestProfile(dir);
    const md = summaryMarkdown(`${name}: ${label} — ${outcome}`, s);
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
