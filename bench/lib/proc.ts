/**
 * Child processes for the bench: started pinned to one core with `taskset -c`, with their output
 * in a log file, and stopped again. Every wait here is bounded in time.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Cores the bench pins to: the proxy under test, and the load generator plus the upstream. */
export const CORES = { proxy: 0, load: 1 } as const;

/** Whether `taskset` can pin here: it exists and the machine has at least 2 cores. */
export function canPin(cores: number): boolean {
  if (cores < 2) return false;
  try {
    execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Pins every thread of the running process to `core`. */
export function pinSelf(core: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' });
}

export interface SpawnOptions {
  /** Core to pin to; undefined runs unpinned. */
  core: number | undefined;
  /** File that receives the child's stdout and stderr. */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  /** Open an IPC channel (for children that report readiness with `process.send`). */
  ipc?: boolean;
  cwd?: string;
}

/** Children started by `spawnPinned` that have not exited yet. */
const live = new Set<ChildProcess>();

/** SIGKILLs every child `spawnPinned` started that is still running (last-resort cleanup). */
export function killLive(): void {
  for (const c of live) c.kill('SIGKILL');
}

/** Starts `command args…`, pinned with `taskset -c core` (taskset execs it, so the pid is the command's). */
export function spawnPinned(command: string, args: string[], opts: SpawnOptions): ChildProcess {
  const fd = openSync(opts.logFile, 'a');
  const [cmd, argv] =
    opts.core === undefined ? [command, args] : ['taskset', ['-c', String(opts.core), command, ...args]];
  const child = spawn(cmd, argv, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: opts.ipc ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd],
  });
  closeSync(fd);
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Resolves with the first IPC message of `child`; rejects if it exits first or after `timeoutMs` ms. */
export function firstMessage<T>(child: ChildProcess, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${what}: no ready message within ${timeoutMs} ms`)), timeoutMs);
    const onExit = (code: number | null) => done(new Error(`${what} exited (code ${code}) before it was ready`));
    const onMessage = (m: T) => done(undefined, m);
    function done(err?: Error, m?: T) {
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('message', onMessage);
      if (err) reject(err);
      else resolve(m as T);
    }
    child.once('exit', onExit);
    child.once('message', onMessage);
  });
}

/** Resolves with the exit code of `child`, or null if it has not exited within `timeoutMs` ms. */
function exited(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** Sends SIGTERM, waits up to `graceMs` ms, then SIGKILL. */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  if ((await exited(child, graceMs)) === null && child.exitCode === null) {
    child.kill('SIGKILL');
    await exited(child, 2_000);
  }
}

/** Waits until `child` exits by itself (up to `timeoutMs` ms); returns its exit code, null on time-out. */
export const waitExit = exited;

/** Polls `url` with GET until it answers (any status) or `timeoutMs` ms pass. */
export async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      return;
    } catch {
      await sleep(Math.min(50 * (attempt + 1), 250));
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/** A TCP port free on 127.0.0.1 right now (for programs that must be told a port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A `/proc/<pid>/status` field in MB (kB / 1024): `VmHWM` is peak RSS, `VmRSS` current RSS. */
export function memoryMb(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CPU time the process has used so far (user + system, every thread), in clock ticks (usually
 * 1/100 s); with `mainThread`, its main thread's alone. Time the process waited for a core shared
 * with others is not counted, so this holds on a busy machine where a profile's wall-clock samples do not.
 */
export function cpuTicks(pid: number, mainThread = false): number | undefined {
  try {
    // Fields after the command name (which may contain spaces), from field 3 on; utime and stime are fields 14 and 15.
    const stat = readFileSync(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return undefined;
  }
}

/** Clock ticks per second of `/proc/<pid>/stat`'s CPU times (`getconf CLK_TCK`; 100 on Linux). */
export const TICKS_PER_S = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Pids of the running children of `parent` (from each process's `PPid` in /proc). */
export function childrenOf(parent: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const m = /^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'));
      if (m && Number(m[1]) === parent) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** CPU seconds used so far by each of `pids` (absent: exited). */
export function cpuSeconds(pids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    const t = cpuTicks(pid);
    if (t !== undefined) out.set(pid, t / TICKS_PER_S);
  }
  return out;
}

/** CPU seconds used between two `cpuSeconds` readings (a pid new in `after` counts from 0). */
export function cpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  let s = 0;
  for (const [pid, t] of after) s += t - (before.get(pid) ?? 0);
  return s;
}

/**
 * Waits until process `pid` uses under 10 % of a core over 200 ms (it has worked off a backlog a
 * previous run left), for at most `maxMs` ms. Returns the ms waited.
 */
export async function waitIdle(pid: number, maxMs = 30_000): Promise<number> {
  const start = Date.now();
  let before = cpuTicks(pid);
  while (before !== undefined && Date.now() - start < maxMs) {
    await sleep(200);
    const now = cpuTicks(pid);
    if (now === undefined || now - before < 2) break;
    before = now;
  }
  return Date.now() - start;
}
