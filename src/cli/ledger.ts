import { existsSync } from 'node:fs';
import { ConfigError, configPath, loadConfig } from '../config/load.js';
import { openLedger } from '../ledger/open.js';

/**
 * `tollgate ledger verify [file]`: checks the ledger's invariants (default file: the config's
 * `ledger.path`). Prints each finding with the offending rows; exits 1 when any invariant is
 * broken, 0 otherwise (open holds alone are a warning).
 */
export async function ledgerVerifyCommand(file: string | undefined, opts: { config?: string }): Promise<void> {
  let path = file;
  if (!path) {
    try {
      path = loadConfig(configPath(opts.config)).ledger.path;
    } catch (err) {
      process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\nname the ledger file: tollgate ledger verify <file>\n`);
      process.exit(2);
    }
  }
  if (!existsSync(path)) {
    process.stderr.write(`no ledger at ${path}\n`);
    process.exit(2);
  }
  const ledger = openLedger({ path, readonly: true });
  const findings = await ledger.reader.verify();
  await ledger.close();
  for (const f of findings) process.stdout.write(`${f.severity.toUpperCase()} ${f.check}: ${f.detail}\n`);
  const errors = findings.filter((f) => f.severity === 'error').length;
  process.stdout.write(errors ? `${errors} invariant(s) broken in ${path}\n` : `ledger ${path}: all invariants hold\n`);
  process.exit(errors ? 1 : 0);
}
