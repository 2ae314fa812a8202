/**
 * tollgate at another revision, for `--compare <rev>` / `--only compare --against <rev>`: the
 * revision's tree is extracted with `git archive` into the work dir, its `node_modules` is a
 * symlink to this checkout's (an older revision's dependencies are a subset of today's), and its own
 * `bench/targets/tollgate-main.ts` with its own `src/` is bundled as `build.ts` bundles today's.
 * The launcher's command line (`--upstream --ledger --connections --models`) is the same at every
 * revision since the bench began; its `migrations/` come with the tree.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { buildTollgate } from './build.js';

export interface RevisionBuild {
  /** Short commit id, e.g. `7b1a376`. */
  commit: string;
  /** The revision's tree (the child's working directory). */
  tree: string;
  /** Its built launcher. */
  main: string;
}

/**
 * Extracts and builds `rev` (any git revision: a commit, a tag, `main`, `HEAD~3`).
 * @throws when git cannot resolve `rev`, or the revision has no bench launcher.
 */
export function buildRevision(root: string, rev: string, work: string): RevisionBuild {
  const git = (...args: string[]) => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8' }).trim();
  const commit = git('rev-parse', '--short', `${rev}^{commit}`);
  const tree = join(work, `tollgate-${commit}`);
  if (!existsSync(tree)) {
    mkdirSync(tree, { recursive: true });
    execFileSync('bash', [
      '-c',
      `git -C "$1" archive --format=tar "$2" | tar -x -C "$3"`,
      'archive',
      root,
      commit,
      tree,
    ]);
    symlinkSync(join(root, 'node_modules'), join(tree, 'node_modules'), 'dir');
  }
  if (!existsSync(join(tree, 'bench', 'targets', 'tollgate-main.ts')))
    throw new Error(`revision ${rev} (${commit}) has no bench/targets/tollgate-main.ts to run`);
  return { commit, tree, main: buildTollgate(root, tree) };
}
