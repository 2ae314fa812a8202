/**
 * What the slow requests waited for: one tollgate (pinned to core 0, the bench's build, SQLite)
 * under an open loop at `--rps` for `--seconds`, with `trace-preload.mjs` recording its GC pauses
 * and event-loop stalls (wall clock). Each request slower than `--slow` ms is matched with what
 * overlapped it inside tollgate: a mark-compact GC, a scavenge, a stall with no GC in it, or
 * nothing seen. Prints the breakdown, the GC pauses, the old generation's growth (MB/s: what
 * brings the next major GC), the longest stalls and the slowest requests. `--flags` passes node
 * flags to tollgate (e.g. `--flags=--trace-gc`; its log is in the work dir, kept with `--keep`).
 *
 *   node --import tsx bench/profile/tail.ts [--rps 1000] [--seconds 30] [--slow 5] [--flags=…] [--keep] [--bare]
 *     [--before 100,500 [--idle 10]]
 *
 * `--before` runs those rates first (each `--seconds`, `--idle` s apart, as the bench's rounds do
 * with other targets in between), then the traced run at `--rps`.
 *
 * `--bare` runs tollgate without the tracer (latency only). Found with it: the WAL truncation
 * behind the commit queue (see src/ledger/sqlite/checkpointer.ts) and hidden classes made per
 * request (see src/proxy/abort.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { machine } from '../lib/machine.js';
import { canPin, CORES, killLive, pinSelf } from '../lib/proc.js';
import { percentile, sorted } from '../lib/stats.js';
import { modelOf, type Variant } from '../lib/variants.js';
import { openLoop } from '../load/open-loop.js';
import { chatBody } from '../load/requests.js';
import { buildTollgate } from '../targets/build.js';
import { CHAT_PATH, startTollgate, startUpstream, type Env } from '../targets/start.js';

const { values } = parseArgs({
  options: {
    rps: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '30' },
    slow: { type: 'string', default: '5' },
    flags: { type: 'string', default: '' },
    bare: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    before: { type: 'string', default: '' },
    idle: { type: 'string', default: '10' },
  },
});
const rps = Number(values.rps);
const seconds = Number(values.seconds);
const slowMs = Number(values.slow);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const m = machine();
const env: Env = { root, work: mkdtempSync(join(tmpdir(), 'tollgate-tail-')), pin: canPin(m.nproc), tollgateMain: '' };
const variant: Variant = { delayMs: 0, chunks: 20, intervalMs: 10 };

interface Gc {
  at: number;
  ms: number;
  kind: number;
}
interface Stall {
  at: number;
  ms: number;
}
/** What trace-preload.mjs writes (`served`: per request, from 'request' to 'finish'; same shape as a stall). */
interface Trace {
  gc: Gc[];
  stalls: Stall[];
  served: Stall[];
  spaces: ({ at: number } & Record<string, number>)[];
}

/** Old space's growth (MB/s) over the samples, leaving out the seconds a major GC shrank it. */
function oldGrowth(samples: ({ at: number } & Record<string, number>)[]): number | undefined {
  let grown = 0;
  let ms = 0;
  for (let i = 1; i < samples.length; i++) {
    const d = samples[i]!.old_space! - samples[i - 1]!.old_space!;
    if (d < 0) continue;
    grown += d;
    ms += samples[i]!.at - samples[i - 1]!.at;
  }
  return ms > 0 ? grown / 1e6 / (ms / 1000) : undefined;
}

if (env.pin) pinSelf(CORES.load);
env.tollgateMain = buildTollgate(root);
const upstream = await startUpstream(env);
const traceFile = join(env.work, 'trace.json');
try {
  const t = await startTollgate(env, {
    upstreamUrl: upstream.url,
    models: [modelOf(variant)],
    tag: 'tail',
    nodeFlags: [
      ...(values.bare ? [] : ['--import', join(root, 'bench', 'profile', 'trace-preload.mjs')]),
      ...values.flags.split(' ').filter(Boolean),
    ],
    env: { ...process.env, TOLLGATE_TRACE_FILE: traceFile },
  });
  const load = { origin: t.origin, path: CHAT_PATH, headers: t.headers, body: chatBody(variant), rps };
  await openLoop({ ...load, durationMs: 10_000 });
  // As in the bench's rounds: the same process serves other rates first, idle between runs.
  for (const before of values.before.split(',').filter(Boolean)) {
    await sleep(Number(values.idle) * 1000);
    const b = await openLoop({ ...load, rps: Number(before), durationMs: seconds * 1000 });
    console.log(`before: ${before} RPS × ${seconds} s, p99 ${percentile(b.latencyMs, 99).toFixed(2)} ms`);
  }
  if (values.before) await sleep(Number(values.idle) * 1000);
  const r = await openLoop({ ...load, durationMs: seconds * 1000, samples: true });
  const from = r.samples![0]!.dueAt;
  await t.stop();
  const trace: Trace = values.bare
    ? { gc: [], stalls: [], served: [], spaces: [] }
    : (JSON.parse(readFileSync(traceFile, 'utf8')) as Trace);
  const served = sorted(trace.served.filter((s) => s.at >= from).map((s) => s.ms));
  const gc = trace.gc.filter((g) => g.at >= from);
  const stalls = trace.stalls.filter((s) => s.at >= from);
  const overlaps = (a: { at: number; ms: number }, at: number, ms: number) => a.at < at + ms && a.at + a.ms > at;

  const causes = new Map<string, number>();
  const slow = r.samples!.filter((s) => s.ms > slowMs);
  for (const s of slow) {
    const g = gc.filter((x) => overlaps(x, s.dueAt, s.ms));
    // perf_hooks' gc kinds: 1 minor (scavenge), 4 major (mark-compact), 8 incremental marking, 16 weak callbacks.
    const cause = g.some((x) => x.kind === 4)
      ? 'major GC (mark-compact)'
      : g.some((x) => x.kind === 1 && x.ms >= 1)
        ? 'scavenge ≥ 1 ms'
        : stalls.some((x) => overlaps(x, s.dueAt, s.ms))
          ? 'stall, no GC in it'
          : 'nothing seen in tollgate';
    causes.set(cause, (causes.get(cause) ?? 0) + 1);
  }
  const gcKinds = new Map<number, number[]>();
  for (const g of gc) {
    const pauses = gcKinds.get(g.kind) ?? [];
    pauses.push(g.ms);
    gcKinds.set(g.kind, pauses);
  }
  const bare = stalls.filter((s) => !gc.some((g) => overlaps(g, s.at, s.ms)));
  const lat = r.latencyMs;
  console.log(
    `${m.cpuModel}; ${rps} RPS × ${seconds} s: ${r.ok}/${r.sent} ok; latency p50 ${percentile(lat, 50).toFixed(2)} p99 ${percentile(lat, 99).toFixed(2)} p99.9 ${percentile(lat, 99.9).toFixed(2)} max ${lat[lat.length - 1]!.toFixed(1)} ms`,
  );
  if (served.length)
    console.log(
      `inside tollgate ('request' event → 'finish'): p50 ${percentile(served, 50).toFixed(2)} p99 ${percentile(served, 99).toFixed(2)} p99.9 ${percentile(served, 99.9).toFixed(2)} max ${served[served.length - 1]!.toFixed(1)} ms; over ${slowMs} ms: ${served.filter((x) => x > slowMs).length}`,
    );
  console.log(
    `\nrequests over ${slowMs} ms: ${slow.length} (${((100 * slow.length) / r.ok).toFixed(2)} %), by what overlapped them:`,
  );
  for (const [c, n] of [...causes].sort((a, b) => b[1] - a[1])) console.log(`  ${c}: ${n}`);
  console.log('\nGC in tollgate (kind: count, total ms, max ms):');
  for (const [k, ms] of gcKinds)
    console.log(`  ${k}: ${ms.length}, ${ms.reduce((a, b) => a + b, 0).toFixed(0)}, ${Math.max(...ms).toFixed(1)}`);
  const growth = oldGrowth(trace.spaces.filter((x) => x.at >= from));
  if (growth !== undefined) console.log(`old generation growth between major GCs: ${growth.toFixed(2)} MB/s`);
  console.log(
    `\nstalls > 3 ms: ${stalls.length} (${(stalls.length / seconds).toFixed(1)}/s), ${bare.length} with no GC in them; longest without GC:`,
  );
  for (const s of bare.sort((a, b) => b.ms - a.ms).slice(0, 15))
    console.log(`  +${((s.at - from) / 1000).toFixed(3)} s: ${s.ms.toFixed(1)} ms`);
  console.log('longest with GC:');
  for (const s of stalls
    .filter((s) => !bare.includes(s))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 5))
    console.log(`  +${((s.at - from) / 1000).toFixed(3)} s: ${s.ms.toFixed(1)} ms`);
  const worst = [...r.samples!].sort((a, b) => b.ms - a.ms).slice(0, 10);
  console.log('\nslowest requests (sent at, latency):');
  for (const s of worst) console.log(`  +${((s.dueAt - from) / 1000).toFixed(3)} s: ${s.ms.toFixed(1)} ms`);
} finally {
  await upstream.stop();
  killLive();
  if (values.keep) console.log(`kept: ${env.work}`);
  else rmSync(env.work, { recursive: true, force: true });
}
