/**
 * Allocation and GC per request, tollgate beside the floor: each target in turn, fresh and pinned to
 * the proxy core as in the bench, under an open loop at `--rps` (default 1,000) for `--seconds`
 * (default 10), for a non-streamed and a streamed chat completion. Per run: V8 heap bytes allocated
 * per request (`alloc-preload.mjs`), and the GCs by kind — count and longest pause, scavenges and
 * mark-compacts apart. With `--sample`, one more tollgate run per body under V8's sampling heap
 * profiler (`heap-sample-preload.mjs`, collected objects included) ranks the allocation sites by
 * area (a tollgate source file, an npm package, Node's internals) and by function, in bytes per
 * request. `--against` adds a tollgate built from another checkout (a worktree of another
 * revision, with node_modules) to each round, for an A/B on a shared machine.
 *
 *   node --import tsx bench/profile/alloc.ts [--rps 1000] [--seconds 10] [--only tollgate,against,floor] [--body json|stream]
 *     [--against <another checkout's tree>] [--rounds 1] [--sample] [--top 25]
 *
 * The sampled profile's bytes are an estimate (one sample per ~1 KiB allocated) and the profiler
 * itself slows the process; compare its shares, and take the totals from the unsampled runs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machine } from '../lib/machine.js';
import { canPin, CORES, killLive, pinSelf } from '../lib/proc.js';
import { modelOf } from '../lib/variants.js';
import { ALLOC_BODIES, ALLOC_VARIANT, allocRun, allocTargets, loadWith, type Start } from '../phases/alloc.js';
import { buildTollgate } from '../targets/build.js';
import { startTollgate, startUpstream, type Env } from '../targets/start.js';
import { areaOf, original } from './summarise.js';

const { values } = parseArgs({
  options: {
    rps: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    only: { type: 'string', default: '' },
    body: { type: 'string', default: '' },
    against: { type: 'string', default: '' },
    rounds: { type: 'string', default: '1' },
    sample: { type: 'boolean', default: false },
    top: { type: 'string', default: '25' },
  },
});
const rps = Number(values.rps);
const seconds = Number(values.seconds);
const top = Number(values.top);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const m = machine();
const env: Env = { root, work: mkdtempSync(join(tmpdir(), 'tollgate-alloc-')), pin: canPin(m.nproc), tollgateMain: '' };

/** Chrome DevTools' SamplingHeapProfile, as HeapProfiler.stopSampling returns it. */
interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  selfSize: number;
  children: HeapNode[];
}

if (env.pin) pinSelf(CORES.load);
env.tollgateMain = buildTollgate(root);
const upstream = await startUpstream(env);
const { tollgate, floor } = allocTargets(env, upstream.url);
const starts: [string, Start][] = [
  ['tollgate', tollgate],
  ...(values.against
    ? ([
        [
          'against',
          (nodeFlags, extra) =>
            startTollgate(env, {
              upstreamUrl: upstream.url,
              models: [modelOf(ALLOC_VARIANT)],
              tag: `against-${Math.random().toString(36).slice(2)}`,
              nodeFlags,
              env: { ...process.env, ...extra },
              main: buildTollgate(root, values.against),
              cwd: values.against,
            }),
        ],
      ] as [string, Start][])
    : []),
  ['floor', floor],
];

/** Bytes per request by area and by function (self), from a sampled heap profile. */
function ranked(head: HeapNode, requests: number): string {
  const byArea = new Map<string, number>();
  const byFn = new Map<string, number>();
  let total = 0;
  const label = (n: HeapNode) => {
    const o = original(n.callFrame);
    const area = areaOf(o.url, n.callFrame.functionName);
    return { area, fn: `${n.callFrame.functionName || '(anonymous)'}  ${area}:${o.line + 1}` };
  };
  // tollgate's functions with their callees' bytes (each sample once per distinct function on its stack).
  const byTotal = new Map<string, number>();
  const stack: string[] = [];
  const walk = (n: HeapNode, parent?: HeapNode) => {
    const mine = label(n);
    const pushed = mine.area.startsWith('src/') && !stack.includes(mine.fn);
    if (pushed) stack.push(mine.fn);
    if (n.selfSize) for (const f of stack) byTotal.set(f, (byTotal.get(f) ?? 0) + n.selfSize);
    if (n.selfSize) {
      const { area, fn: own } = label(n);
      // A builtin's bytes are named with its caller's function (which `next`, which `split`).
      const fn = area === '(native)' && parent ? `${own} ← ${label(parent).fn}` : own;
      byArea.set(area, (byArea.get(area) ?? 0) + n.selfSize);
      byFn.set(fn, (byFn.get(fn) ?? 0) + n.selfSize);
      total += n.selfSize;
    }
    for (const c of n.children) walk(c, n);
    if (pushed) stack.pop();
  };
  walk(head);
  const rows = (mp: Map<string, number>, k: number) =>
    [...mp]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, b]) => `| ${(b / requests).toFixed(0)} | ${((100 * b) / total).toFixed(1)} | \`${name}\` |`);
  return [
    `Sampled: ${(total / requests / 1024).toFixed(1)} KiB per request`,
    '',
    '| B/request | % | area |',
    '|---:|---:|---|',
    ...rows(byArea, 20),
    '',
    '| B/request | % | function  area:line |',
    '|---:|---:|---|',
    ...rows(byFn, top),
    '',
    '| B/request | % | tollgate function with its callees  area:line |',
    '|---:|---:|---|',
    ...rows(byTotal, top),
  ].join('\n');
}

try {
  console.log(`${m.nproc} cores, ${m.cpuModel}, Node ${m.node}; open loop ${rps} RPS, ${seconds} s per run`);
  for (let round = 0; round < Number(values.rounds); round++)
    for (const [name, body] of ALLOC_BODIES) {
      if (values.body && values.body !== name) continue;
      for (const [target, start] of starts) {
        if (values.only && !values.only.split(',').includes(target)) continue;
        const file = join(env.work, `alloc-${target}-${name}.json`);
        const a = await allocRun(root, start, body, { rps, seconds, file });
        const gcs = [...a.gcs]
          .map(([k, ms]) => `${k} ${ms.length}× (longest ${Math.max(...ms).toFixed(1)} ms)`)
          .join(', ');
        console.log(
          `${target} ${name}: ${a.kibPerRequest.toFixed(1)} KiB per request (${a.requests} requests); GC: ${gcs || 'none'}; ${a.ok}/${a.sent} ok, p50 ${a.p50Ms.toFixed(2)} ms, p99 ${a.p99Ms.toFixed(2)} ms`,
        );
      }
      if (values.sample && values.only !== 'floor') {
        const file = join(env.work, `sample-${name}.json`);
        const { r } = await loadWith(root, tollgate, body, {
          rps,
          seconds,
          preload: 'heap-sample-preload.mjs',
          fileEnv: 'TOLLGATE_HEAP_SAMPLE_FILE',
          file,
        });
        const data = readFileSync(file, 'utf8');
        console.log(
          `\n### tollgate ${name}, sampled allocations (${r.ok} requests)\n\n${ranked((JSON.parse(data) as { head: HeapNode }).head, r.ok)}\n`,
        );
      }
    }
} finally {
  await upstream.stop();
  killLive();
  rmSync(env.work, { recursive: true, force: true });
}
