/**
 * `npm run bench` (full plan, writes bench/RESULTS.md) and `npm run bench:smoke` (`--smoke`:
 * seconds long, writes nothing, exits 0 when every part ran without failed requests).
 *
 * Pins itself (the load generator) to core 1, starts the fake upstream there, and each proxy on
 * core 0; runs the interleaved rounds, the concurrent-streams runs and tollgate's ledger
 * benchmarks; prints the table. All traffic goes to 127.0.0.1; every phase is bounded in requests
 * and time, and the whole run by the plan's deadline.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureInstalled, installed } from './lib/install.js';
import { machine } from './lib/machine.js';
import { revision } from './lib/revision.js';
import { FULL, SMOKE, variantsOf } from './lib/plan.js';
import { canPin, CORES, killLive, memoryMb, pinSelf } from './lib/proc.js';
import { modelOf } from './lib/variants.js';
import { loadAutocannon } from './load/closed-loop.js';
import { concurrentStreams } from './phases/concurrent.js';
import { admissionScaling, settleThroughput } from './phases/ledger.js';
import { runRounds, warmUp } from './phases/rounds.js';
import { resultsMarkdown, table } from './report/render.js';
import { summarise, tally, type RunResults } from './report/summary.js';
import { buildTollgate } from './targets/build.js';
import {
  directTarget,
  portkeyDir,
  startFloor,
  startPortkey,
  startTollgate,
  startUpstream,
  type Env,
  type Target,
} from './targets/start.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const plan = process.argv.includes('--smoke') ? SMOKE : FULL;
const log = (line: string) => process.stdout.write(`${line}\n`);
const startedAt = new Date();
const m = machine();
const pin = canPin(m.nproc);
const env: Env = { root, work: mkdtempSync(join(tmpdir(), 'tollgate-bench-')), pin, tollgateMain: '' };
const cleanups: (() => Promise<void>)[] = [];

async function cleanup(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
}

const deadline = setTimeout(() => {
  log(`bench: over its ${plan.deadlineMs / 1000} s limit; stopping`);
  void cleanup().finally(() => {
    killLive();
    process.exit(1);
  });
}, plan.deadlineMs);
deadline.unref();

async function main(): Promise<number> {
  log(`tollgate bench (${plan.mode}) — ${m.nproc} cores, ${m.cpuModel}, Node ${m.node}; work dir ${env.work}`);
  if (pin) pinSelf(CORES.load);
  else log('bench: cannot pin (needs taskset and 2 cores): running unpinned, figures are less comparable');

  ensureInstalled(join(root, 'bench', 'tools'), log);
  const autocannon = loadAutocannon(root);
  env.tollgateMain = buildTollgate(root);
  const skipped: RunResults['skipped'] = {};
  if (plan.portkey === 'install') ensureInstalled(portkeyDir(root), log);
  const withPortkey = installed(portkeyDir(root));
  if (!withPortkey) skipped.portkey = 'not installed (the smoke plan does not install it; `npm run bench` does)';

  const upstream = await startUpstream(env);
  cleanups.push(upstream.stop);
  const models = variantsOf(plan).map(modelOf);
  const targets: Target[] = [directTarget(upstream.url)];
  const floor = await startFloor(env, upstream.url);
  cleanups.push(floor.stop);
  targets.push(floor);
  const tollgate = await startTollgate(env, { upstreamUrl: upstream.url, models });
  cleanups.push(tollgate.stop);
  targets.push(tollgate);
  if (withPortkey) {
    const portkey = await startPortkey(env, upstream.url);
    cleanups.push(portkey.stop);
    targets.push(portkey);
  }
  log(`targets: ${targets.map((t) => `${t.name} ${t.origin}`).join(', ')}`);

  log('warming up…');
  await warmUp(plan, targets);
  const rounds = await runRounds(plan, targets, autocannon, log);
  const rss = Object.fromEntries(targets.filter((t) => t.pid).map((t) => [t.name, memoryMb(t.pid!, 'VmHWM') ?? NaN]));
  for (const t of targets) await t.stop();

  const concurrent: RunResults['concurrent'] = {};
  log(`concurrent streams: ${plan.concurrent.streams} through a fresh tollgate…`);
  concurrent.tollgate = await concurrentStreams(plan, () =>
    startTollgate(env, {
      upstreamUrl: upstream.url,
      models,
      connections: plan.concurrent.streams + 64,
      tag: 'streams',
    }),
  );
  log(
    `  tollgate peak RSS ${concurrent.tollgate.peakRssMb.toFixed(1)} MB, ${concurrent.tollgate.completed}/${concurrent.tollgate.streams} streams ok`,
  );
  if (withPortkey) {
    concurrent.portkey = await concurrentStreams(plan, () => startPortkey(env, upstream.url, 'streams'));
    log(
      `  Portkey peak RSS ${concurrent.portkey.peakRssMb.toFixed(1)} MB, ${concurrent.portkey.completed}/${concurrent.portkey.streams} streams ok`,
    );
  }
  await upstream.stop();

  log('ledger: settle throughput…');
  const settle = await settleThroughput(env, plan);
  log(`  ${Math.round(settle.pairsPerS)} admit+settle pairs/s`);
  log(
    `ledger: admission with ${plan.ledger.sizes.map((s) => s.toLocaleString('en-US')).join(', ')} requests (bulk loads take a while)…`,
  );
  const admission = await admissionScaling(env, plan);

  const results: RunResults = { plan, rounds, rss, concurrent, settle, admission, skipped };
  const rows = summarise(results);
  log(`\n${table(rows)}\n`);
  const tookS = (Date.now() - startedAt.getTime()) / 1000;
  const md = resultsMarkdown(results, rows, { machine: m, revision: revision(root), pinned: pin, startedAt, tookS });
  if (plan.mode === 'full') {
    writeFileSync(join(root, 'bench', 'RESULTS.md'), md);
    log(`wrote bench/RESULTS.md; took ${Math.round(tookS)} s`);
  } else log(`smoke run took ${Math.round(tookS)} s (RESULTS.md is written by the full run only)`);

  const failed = (['direct', 'floor', 'tollgate'] as const).filter((t) => tally(results, t).errors > 0);
  if (failed.length && plan.mode === 'smoke') {
    log(`bench: failed requests through ${failed.join(', ')}`);
    return 1;
  }
  if (failed.length)
    log(
      `bench: unfinished or failed requests through ${failed.join(', ')} (offered rates above capacity; counted in the table)`,
    );
  return 0;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  log(`bench failed: ${(err as Error).stack ?? err}`);
} finally {
  await cleanup();
  killLive();
  clearTimeout(deadline);
}
if (code === 0) rmSync(env.work, { recursive: true, force: true });
else {
  for (const f of readdirSync(env.work)) if (/\.db(-wal|-shm)?$/.test(f)) rmSync(join(env.work, f), { force: true });
  log(`logs kept in ${env.work}`);
}
process.exit(code);
