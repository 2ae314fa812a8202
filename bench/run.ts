/**
 * `npm run bench` (full plan, writes bench/RESULTS.md) and `npm run bench:smoke` (`--smoke`:
 * seconds long, writes nothing, exits 0 when every part ran without failed requests).
 *
 *   npm run bench                                   # everything, ~40 min
 *   npm run bench -- --compare <rev>                # … with tollgate at <rev> in the same rounds
 *   npm run bench -- --only scale                   # the Postgres layouts alone, ~5 min
 *   npm run bench -- --only compare --against <rev> # before/after alone, ~8 min
 *   npm run bench -- --only compare --against <rev> --with <rev2>   # the same, "now" being <rev2>
 *   npm run bench -- --only reports                 # reports on a 10M-row ledger, SQLite then Postgres (bench/reports/)
 *
 * Pins itself (the load generator) to core 1, starts the fake upstream there, and each proxy on
 * core 0; runs the interleaved rounds, the concurrent-streams runs, tollgate's ledger benchmarks and
 * the scale phase (tollgate on Postgres, unpinned); prints the table. `--only` writes only its
 * section of RESULTS.md. All traffic goes to 127.0.0.1; every phase is bounded in requests and time,
 * and the whole run by the plan's deadline.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureInstalled, installed } from './lib/install.js';
import { machine } from './lib/machine.js';
import { COMPARE, FULL, REPORTS_ONLY, SCALE_ONLY, SMOKE, variantsOf } from './lib/plan.js';
import { startPostgres } from './lib/postgres.js';
import { canPin, CORES, killLive, memoryMb, pinSelf } from './lib/proc.js';
import { revision } from './lib/revision.js';
import { modelOf } from './lib/variants.js';
import { loadAutocannon } from './load/closed-loop.js';
import { allocCheck } from './phases/alloc.js';
import { concurrentStreams } from './phases/concurrent.js';
import { admissionScaling, settleThroughput } from './phases/ledger.js';
import { runRounds, warmUp, type RoundsResult } from './phases/rounds.js';
import { runScale, type ScaleResult } from './phases/scale.js';
import { compareMarkdown, compareTable } from './report/compare.js';
import { resultsMarkdown, table } from './report/render.js';
import { replicaEstimate, scaleMarkdown, scaleTable, scaleTargets } from './report/scale.js';
import { otherSections, section, writeSection } from './report/sections.js';
import { reportsBench } from './reports/phase.js';
import { summarise, tally, type RunResults } from './report/summary.js';
import { buildTollgate } from './targets/build.js';
import { buildRevision } from './targets/revision.js';
import {
  directTarget,
  portkeyDir,
  startFloor,
  startPortkey,
  startTollgate,
  startUpstream,
  type Env,
  type Target,
  type TargetName,
} from './targets/start.js';

const { values: args } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    only: { type: 'string' },
    compare: { type: 'string' },
    against: { type: 'string' },
    with: { type: 'string' },
  },
});
if (args.only !== undefined && args.only !== 'scale' && args.only !== 'compare' && args.only !== 'reports')
  throw new Error(`--only takes scale, compare or reports, got ${args.only}`);
const only = args.only as 'scale' | 'compare' | 'reports' | undefined;
/** The revision to compare with; the smoke run compares with HEAD so the comparison's path keeps working. */
const against = args.compare ?? args.against ?? (args.smoke ? 'HEAD' : undefined);
if (only === 'compare' && !against) throw new Error('--only compare needs --against <git revision>');
/** `--with <rev>`: the "now" side of a comparison is tollgate at that revision instead of this checkout. */
if (args.with !== undefined && only !== 'compare') throw new Error('--with goes with --only compare');

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const plan =
  only === 'reports'
    ? REPORTS_ONLY
    : args.smoke
      ? SMOKE
      : only === 'compare'
        ? COMPARE
        : only === 'scale'
          ? SCALE_ONLY
          : FULL;
const log = (line: string) => process.stdout.write(`${line}\n`);
const startedAt = new Date();
const m = machine();
const pin = canPin(m.nproc);
const env: Env = { root, work: mkdtempSync(join(tmpdir(), 'tollgate-bench-')), pin, tollgateMain: '' };
const cleanups: (() => Promise<void>)[] = [];
const resultsFile = join(root, 'bench', 'RESULTS.md');

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

/** Starts a target and registers its stop for the final clean-up. */
async function started<T extends Target>(t: Promise<T>): Promise<T> {
  const target = await t;
  cleanups.push(target.stop);
  return target;
}

async function main(): Promise<number> {
  if (only === 'reports') {
    // Reports on a 10M-row ledger (bench/reports/): its own processes, pinning and section.
    const markdown = await reportsBench(root, log, { smoke: args.smoke, engines: ['sqlite', 'postgres'] });
    if (!args.smoke) writeSection(resultsFile, 'reports', markdown);
    return markdown.includes('The run failed') ? 1 : 0;
  }
  log(
    `tollgate bench (${plan.mode}${only ? `, only ${only}` : ''}) — ${m.nproc} cores, ${m.cpuModel}, Node ${m.node}; work dir ${env.work}`,
  );
  if (pin) pinSelf(CORES.load);
  else log('bench: cannot pin (needs taskset and 2 cores): running unpinned, figures are less comparable');

  ensureInstalled(join(root, 'bench', 'tools'), log);
  const autocannon = loadAutocannon(root);
  env.tollgateMain = buildTollgate(root);
  const before = against ? revisionToCompare(against) : undefined;
  const beforeName: TargetName | undefined = before ? `tollgate@${before.commit}` : undefined;
  if (before) log(`comparing with tollgate at ${against} (${before.commit}), built in ${before.tree}`);
  const skipped: RunResults['skipped'] = {};
  if (only === undefined && plan.portkey === 'install') ensureInstalled(portkeyDir(root), log);
  const withPortkey = only === undefined && installed(portkeyDir(root));
  if (!withPortkey && only === undefined)
    skipped.portkey = 'not installed (the smoke plan does not install it; `npm run bench` does)';

  const upstream = await startUpstream(env);
  cleanups.push(upstream.stop);
  const models = variantsOf(plan).map(modelOf);

  let rounds: RoundsResult | undefined;
  let rss: RunResults['rss'] = {};
  if (only !== 'scale') {
    const targets: Target[] = [directTarget(upstream.url)];
    if (only === undefined) targets.push(await started(startFloor(env, upstream.url)));
    const now = args.with !== undefined ? buildRevision(root, args.with, env.work) : undefined;
    if (now) log(`"now" is tollgate at ${args.with} (${now.commit}), built in ${now.tree}`);
    const nowAt = now ? { main: now.main, cwd: now.tree } : {};
    targets.push(await started(startTollgate(env, { upstreamUrl: upstream.url, models, loopDelay: true, ...nowAt })));
    if (before && beforeName)
      targets.push(
        await started(
          startTollgate(env, {
            upstreamUrl: upstream.url,
            models,
            main: before.main,
            cwd: before.tree,
            tag: before.commit,
            loopDelay: true,
            name: beforeName,
          }),
        ),
      );
    if (withPortkey) targets.push(await started(startPortkey(env, upstream.url)));
    log(`targets: ${targets.map((t) => `${t.name} ${t.origin}`).join(', ')}`);
    log('warming up…');
    await warmUp(plan, targets);
    rounds = await runRounds(plan, targets, autocannon, log);
    rss = Object.fromEntries(targets.filter((t) => t.pid).map((t) => [t.name, memoryMb(t.pid!, 'VmHWM') ?? NaN]));
    for (const t of targets) await t.stop();
  }

  const results: Partial<RunResults> = { plan, rounds, rss, skipped };
  if (only === undefined) Object.assign(results, await concurrentAndLedger(upstream.url, models, withPortkey));

  let scale: ScaleResult | undefined;
  if (only !== 'compare') {
    log('scale: tollgate on Postgres (starting a throwaway cluster unless $TOLLGATE_BENCH_DATABASE_URL is set)…');
    const postgres = await startPostgres(root);
    cleanups.push(postgres.stop);
    scale = await runScale({ env, plan, upstreamUrl: upstream.url, models, postgres, autocannon, log });
  }
  // Heap per request against the floor's: a regression there shows in no short latency figure.
  let allocOver: string[] = [];
  if (plan.mode === 'smoke') {
    log('heap per request (tollgate against the floor, 200 RPS × 3 s each)…');
    const check = await allocCheck(env, upstream.url, { rps: 200, seconds: 3 });
    for (const line of check.lines) log(`  ${line}`);
    allocOver = check.over;
  }
  await upstream.stop();
  const code = report(results, scale, beforeName);
  if (allocOver.length) {
    log(
      `bench: tollgate allocates more per request than its budget allows (${allocOver.join(', ')}; bench/phases/alloc.ts)`,
    );
    return 1;
  }
  return code;
}

/**
 * Builds the revision to compare with. The smoke run's own comparison with HEAD is skipped (with a
 * line in the log) where there is no git history, e.g. in a tree exported without .git; a revision
 * asked for on the command line that cannot be built fails the run.
 */
function revisionToCompare(rev: string): ReturnType<typeof buildRevision> | undefined {
  try {
    return buildRevision(root, rev, env.work);
  } catch (err) {
    if (args.compare ?? args.against) throw err;
    log(`bench: the comparison with ${rev} is skipped (${(err as Error).message.split('\n')[0]})`);
    return undefined;
  }
}

/** The concurrent-streams runs and the ledger micro-benchmarks (full and smoke runs only). */
async function concurrentAndLedger(
  upstreamUrl: string,
  models: string[],
  withPortkey: boolean,
): Promise<Partial<RunResults>> {
  const concurrent: RunResults['concurrent'] = {};
  log(`concurrent streams: ${plan.concurrent.streams} through a fresh tollgate…`);
  concurrent.tollgate = await concurrentStreams(plan, () =>
    startTollgate(env, { upstreamUrl, models, connections: plan.concurrent.streams + 64, tag: 'streams' }),
  );
  log(
    `  tollgate peak RSS ${concurrent.tollgate.peakRssMb.toFixed(1)} MB, ${concurrent.tollgate.completed}/${concurrent.tollgate.streams} streams ok`,
  );
  if (withPortkey) {
    concurrent.portkey = await concurrentStreams(plan, () => startPortkey(env, upstreamUrl, 'streams'));
    log(
      `  Portkey peak RSS ${concurrent.portkey.peakRssMb.toFixed(1)} MB, ${concurrent.portkey.completed}/${concurrent.portkey.streams} streams ok`,
    );
  }
  log('ledger: settle throughput…');
  const settle = await settleThroughput(env, plan);
  log(`  ${Math.round(settle.pairsPerS)} admit+settle pairs/s`);
  log(
    `ledger: admission with ${plan.ledger.sizes.map((s) => s.toLocaleString('en-US')).join(', ')} requests (bulk loads take a while)…`,
  );
  const admission = await admissionScaling(env, plan);
  return { concurrent, settle, admission };
}

/** Prints the tables, writes RESULTS.md (or its section), and decides the exit code. */
function report(
  partial: Partial<RunResults>,
  scale: ScaleResult | undefined,
  beforeName: TargetName | undefined,
): number {
  const tookS = (Date.now() - startedAt.getTime()) / 1000;
  const rev = revision(root);
  const parts: { name: string; md: string }[] = [];
  if (scale) {
    log(`\n${scaleTable(scale, plan)}\n\n${scaleTargets(scale)}\n\n${replicaEstimate(scale)}\n`);
    parts.push({ name: 'scale', md: scaleMarkdown(scale, plan) });
  }
  if (beforeName && partial.rounds) {
    log(`\n${compareTable(partial.rounds, beforeName)}\n`);
    parts.push({ name: 'compare', md: compareMarkdown(partial.rounds, beforeName, plan, rev) });
  }
  let failed: string[] = [];
  if (only === undefined) {
    const results = { concurrent: {}, ...partial } as RunResults;
    const rows = summarise(results);
    log(`\n${table(rows)}\n`);
    const md = resultsMarkdown(results, rows, { machine: m, revision: rev, pinned: pin, startedAt, tookS });
    if (plan.mode === 'full') {
      const kept = otherSections(
        resultsFile,
        parts.map((p) => p.name),
      );
      writeFileSync(resultsFile, [md, ...parts.map((p) => section(p.name, p.md)), ...kept].join('\n'));
      log(`wrote bench/RESULTS.md; took ${Math.round(tookS)} s`);
    }
    failed = (['direct', 'floor', 'tollgate'] as const).filter((t) => tally(results, t).errors > 0);
  } else if (plan.mode !== 'smoke') {
    for (const p of parts)
      writeSection(
        resultsFile,
        p.name,
        `${p.md}\nMeasured on ${startedAt.toISOString()} (${m.nproc} cores, ${m.cpuModel}, Node ${m.node}) for tollgate ${rev}; took ${Math.round(tookS)} s.\n`,
      );
    log(`wrote the ${only} section of bench/RESULTS.md; took ${Math.round(tookS)} s`);
  }
  if (plan.mode === 'smoke') {
    log(`smoke run took ${Math.round(tookS)} s (RESULTS.md is written by the full run only)`);
    const scaleErrors = (scale?.targets ?? []).filter(
      (t) => t.throughput.errors + Object.values(t.latency).reduce((a, x) => a + x.errors, 0) > 0,
    );
    const all = [...failed, ...scaleErrors.map((t) => t.name)];
    if (beforeName && partial.rounds && tally({ ...partial, concurrent: {} } as RunResults, beforeName).errors > 0)
      all.push(beforeName);
    if (all.length) {
      log(`bench: failed requests through ${all.join(', ')}`);
      return 1;
    }
  } else if (failed.length)
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
