import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { Command, Option } from 'commander';
import { storedEndUser } from '../attribution/end-user.js';
import { ConfigError, configPath, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { describeLedger, locationOf, openLedger } from '../ledger/open.js';
import type { Ledger } from '../ledger/port.js';
import {
  balanceReport,
  exportCsvChunks,
  formatTable,
  GROUP_BYS,
  historyReport,
  parseInstant,
  PERIODS,
  resolveWindow,
  type GroupBy,
  type Period,
  type RequestFilter,
} from '../reports/index.js';
import type { RequestRow } from '../ledger/port.js';
import {
  balanceCsv,
  HISTORY_COLUMNS,
  historyCsv,
  json,
  out,
  printBalance,
  usageColumns,
  usageCsv,
} from './report-views.js';

/**
 * The report commands: `tollgate balance`, `usage`, `export` and `history`. Each opens the ledger
 * read-only (the config's `ledger.path`, or `--ledger <file>`), prints a text table by default,
 * JSON with `--json` and CSV with `--csv`, and exits 2 when the ledger or an option is unusable.
 */

interface SourceOpts {
  config?: string;
  ledger?: string;
  now?: string;
}
interface FormatOpts {
  json?: boolean;
  csv?: boolean;
}
interface FilterOpts {
  company?: string;
  user?: string;
  key?: string;
  model?: string;
  endpoint?: string;
  feature?: string;
  tag?: string;
  endUser?: string;
  period?: Period;
  since?: string;
  until?: string;
}

interface HistoryOpts {
  company?: string;
  tag?: string;
  endUser?: string;
  limit: string;
}

/** Thrown for a problem the user can fix (bad option, missing ledger); printed without a stack. */
class UsageError extends Error {}

function withSource(cmd: Command): Command {
  return cmd
    .option(
      '-c, --config <file>',
      'config file whose ledger.path to read (default: $TOLLGATE_CONFIG or ./proxy.config.json)',
    )
    .option('--ledger <file>', "the ledger file to read, instead of the config's ledger.path")
    .addOption(new Option('--now <instant>', 'evaluate as of this instant instead of the clock (ISO 8601)').hideHelp());
}

function withFormat(cmd: Command, csv = true): Command {
  cmd.addOption(new Option('--json', 'print JSON instead of a table'));
  if (csv) cmd.addOption(new Option('--csv', 'print CSV (RFC 4180) instead of a table').conflicts('json'));
  return cmd;
}

function withFilters(cmd: Command): Command {
  return cmd
    .option('--company <id>', 'only this company')
    .option('--user <id>', 'only this user (requests.user_id)')
    .option('--key <id>', 'only this company key (requests.key_id)')
    .option('--model <name>', 'only this requested model (exact name)')
    .option('--endpoint <path>', 'only this endpoint, e.g. /v1/chat/completions')
    .option('--feature <name>', 'only this feature (x-tollgate-feature)')
    .option('--tag <tag>', 'only requests carrying this spend tag')
    .option('--end-user <id>', endUserHelp)
    .addOption(
      new Option('--period <period>', 'the last 7, 30 or 90 days (24 h each) before now')
        .choices(Object.keys(PERIODS))
        .conflicts(['since', 'until']),
    )
    .option('--since <instant>', 'from this instant, inclusive (ISO 8601 with offset, or a date: midnight UTC)')
    .option('--until <instant>', 'until this instant, exclusive');
}

const endUserHelp =
  "only this end user (the app's safety_identifier or user, as sent; hashed like the ledger for a --company that stores hashed ids)";

/** Runs a command body with the ledger open (and the config, when it came from one); prints user errors on stderr and exits 2. */
function run<O extends SourceOpts>(body: (ledger: Ledger, now: Date, opts: O, config?: Config) => Promise<void>) {
  return async (opts: O): Promise<void> => {
    let ledger: Ledger | undefined;
    try {
      const now = opts.now !== undefined ? new Date(userInput(() => parseInstant(opts.now!, '--now'))) : new Date();
      const opened = await openReadOnly(opts);
      ledger = opened.ledger;
      const company = (opts as { company?: string }).company;
      if (company !== undefined && !opened.companies.includes(company)) {
        throw new UsageError(
          `no company "${company}" in ${opened.source} (companies: ${opened.companies.join(', ') || 'none'})`,
        );
      }
      await body(ledger, now, opts, opened.config);
    } catch (err) {
      if (!(err instanceof UsageError || err instanceof ConfigError || isStoreError(err))) throw err;
      process.stderr.write(`${(err as Error).message}\n`);
      process.exitCode = 2;
    } finally {
      await ledger?.close();
    }
  };
}

/** An error the ledger's store raised (a SQLite error: unreadable file, not a database). */
const isStoreError = (err: unknown) =>
  err instanceof Error &&
  (err.name === 'SqliteError' || (err as { code?: string }).code?.startsWith('SQLITE_') === true);

/**
 * Opens the ledger the options name, and lists the companies a `--company` may name: the config's
 * (when the ledger came from it), else those with a grant in the ledger.
 */
async function openReadOnly(
  opts: SourceOpts,
): Promise<{ ledger: Ledger; companies: string[]; source: string; config?: Config }> {
  const config = opts.ledger === undefined ? loadConfig(configPath(opts.config)) : undefined;
  const path = opts.ledger ?? config!.ledger.path ?? config!.ledger.url!;
  let ledger: Ledger;
  try {
    ledger = openLedger({ ...locationOf(path), readonly: true });
  } catch (err) {
    throw new UsageError(`cannot open the ledger ${describeLedger(locationOf(path))}: ${(err as Error).message}`);
  }
  if (config)
    return {
      ledger,
      companies: Object.keys(config.companies).sort(),
      source: `the config ${configPath(opts.config)}`,
      config,
    };
  return {
    ledger,
    companies: await ledger.reader.companies(),
    source: `the ledger ${describeLedger(locationOf(path))}`,
  };
}

/** Runs `parse`, turning what it throws into a UsageError. */
function userInput<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * An end user as the ledger stores it (`storedEndUser`, the proxy's own function): hashed per the
 * company's `endUsers.store` when the config and the company are known, else as given.
 * @throws UsageError when the config has a company storing hashed ids and no `--company` says which
 * company's hash to match, or when that company's `hashKeyEnv` is not set here (the hash would differ
 * from the proxy's).
 */
function storedAs(endUser: string, companyId: string | undefined, config: Config | undefined): string {
  if (!config) return endUser;
  if (companyId === undefined) {
    const hashing = Object.entries(config.companies).filter(([, c]) => c.endUsers?.store === 'hashed');
    if (hashing.length > 0)
      throw new UsageError(
        `--end-user needs --company: ${hashing.map(([id]) => id).join(', ')} store${hashing.length === 1 ? 's' : ''} end-user ids hashed per company`,
      );
    return endUser;
  }
  const company = config.companies[companyId];
  if (!company) return endUser;
  const env = company.endUsers?.store === 'hashed' ? company.endUsers.hashKeyEnv : undefined;
  if (env !== undefined && !process.env[env])
    throw new UsageError(
      `--end-user: ${companyId} hashes end-user ids with the key in $${env}; set it as the server has it`,
    );
  return storedEndUser(companyId, company, endUser);
}

function filterOf(opts: FilterOpts, now: Date, config?: Config): RequestFilter {
  const f: RequestFilter = {
    ...userInput(() => resolveWindow({ period: opts.period, since: opts.since, until: opts.until }, now)),
  };
  if (opts.company !== undefined) f.companyId = opts.company;
  if (opts.user !== undefined) f.userId = opts.user;
  if (opts.key !== undefined) f.keyId = opts.key;
  if (opts.model !== undefined) f.model = opts.model;
  if (opts.endpoint !== undefined) f.endpoint = opts.endpoint;
  if (opts.feature !== undefined) f.feature = opts.feature;
  if (opts.tag !== undefined) f.tag = opts.tag;
  if (opts.endUser !== undefined) f.endUser = storedAs(opts.endUser, opts.company, config);
  return f;
}

function positiveInt(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`-n: expected a positive integer, got "${text}"`);
  return n;
}

/**
 * Writes the CSV export page by page to `file` (or stdout), waiting for the output to drain between
 * pages (constant memory at any size), with a progress line on stderr when it is a terminal.
 * Resolves with the rows written.
 */
async function writeExport(pages: AsyncIterable<RequestRow[]>, file: string | undefined): Promise<number> {
  const sink: Writable = file === undefined ? process.stdout : createWriteStream(file);
  const progress = process.stderr.isTTY === true && (file !== undefined || process.stdout.isTTY !== true);
  let written = 0;
  const started = Date.now();
  for await (const chunk of exportCsvChunks(pages, (n) => (written = n))) {
    if (!sink.write(chunk)) await once(sink, 'drain');
    if (progress && written > 0)
      process.stderr.write(
        `\rexporting: ${written.toLocaleString('en-US')} rows, ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
  }
  if (progress) process.stderr.write('\r\x1b[K');
  if (file !== undefined) {
    sink.end();
    await once(sink, 'finish');
  }
  return written;
}

/** Adds `balance`, `usage`, `export` and `history` to the tollgate command. */
export function registerReportCommands(program: Command): void {
  withFormat(
    withSource(
      program
        .command('balance')
        .description('what is left per company: per grant, per model scope, and the unlimited models')
        .option('--company <id>', 'only this company (default: every company with a grant)'),
    ),
  ).action(
    run<SourceOpts & FormatOpts & { company?: string }>(async (ledger, now, opts) => {
      const report = await balanceReport(ledger, now, opts.company);
      if (opts.json) json(report);
      else if (opts.csv) out(balanceCsv(report));
      else if (report.length === 0) out('(no grants)\n');
      else report.forEach((b, i) => (i && out('\n'), printBalance(b)));
    }),
  );

  withFormat(
    withFilters(
      withSource(
        program
          .command('usage')
          .description(
            'requests, tokens, cost (USD), errors and mean latency, filtered and grouped; in-flight requests are left out',
          )
          .addOption(
            new Option(
              '--group-by <field>',
              'one row per company, user, model, endpoint, day or hour (UTC), spend tag (a request with several counts in each; untagged: "-") or end user; none: one total row',
            )
              .choices(GROUP_BYS)
              .default('none'),
          ),
      ),
    ),
  ).action(
    run<SourceOpts & FormatOpts & FilterOpts & { groupBy: GroupBy }>(async (ledger, now, opts, config) => {
      const rows = await ledger.reader.usage(filterOf(opts, now, config), opts.groupBy);
      if (opts.json) json(rows);
      else if (opts.csv) out(usageCsv(rows, opts.groupBy));
      else out(formatTable(usageColumns(opts.groupBy), rows));
    }),
  );

  withFilters(
    withSource(
      program
        .command('export')
        .description(
          "the ledger's requests as CSV (Date, User ID, Endpoint, Model, Input/Output/Total Tokens, Total Cost (USD), Success, Response Time (ms), then Company, Request ID, End User and Tags), oldest first",
        )
        .option('-o, --output <file>', 'write the CSV to this file instead of stdout'),
    ),
  ).action(
    run<SourceOpts & FilterOpts & { output?: string }>(async (ledger, now, opts, config) => {
      const rows = await writeExport(ledger.reader.exportRows(filterOf(opts, now, config)), opts.output);
      if (opts.output !== undefined)
        process.stderr.write(`wrote ${rows.toLocaleString('en-US')} rows to ${opts.output}\n`);
    }),
  );

  withFormat(
    withSource(
      program
        .command('history')
        .description('the last requests, newest first, with the tokens remaining after each')
        .option('--company <id>', 'only this company')
        .option('--tag <tag>', 'only requests carrying this spend tag')
        .option('--end-user <id>', endUserHelp)
        .option('-n, --limit <n>', 'how many requests', '50'),
    ),
  ).action(
    run<SourceOpts & FormatOpts & HistoryOpts>(async (ledger, now, opts, config) => {
      const rows = await historyReport(ledger.reader, now, {
        companyId: opts.company,
        limit: positiveInt(opts.limit),
        ...(opts.tag !== undefined ? { tag: opts.tag } : {}),
        ...(opts.endUser !== undefined ? { endUser: storedAs(opts.endUser, opts.company, config) } : {}),
      });
      if (opts.json) json(rows);
      else if (opts.csv) out(historyCsv(rows));
      else out(formatTable(HISTORY_COLUMNS, rows));
    }),
  );
}
