import { existsSync } from 'node:fs';
import { diffAgainstLedger, jwtProblems, type MirroredGrant } from '../config/check.js';
import { diffConfigs, formatChange, restartOnlyChanges, type ConfigChange } from '../config/diff.js';
import { ConfigError, configPath, loadConfig } from '../config/load.js';
import { describeLedger, isPostgresUrl, locationOf, openLedger } from '../ledger/open.js';
import type { Config } from '../config/schema.js';

export interface ConfigCheckOpts {
  config?: string;
  against?: string;
  ledger?: string;
  json?: boolean;
}

interface CheckReport {
  file: string;
  valid: boolean;
  errors: string[];
  /** What the changes are measured against: a config file, or the ledger's mirrored grants. */
  comparedWith: string | null;
  changes: ConfigChange[];
  needsRestart: string[];
  notes: string[];
}

async function readMirroredGrants(fileOrUrl: string): Promise<MirroredGrant[]> {
  const ledger = openLedger({ ...locationOf(fileOrUrl), readonly: true });
  try {
    return await ledger.reader.grants();
  } finally {
    await ledger.close();
  }
}

/**
 * `tollgate config check [file]`: validates a config exactly as a reload does (schema, JWT keys,
 * grants against the ledger) and prints what it would change, versus `--against <file>` or, by
 * default, the grants mirrored in the ledger (its `ledger.path`, or `--ledger`). Exits 0 when
 * valid, 1 with each error when not, 2 when the file to compare with cannot be read.
 */
export async function configCheckCommand(fileArg: string | undefined, opts: ConfigCheckOpts): Promise<void> {
  const file = fileArg ?? configPath(opts.config);
  const report: CheckReport = {
    file,
    valid: true,
    errors: [],
    comparedWith: null,
    changes: [],
    needsRestart: [],
    notes: [],
  };
  let config: Config | undefined;
  try {
    config = loadConfig(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    report.errors.push(...err.issues);
  }
  if (config) report.errors.push(...(await jwtProblems(config)));

  if (config && opts.against !== undefined) {
    let before: Config;
    try {
      before = loadConfig(opts.against);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(`cannot compare with ${opts.against}:\n${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    report.comparedWith = opts.against;
    report.changes = diffConfigs(before, config);
    report.needsRestart = restartOnlyChanges(before, config);
  } else if (config) {
    const ledger = opts.ledger ?? config.ledger.path ?? config.ledger.url!;
    report.comparedWith = `the grants in ${describeLedger(locationOf(ledger))}`;
    let mirrored: MirroredGrant[] = [];
    if (isPostgresUrl(ledger) || existsSync(ledger)) {
      try {
        mirrored = await readMirroredGrants(ledger);
      } catch (err) {
        process.stderr.write(`cannot read the ledger ${ledger}: ${(err as Error).message}\n`);
        process.exitCode = 2;
        return;
      }
    } else report.notes.push(`no ledger at ${ledger} yet: every allocation is new`);
    const { changes, errors } = diffAgainstLedger(config, mirrored, new Date());
    report.changes = changes;
    report.errors.push(...errors);
  }
  report.valid = report.errors.length === 0;
  if (!report.valid) process.exitCode = 1;

  if (opts.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  if (!report.valid) {
    process.stderr.write(`invalid config ${file}:\n${report.errors.map((e) => `  - ${e}`).join('\n')}\n`);
    return;
  }
  const lines = [`${file}: valid`];
  for (const n of report.notes) lines.push(`note: ${n}`);
  if (report.comparedWith !== null) {
    lines.push(
      report.changes.length ? `changes versus ${report.comparedWith}:` : `no changes versus ${report.comparedWith}`,
    );
    for (const c of report.changes) lines.push(`  ${formatChange(c)}`);
  }
  if (report.needsRestart.length) lines.push(`needs restart (read at start only): ${report.needsRestart.join(', ')}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
