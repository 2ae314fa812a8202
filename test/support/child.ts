import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { waitUntil } from './wait.js';

/**
 * Starts `tollgate serve --config <configFile>` as a child process (logs silenced, upstream key
 * `sk-upstream-child`) and resolves once `<url>/healthz` answers; fails when it exits or is not
 * ready within 20 s.
 */
export async function serveChild(configFile: string, url: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, '../../src/cli.ts'), 'serve', '--config', configFile],
    { env: { ...process.env, OPENAI_API_KEY: 'sk-upstream-child', LOG_LEVEL: 'silent' }, stdio: 'ignore' },
  );
  await waitUntil(
    async () => {
      if (child.exitCode !== null) throw new Error(`tollgate exited with ${child.exitCode}`);
      return fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
    },
    { timeoutMs: 20_000, intervalMs: 50, what: 'tollgate to answer /healthz' },
  );
  return child;
}

/** Resolves once `child` has exited (at once if it already has). */
export const exited = (child: ChildProcess) =>
  new Promise<void>((r) =>
    child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r()),
  );

/** SIGKILLs `child` and resolves once it is gone. */
export async function kill9(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  await exited(child);
}
