/**
 * Builds the tollgate launcher (`bench/targets/tollgate-main.ts` with tollgate's `src/`) into one
 * plain-JavaScript ES module, `bench/.build/tollgate-main.mjs` (+ source map), with esbuild from the
 * bench-local `bench/tools`. npm packages stay external and load from the root node_modules, as in
 * `node dist/cli.js`; the bench then runs tollgate with plain `node`, without tsx's loader thread
 * and its memory. The file sits two folders below the root, like `dist/ledger/sqlite/db.js`, so tollgate
 * finds `migrations/` at the same relative path.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

interface Esbuild {
  buildSync(opts: Record<string, unknown>): { errors: unknown[] };
}

/**
 * Builds the launcher of the source tree at `tree` (default: this checkout; another revision's
 * extracted tree for a comparison) with this checkout's esbuild; returns the path of the module
 * to run with `node`. Takes about 0.1 s.
 */
export function buildTollgate(root: string, tree = root): string {
  const esbuild = createRequire(join(root, 'bench', 'tools', 'package.json'))('esbuild') as Esbuild;
  const outfile = join(tree, 'bench', '.build', 'tollgate-main.mjs');
  esbuild.buildSync({
    entryPoints: [join(tree, 'bench', 'targets', 'tollgate-main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    logLevel: 'error',
  });
  // Large JSON bodies are parsed on a worker thread whose module sits beside the launcher.
  const worker = join(tree, 'src', 'http', 'json-parse-worker.ts');
  if (existsSync(worker))
    esbuild.buildSync({
      entryPoints: [worker],
      outfile: join(tree, 'bench', '.build', 'json-parse-worker.js'),
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      logLevel: 'error',
    });
  return outfile;
}
