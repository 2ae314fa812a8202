/**
 * The reports bench as a part of `npm run bench`: `--only reports` runs `bench/reports/run.ts` for
 * SQLite then Postgres (each in a child process, one after the other) and writes their tables to
 * RESULTS.md's "reports" section. The first run loads the 10-million-row ledgers (about 15 min for
 * SQLite and more for Postgres on a 2-core machine) into `$TMPDIR/tollgate-bench-reports` and
 * `$TOLLGATE_BENCH_DATABASE_URL`; later runs reuse them.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Runs the reports bench for each engine; resolves with the markdown of every run (a failed run says so). */
export async function reportsBench(
  root: string,
  log: (line: string) => void,
  opts: { smoke: boolean; engines: ('sqlite' | 'postgres')[] },
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-bench-reports-out-'));
  const parts: string[] = [];
  try {
    for (const engine of opts.engines) {
      const out = join(dir, `${engine}.md`);
      const args = ['--import', 'tsx', join(root, 'bench/reports/run.ts'), '--engine', engine, '--out', out];
      if (opts.smoke) args.push('--smoke');
      log(`reports bench on ${engine}…`);
      const code = await new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
        child.on('close', resolve);
      });
      parts.push(
        code === 0
          ? readFileSync(out, 'utf8')
          : `## Reports (${engine})\n\nThe run failed (exit ${code}); see the log.`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return parts.join('\n\n');
}
