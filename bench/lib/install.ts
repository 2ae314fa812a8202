/**
 * Bench-local npm packages (the Portkey peer, autocannon): each folder has its own package.json and
 * committed package-lock.json, installed with `npm ci --prefix <dir>` when its node_modules is missing.
 * Install scripts are not run (`--ignore-scripts`): neither package needs one.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** True when `dir`'s lockfile is installed. */
export const installed = (dir: string): boolean => existsSync(join(dir, 'node_modules', '.package-lock.json'));

/** Runs `npm ci` in `dir` unless it is installed already; throws if npm fails. */
export function ensureInstalled(dir: string, log: (line: string) => void): void {
  if (installed(dir)) return;
  log(`installing ${dir} (npm ci)…`);
  execFileSync('npm', ['ci', '--prefix', dir, '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 300_000,
  });
}
