/**
 * Starts the bench's processes: the fake upstream (pinned with the load generator) and the targets
 * the load is sent to: `direct` (the upstream itself), `floor` (a bare node:http + undici
 * pass-through), `tollgate` and `portkey` (each proxy a child process pinned to the proxy core). Every process listens on 127.0.0.1 only.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { CORES, firstMessage, freePort, spawnPinned, stopChild, waitForHttp } from '../lib/proc.js';

/**
 * The targets: the four of every round, `tollgate@<rev>` (another revision, see `compare.ts`) and
 * the scale phase's `pg-…` targets (tollgate on Postgres, see `phases/scale.ts`).
 */
export type TargetName =
  | 'direct'
  | 'floor'
  | 'tollgate'
  | 'portkey'
  | `tollgate@${string}`
  | `pg-${string}`
  | 'sqlite'
  | 'sqlite-workers-2';

/** Something the load generator sends requests to. */
export interface Target {
  name: TargetName;
  /** Origin requests go to, `http://127.0.0.1:PORT`. */
  origin: string;
  /**
   * Every origin of a target made of several replicas on their own ports: the load driver spreads
   * its requests evenly over them (as a load balancer would). Absent: `origin` alone.
   */
  origins?: string[];
  /** Headers every request carries (credentials, Portkey's routing headers). */
  headers: Record<string, string>;
  /** Pid of the proxy process (for its RSS); undefined for `direct`. */
  pid?: number;
  /** Every process serving the target when there are several (replicas, cluster workers), for `waitIdle`. */
  pids?: number[];
  /**
   * The event loop's delay since the previous call (ms; see lib/loop-delay-preload.mjs), for a
   * tollgate started with `loopDelay`; undefined when it did not answer within a second.
   */
  loopDelay?: () => Promise<LoopDelay | undefined>;
  stop(): Promise<void>;
}

/** How late the event loop's timer fired over a run (ms): the longest, p99.9 and p99. */
export interface LoopDelay {
  maxMs: number;
  p999Ms: number;
  p99Ms: number;
}

/** Where the bench keeps its files and whether it pins processes. */
export interface Env {
  /** Repository root (cwd for children, so `--import tsx` resolves for the tsx-run ones). */
  root: string;
  /** Temp dir for logs and ledgers. */
  work: string;
  pin: boolean;
  /** tollgate's launcher built to plain JavaScript (see `build.ts`). */
  tollgateMain: string;
}

/** The upstream's key as every client sends it (the fake upstream accepts any key). */
export const UPSTREAM_KEY = 'sk-bench-upstream';
/** Path of the chat endpoint on every target. */
export const CHAT_PATH = '/v1/chat/completions';
/** Folder of the Portkey peer's bench-local package. */
export const portkeyDir = (root: string) => join(root, 'bench', 'peers', 'portkey');

const core = (env: Env, which: keyof typeof CORES) => (env.pin ? CORES[which] : undefined);
const tsxArgs = (env: Env, script: string) => ['--import', 'tsx', join(env.root, script)];

/** The fake upstream, pinned to the load core. */
export async function startUpstream(env: Env): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawnPinned(process.execPath, tsxArgs(env, 'bench/upstream/server.ts'), {
    core: core(env, 'load'),
    logFile: join(env.work, 'upstream.log'),
    ipc: true,
    cwd: env.root,
  });
  const { url } = await firstMessage<{ url: string }>(child, 20_000, 'fake upstream');
  return { url, stop: () => stopChild(child) };
}

/** The load sent straight to the upstream: the baseline every proxy is compared with. */
export function directTarget(upstreamUrl: string): Target {
  return {
    name: 'direct',
    origin: upstreamUrl,
    headers: { authorization: `Bearer ${UPSTREAM_KEY}` },
    stop: async () => {},
  };
}

/**
 * The floor: a bare node:http + undici pass-through (`floor-main.mjs`), pinned to the proxy core
 * and run with plain `node`, as tollgate is. What it adds over `direct` is the cost of any Node proxy.
 */
export async function startFloor(
  env: Env,
  upstreamUrl: string,
  connections = 128,
  /** Extra node flags (e.g. a measuring `--import`) and the process's environment (default: the bench's own). */
  extra: { nodeFlags?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<Target> {
  const args = [
    ...(extra.nodeFlags ?? []),
    join(env.root, 'bench', 'targets', 'floor-main.mjs'),
    '--upstream',
    upstreamUrl,
    '--connections',
    String(connections),
  ];
  const child = spawnPinned(process.execPath, args, {
    core: core(env, 'proxy'),
    logFile: join(env.work, 'floor.log'),
    ipc: true,
    cwd: env.root,
    env: extra.env,
  });
  const { url } = await firstMessage<{ url: string }>(child, 20_000, 'floor');
  return {
    name: 'floor',
    origin: url,
    headers: { authorization: `Bearer ${UPSTREAM_KEY}` },
    pid: child.pid,
    stop: () => stopChild(child),
  };
}

export interface TollgateOptions {
  upstreamUrl: string;
  /** Models to price (every variant the load uses). */
  models: string[];
  /** Pooled upstream connections (tollgate's `upstream.connections`; its default is 128). */
  connections?: number;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeFlags?: string[];
  /** Suffix for the ledger and log file names. */
  tag?: string;
  /** The process's environment (default: the bench's own). */
  env?: NodeJS.ProcessEnv;
  /** The ledger: a `postgres://` URL (default: a SQLite file in the work dir named by `tag`). */
  ledger?: string;
  /** Processes sharing one port (node:cluster; default 1). */
  workers?: number;
  /** Run unpinned, on every core (the scale phase: replicas and Postgres share the machine). */
  unpinned?: boolean;
  /** The built launcher to run (default `env.tollgateMain`; another revision's for a comparison). */
  main?: string;
  /** Working directory (default the repository root; another revision's tree for a comparison). */
  cwd?: string;
  /** The target's name in the results (default `tollgate`). */
  name?: TargetName;
  /** Record the event loop's delay (`Target.loopDelay`; one process only). */
  loopDelay?: boolean;
}

/** Asks a tollgate started with lib/loop-delay-preload.mjs for its event loop's delay since the last ask. */
function askLoopDelay(child: ChildProcess): Promise<LoopDelay | undefined> {
  return new Promise((resolve) => {
    const done = (v: LoopDelay | undefined) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(v);
    };
    const onMessage = (m: { loopDelay?: LoopDelay }) => {
      if (m && typeof m === 'object' && 'loopDelay' in m) done(m.loopDelay);
    };
    const timer = setTimeout(() => done(undefined), 1_000);
    child.on('message', onMessage);
    if (!child.connected) return done(undefined);
    child.send({ loopDelay: 'read' });
  });
}

/**
 * tollgate with metering and a SQLite ledger file in the work dir, pinned to the proxy core, run
 * with plain `node` from the built launcher (as `node dist/cli.js serve` runs it).
 */
export async function startTollgate(env: Env, o: TollgateOptions): Promise<Target & { child: ChildProcess }> {
  const tag = o.tag ?? 'main';
  const workers = o.workers ?? 1;
  const probe = o.loopDelay === true && workers === 1;
  const args = [
    ...(probe ? ['--import', join(env.root, 'bench', 'lib', 'loop-delay-preload.mjs')] : []),
    ...(o.nodeFlags ?? []),
    o.main ?? env.tollgateMain,
    '--upstream',
    o.upstreamUrl,
    '--ledger',
    o.ledger ?? join(env.work, `ledger-${tag}.db`),
    '--connections',
    String(o.connections ?? 128),
    '--models',
    o.models.join(','),
    ...(workers > 1 ? ['--workers', String(workers), '--port', String(await freePort())] : []),
  ];
  const child = spawnPinned(process.execPath, args, {
    core: o.unpinned ? undefined : core(env, 'proxy'),
    logFile: join(env.work, `tollgate-${tag}.log`),
    ipc: true,
    cwd: o.cwd ?? env.root,
    env: o.env,
  });
  const { url, key, pids } = await firstMessage<{ url: string; key: string; pids?: number[] }>(
    child,
    30_000,
    'tollgate',
  );
  return {
    name: o.name ?? 'tollgate',
    origin: url,
    headers: { authorization: `Bearer ${key}` },
    pid: child.pid,
    pids,
    child,
    ...(probe ? { loopDelay: () => askLoopDelay(child) } : {}),
    stop: () => stopChild(child),
  };
}

/**
 * Portkey's open-source gateway (`@portkey-ai/gateway`, its `build/start-server.js`, the package's
 * bin) with `--headless`, NODE_ENV=production, bound to 127.0.0.1 by `bench/peers/loopback-only.mjs`.
 * Requests are routed with `x-portkey-provider: openai` and `x-portkey-custom-host: <upstream>/v1`.
 */
export async function startPortkey(env: Env, upstreamUrl: string, tag = 'main'): Promise<Target> {
  const port = await freePort();
  const entry = join(portkeyDir(env.root), 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
  const args = [
    '--import',
    join(env.root, 'bench', 'peers', 'loopback-only.mjs'),
    entry,
    `--port=${port}`,
    '--headless',
  ];
  const child = spawnPinned(process.execPath, args, {
    core: core(env, 'proxy'),
    logFile: join(env.work, `portkey-${tag}.log`),
    cwd: portkeyDir(env.root),
    env: { ...process.env, NODE_ENV: 'production' },
  });
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${origin}/`, 30_000);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return {
    name: 'portkey',
    origin,
    headers: {
      authorization: `Bearer ${UPSTREAM_KEY}`,
      'x-portkey-provider': 'openai',
      'x-portkey-custom-host': `${upstreamUrl}/v1`,
    },
    pid: child.pid,
    stop: () => stopChild(child),
  };
}
