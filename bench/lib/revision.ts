/**
 * Which tollgate the bench measured: the git commit of the checkout and whether src/ or migrations/
 * had uncommitted changes (read-only git commands). For a tree exported without .git (e.g. by
 * `git archive`), set BENCH_REVISION to the commit it came from.
 */
import { execFileSync } from 'node:child_process';

export function revision(root: string): string {
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const commit = git('rev-parse', '--short', 'HEAD');
    return git('status', '--porcelain', '--', 'src', 'migrations')
      ? `${commit} with uncommitted changes to src/ or migrations/`
      : commit;
  } catch {
    return process.env.BENCH_REVISION
      ? `${process.env.BENCH_REVISION} (exported tree)`
      : 'unknown (not a git checkout)';
  }
}
