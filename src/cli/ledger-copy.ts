import { existsSync } from 'node:fs';
import { copySqliteToPostgres } from '../ledger/copy.js';
import { describeLedger, isPostgresUrl } from '../ledger/open.js';

/**
 * `tollgate ledger copy --from <ledger.db> --to <postgres://…>`: copies a SQLite ledger into an
 * empty Postgres one, then verifies both and compares them. Exits 0 when the copy is sound and
 * equal to its source, 1 when a check fails, 2 on bad arguments or when nothing could be copied.
 */
export async function ledgerCopyCommand(opts: { from: string; to: string }): Promise<void> {
  if (!existsSync(opts.from)) return fail(`no ledger at ${opts.from}`);
  if (!isPostgresUrl(opts.to)) return fail(`--to must be a postgres:// URL, got ${opts.to}`);
  const to = describeLedger({ url: opts.to });
  let report;
  try {
    report = await copySqliteToPostgres(opts.from, opts.to);
  } catch (err) {
    return fail(`cannot copy ${opts.from} into ${to}: ${(err as Error).message}`);
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(
    `copied ${
      Object.entries(report.copied)
        .map(([t, n]) => `${n} ${t}`)
        .join(', ') || 'nothing (empty ledger)'
    } into ${to}`,
  );
  for (const [side, errors] of [
    ['source', report.sourceErrors],
    ['copy', report.targetErrors],
  ] as const) {
    for (const f of errors) out(`ERROR (${side}) ${f.check}: ${f.detail}`);
  }
  for (const d of report.differences) out(`DIFFERS: ${d}`);
  const ok = report.sourceErrors.length === 0 && report.targetErrors.length === 0 && report.differences.length === 0;
  out(
    ok
      ? 'ledger verify: all invariants hold on both, and the copy reads the same as its source'
      : 'the copy does not match its source: see above',
  );
  process.exit(ok ? 0 : 1);
}

function fail(message: string): void {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}
