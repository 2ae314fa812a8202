import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The browser the dashboard test drives with playwright-core: Debian's chromium, never a bundled one. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * vitest global setup: the Chromium the dashboard's browser test needs. When /usr/bin/chromium is
 * missing, `.ci/chromium-up` installs Debian's package with apt-get (as root) — so `npm test` alone
 * runs the whole suite on a fresh machine; when it cannot, the run stops with its one-line reason.
 */
export function setup(): void {
  if (existsSync(CHROMIUM)) return;
  const run = spawnSync('bash', ['.ci/chromium-up'], { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
  process.stderr.write(run.stderr);
  if (run.status !== 0) {
    const reason = run.stderr.trim().split('\n').at(-1) ?? `.ci/chromium-up exited with ${run.status}`;
    const err = new Error(reason);
    err.stack = reason; // one line, no trace: the reason says what to run
    throw err;
  }
}
