/**
 * Heap allocated per request, tollgate against the floor of the same run: a fresh target with
 * `bench/profile/alloc-preload.mjs` under an open loop, for a non-streamed and a streamed chat
 * completion. Used by `bench/profile/alloc.ts` (figures, GCs, sampled allocation sites) and by the
 * smoke run, which fails when tollgate allocates more per request than `ALLOC_BUDGET` times what the
 * floor does: a regression no latency figure of a short run would show (per-request garbage shows
 * as scavenges, promotions and major GCs only under sustained load).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { percentile } from '../lib/stats.js';
import { modelOf, type Variant } from '../lib/variants.js';
import { openLoop } from '../load/open-loop.js';
import { chatBody, streamBody } from '../load/requests.js';
import { CHAT_PATH, startFloor, startTollgate, type Env, type Target } from '../targets/start.js';

/** Starts a target with extra node flags and environment variables. */
export type Start = (nodeFlags: string[], extra: NodeJS.ProcessEnv) => Promise<Target>;

/** The upstream behaviour the runs use: an answer at once; a stream of 20 chunks 10 ms apart. */
export const ALLOC_VARIANT: Variant = { delayMs: 0, chunks: 20, intervalMs: 10 };

/** The bodies measured, by name. */
export const ALLOC_BODIES: readonly [name: 'json' | 'stream', body: string][] = [
  ['json', chatBody(ALLOC_VARIANT)],
  ['stream', streamBody(ALLOC_VARIANT)],
];

/**
 * Most heap tollgate may allocate per request, as a multiple of the floor's in the same run, ~20 %
 * above what it allocates now: on 2026-12-08 (2-core AMD EPYC, shared and loaded) JSON 2.45–2.7×
 * (67–72 KiB against 27–29) and streamed 2.4× (130–144 KiB against 55–59); before the per-request
 * garbage was cut (d8ce2a4), 2.6–3.15× and 2.8×. The floor itself varies ±15 % between runs.
 */
export const ALLOC_BUDGET = { json: 3.2, stream: 3.0 } as const;

/** One measured run. */
export interface AllocRun {
  /** V8 heap bytes allocated per completed request, KiB. */
  kibPerRequest: number;
  requests: number;
  /** GC pauses by kind (`Scavenge`, `MarkSweepCompact`, …), ms each. */
  gcs: Map<string, number[]>;
  ok: number;
  sent: number;
  p50Ms: number;
  p99Ms: number;
}

/** What alloc-preload.mjs writes. */
interface AllocStats {
  requests: number;
  allocatedBytes: number;
  gcs: { type: string; ms: number }[];
}

/**
 * Runs the open loop (`rps` for `seconds`) against a fresh target started with `preload` (a file in
 * bench/profile/), which writes its result to `file` (named to it by `fileEnv`); returns the load's
 * outcome and that file's text.
 */
export async function loadWith(
  root: string,
  start: Start,
  body: string,
  o: { rps: number; seconds: number; preload: string; fileEnv: string; file: string },
) {
  const t = await start(['--import', join(root, 'bench', 'profile', o.preload)], { [o.fileEnv]: o.file });
  try {
    const r = await openLoop({
      origin: t.origin,
      path: CHAT_PATH,
      headers: t.headers,
      body,
      rps: o.rps,
      durationMs: o.seconds * 1000,
    });
    return { r, t };
  } finally {
    await t.stop();
  }
}

/** Heap allocated per request and the GCs of one run of `body` through a fresh target. */
export async function allocRun(
  root: string,
  start: Start,
  body: string,
  o: { rps: number; seconds: number; file: string },
): Promise<AllocRun> {
  const { r } = await loadWith(root, start, body, {
    ...o,
    preload: 'alloc-preload.mjs',
    fileEnv: 'TOLLGATE_ALLOC_FILE',
  });
  const a = JSON.parse(readFileSync(o.file, 'utf8')) as AllocStats;
  const gcs = new Map<string, number[]>();
  for (const g of a.gcs) gcs.set(g.type, [...(gcs.get(g.type) ?? []), g.ms]);
  return {
    kibPerRequest: a.allocatedBytes / a.requests / 1024,
    requests: a.requests,
    gcs,
    ok: r.ok,
    sent: r.sent,
    p50Ms: percentile(r.latencyMs, 50),
    p99Ms: percentile(r.latencyMs, 99),
  };
}

/** Starters of tollgate (this checkout's build, `main`) and the floor, for `allocRun`. */
export function allocTargets(env: Env, upstreamUrl: string): { tollgate: Start; floor: Start } {
  let n = 0;
  return {
    tollgate: (nodeFlags, extra) =>
      startTollgate(env, {
        upstreamUrl,
        models: [modelOf(ALLOC_VARIANT)],
        tag: `alloc-${n++}`,
        nodeFlags,
        env: { ...process.env, ...extra },
      }),
    floor: (nodeFlags, extra) => startFloor(env, upstreamUrl, 128, { nodeFlags, env: { ...process.env, ...extra } }),
  };
}

/**
 * The smoke run's check: each body through tollgate and the floor (`rps` for `seconds` each); returns
 * one line per body and the bodies over `ALLOC_BUDGET`.
 */
export async function allocCheck(
  env: Env,
  upstreamUrl: string,
  o: { rps: number; seconds: number },
): Promise<{ lines: string[]; over: string[] }> {
  const targets = allocTargets(env, upstreamUrl);
  const lines: string[] = [];
  const over: string[] = [];
  for (const [name, body] of ALLOC_BODIES) {
    const run = (start: Start, who: string) =>
      allocRun(env.root, start, body, { ...o, file: join(env.work, `alloc-check-${who}-${name}.json`) });
    const floor = await run(targets.floor, 'floor');
    const tollgate = await run(targets.tollgate, 'tollgate');
    const ratio = tollgate.kibPerRequest / floor.kibPerRequest;
    const bad = ratio > ALLOC_BUDGET[name];
    if (bad) over.push(name);
    lines.push(
      `heap per request, ${name}: tollgate ${tollgate.kibPerRequest.toFixed(1)} KiB, floor ${floor.kibPerRequest.toFixed(1)} KiB: ${ratio.toFixed(2)}× (budget ${ALLOC_BUDGET[name]}×)${bad ? ' OVER' : ''}`,
    );
  }
  return { lines, over };
}
