import { existsSync } from 'node:fs';
import { ConfigError, configPath, loadConfig } from '../config/load.js';
import { describeLedger, isPostgresUrl, locationOf, openLedger } from '../ledger/open.js';

/**
 * `tollgate ledger verify [file or postgres:// URL]`: checks the ledger's invariants (default: the
 * config's `ledger.path` or `ledger.url`). Prints each finding with the offending rows; exits 1 when any invariant is
 * broken, 0 otherwise (open holds alone are a warning).
 */
export async function ledgerVerifyCommand(file: string | undefined, opts: { config?: string }): Promise<void> {
  let path = file;
  if (!path) {
    try {
      const { ledger } = loadConfig(configPath(opts.config));
      path = ledger.path ?? ledger.url;
    } catch (err) {
      process.stderr.write(
        `${err instanceof ConfigError ? err.message : String(err)}\nname the ledger file: tollgate ledger verify <file>\n`,
      );
      process.exit(2);
    }
  }
  if (!isPostgresUrl(path) && !existsSync(path)) {
    process.stderr.write(`no ledger at ${path}\n`);
    process.exit(2);
  }
  const ledger = openLedger({ ...locationOf(path), readonly: true });
  let findings;
  try {
    findings = await ledger.reader.verify();
  } catch (err) {
    process.stderr.write(`cannot read the ledger ${describeLedger(locationOf(path))}: ${(err as Error).message}\n`);
    process.exit(2);
  } finally {
    await ledger.close().catch(() => {});
  }
  const where = describeLedger(locationOf(path));
  for (const f of findings) process.stdout.write(`${f.severity.toUpperCase()} ${f.check}: ${f.detail}\n`);
  const errors = findings.filter((f) => f.severity === 'error').length;
  process.stdout.write(
    errors ? `${errors} invariant(s) broken in ${where}\n` : `ledger ${where}: all invariants hold\n`,
  );
  process.exit(errors ? 1 : 0);
}
