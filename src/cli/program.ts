import { Command, Option } from 'commander';
import { budgetsCommand } from './budgets.js';
import { keysCreateCommand, keysRevokeCommand } from './keys.js';
import { ledgerVerifyCommand } from './ledger.js';
import { ledgerCopyCommand } from './ledger-copy.js';
import { registerReportCommands } from './reports.js';
import { serveCommand } from './serve.js';

/**
 * The `tollgate` command line as a commander program, every command and option declared, nothing
 * run: src/cli.ts parses it, and the docs check reads it to prove each command the docs show exists.
 * Commands whose code pulls in heavy modules (the openai SDK, jose) load them on demand.
 */
export function buildProgram(): Command {
  const program = new Command('tollgate').description(
    'OpenAI-compatible metering proxy with a SQLite or Postgres ledger',
  );

  program
    .command('serve')
    .description('start the proxy')
    .option('-c, --config <file>', 'config file (default: $TOLLGATE_CONFIG or ./proxy.config.json)')
    .option('-p, --port <port>', 'listen port, overriding listen.port')
    .option('--host <host>', 'listen host, overriding listen.host')
    .option('--upstream <url>', 'upstream base URL, overriding upstream.baseUrl (e.g. the mock: http://127.0.0.1:9999)')
    .option('--no-watch', 'do not reload the config when its file changes (SIGHUP still reloads it)')
    .option(
      '-w, --workers <n>',
      'processes sharing the listen port (default 1; on a SQLite ledger the primary process writes the file for them)',
    )
    .action(serveCommand);

  const keys = program.command('keys').description('company API keys');
  keys
    .command('create')
    .description('mint a company key (or an operator key): prints the key once and the config entry to paste')
    .option('--company <id>', 'the company the key belongs to')
    .option(
      '--operator',
      'mint an operator key (reads every company through /tollgate/v1 and /metrics; cannot call /v1), for "operators"',
    )
    .option('--role <role>', 'member (default) or admin: an admin key reads its whole company through /tollgate/v1')
    .requiredOption('--id <id>', 'a name for the key, unique in the config (e.g. acme-prod)')
    .option('--expires <instant>', 'expiry, ISO 8601 (e.g. 2027-01-01T00:00:00Z)')
    .option('--note <text>', 'a note stored with the entry')
    .option(
      '-c, --config <file>',
      'config file the company must exist in (default: $TOLLGATE_CONFIG or ./proxy.config.json)',
    )
    .option('--write', 'add the entry to the config file instead of printing it (a running tollgate reloads it)')
    .action(keysCreateCommand);
  keys
    .command('revoke')
    .description('revoke a key in the config file (a running tollgate applies it by hot reload)')
    .requiredOption('--id <id>', 'the key id')
    .option('-c, --config <file>', 'config file (default: $TOLLGATE_CONFIG or ./proxy.config.json)')
    .action(keysRevokeCommand);

  program
    .command('budgets')
    .description(
      "per company: the allocations that renew (this period's grant, what was carried over, when it renews) and the keys' budgets",
    )
    .option('-c, --config <file>', 'config file (default: $TOLLGATE_CONFIG or ./proxy.config.json)')
    .option('--company <id>', 'only this company')
    .option('--end-user <id>', "also this end user's budget (the id as the app sends it)")
    .option('--json', 'print JSON instead of tables')
    .addOption(new Option('--now <instant>', 'evaluate as of this instant instead of the clock (ISO 8601)').hideHelp())
    .action(budgetsCommand);

  const token = program.command('token').description('user tokens (JWT)');
  token
    .command('mint')
    .description("mint a user token signed with the company's key (HS secret from its env var, or --private-key)")
    .option('-c, --config <file>', 'config file (default: $TOLLGATE_CONFIG or ./proxy.config.json)')
    .requiredOption('--company <id>', 'the company the user belongs to')
    .requiredOption('--user <id>', 'the user id (the sub claim)')
    .option('--role <role>', 'member or admin', 'member')
    .option('--session <id>', 'a session id (the sid claim), for per-session quotas')
    .option('--ttl <seconds>', 'lifetime in seconds', '3600')
    .option('--private-key <file>', 'PKCS#8 PEM private key, for ES256/EdDSA/RS256 companies')
    .action(async (opts) => (await import('./token.js')).tokenMintCommand(opts));

  const ledger = program.command('ledger').description('the ledger (a SQLite file or a Postgres database)');
  ledger
    .command('verify [file-or-url]')
    .description("check the ledger's invariants; exits 1 naming the offending rows")
    .option('-c, --config <file>', 'config file whose ledger (path or url) to check when none is given')
    .action(ledgerVerifyCommand);
  ledger
    .command('copy')
    .description('copy a SQLite ledger into an empty Postgres ledger, then verify both and compare them')
    .requiredOption('--from <file>', 'the SQLite ledger file (stop the proxy first)')
    .requiredOption('--to <url>', 'the Postgres ledger: postgres://user:password@host:5432/database (empty)')
    .action(ledgerCopyCommand);
  ledger
    .command('archive')
    .description(
      'write the request rows (and debits) admitted before a date to a gzip NDJSON file, then delete them from the ledger; usage rollups stay',
    )
    .requiredOption(
      '--before <date>',
      'archive rows admitted before this UTC date (2026-09-01) or instant (rounded down to its hour)',
    )
    .requiredOption('--to <file>', 'the archive file to write, e.g. requests-2026-08.ndjson.gz (must not exist)')
    .option(
      '-c, --config <file>',
      'config file whose ledger to archive (default: $TOLLGATE_CONFIG or ./proxy.config.json)',
    )
    .option('--ledger <file or url>', "the ledger to archive instead of the config's")
    .addOption(new Option('--now <instant>', 'evaluate as of this instant').hideHelp())
    .action(async (opts) => (await import('./ledger-archive.js')).ledgerArchiveCommand(opts));

  const configCmd = program.command('config').description('the config file (proxy.config.json)');
  configCmd
    .command('check [file]')
    .description(
      'validate a config as a reload would, and print what it would change (exit 1 with the errors when invalid)',
    )
    .option(
      '-c, --config <file>',
      'the config to check when no file is given (default: $TOLLGATE_CONFIG or ./proxy.config.json)',
    )
    .option('--against <file>', 'compare with this config file (default: with the grants mirrored in the ledger)')
    .option('--ledger <file>', "the ledger whose grants to compare with, instead of the config's ledger.path")
    .option('--json', 'print the report as JSON')
    .action(async (file, opts) => (await import('./config.js')).configCheckCommand(file, opts));

  registerReportCommands(program);

  const prices = program
    .command('prices')
    .description(
      "the prices tollgate bills at: the config's prices, tollgate's own entries, then @pydantic/genai-prices (its version first)",
    )
    .option('-c, --config <file>', 'config file (default: $TOLLGATE_CONFIG or ./proxy.config.json)')
    .option('--json', 'print JSON')
    .action(async (opts) => (await import('./prices.js')).pricesSummaryCommand(opts));
  prices
    .command('list')
    .description('list every price entry in reach, in resolution order, USD per 1M tokens, with its origin and source')
    .option('-c, --config <file>', 'config file (default: $TOLLGATE_CONFIG or ./proxy.config.json)')
    .option('--json', 'print JSON')
    .action(async (_opts, cmd) => (await import('./prices.js')).pricesListCommand(cmd.optsWithGlobals()));
  prices
    .command('show <model>')
    .description('the prices a model id is billed at, which source answered and what the id resolved to (exit 1: none)')
    .option('-c, --config <file>', 'config file (default: $TOLLGATE_CONFIG or ./proxy.config.json)')
    .option('--company <id>', 'price as for this company (its fallbackPrices)')
    .option('--at <instant>', 'the prices in force at this instant (ISO 8601), default now')
    .option('--json', 'print JSON')
    .action(async (model, _opts, cmd) => (await import('./prices.js')).pricesShowCommand(model, cmd.optsWithGlobals()));
  prices
    .command('check')
    .description(
      'name the models billed in the last --days days or named in the config that have no price, or would cost differently now than billed (exit 1)',
    )
    .option('-c, --config <file>', 'config file (default: $TOLLGATE_CONFIG or ./proxy.config.json)')
    .option('--ledger <file>', "the ledger to read instead of the config's ledger.path")
    .option('--days <n>', 'how many days of requests to check', '30')
    .option('--max-age <days>', 'a dated price (config or tollgate entry) read longer ago than this is stale', '180')
    .option('--now <instant>', 'check as of this instant (ISO 8601), for scripts and tests')
    .option('--json', 'print JSON')
    .action(async (_opts, cmd) => (await import('./prices.js')).pricesCheckCommand(cmd.optsWithGlobals()));

  program
    .command('reconcile')
    .description(
      "compare the ledger with OpenAI's own usage and costs (Admin API key from reconciliation.adminKeyEnv, default $OPENAI_ADMIN_KEY): exit 1 when drift is beyond the threshold, 2 when it cannot compare",
    )
    .option('-c, --config <file>', 'config file (default: $TOLLGATE_CONFIG or ./proxy.config.json)')
    .option('--ledger <file-or-url>', "the ledger to read instead of the config's")
    .option('--from <day>', 'first UTC day, YYYY-MM-DD (default: 6 days before --to)')
    .option('--to <day>', 'last UTC day, included (default: today, which is provisional)')
    .option('--group-by <dims>', 'any of day, model, project, key, comma-separated', 'day,model')
    .option('--format <format>', 'table, csv or json', 'table')
    .option(
      '--threshold <percent>',
      "drift beyond this % of OpenAI's figure exits 1 (default: reconciliation.threshold.percent)",
    )
    .option(
      '--save',
      'keep the result in the ledger (shown on the dashboard); not while a tollgate serves a SQLite ledger',
    )
    .addOption(new Option('--now <instant>', 'evaluate as of this instant instead of the clock (ISO 8601)').hideHelp())
    .action(async (opts) => (await import('./reconcile.js')).reconcileCommand(opts));

  program
    .command('mock-upstream')
    .description(
      'run the built-in mock OpenAI upstream alone (no key, no network) and print the config line that uses it',
    )
    .option('-p, --port <port>', 'port on 127.0.0.1', '9999')
    .action(async (opts) => (await import('./mock-upstream.js')).mockUpstreamCommand(opts));

  program
    .command('dashboard')
    .description('the web dashboard at /dashboard')
    .command('link')
    .description(
      'print a one-time sign-in URL for the dashboard, valid for dashboard.linkMinutes (needs the session secret env var the config names)',
    )
    .option('-c, --config <file>', 'config file (default: $TOLLGATE_CONFIG or ./proxy.config.json)')
    .option('--company <id>', 'the company to sign in to')
    .option('--user <id>', 'sign in as this user of the company (default: the company as a whole, with --role admin)')
    .option('--role <role>', 'member or admin (default: member with --user, else admin)')
    .option('--operator <id>', 'sign in as this operator (every company) instead of --company')
    .option(
      '--base-url <url>',
      "tollgate's address as the browser reaches it (default: from listen.host and listen.port)",
    )
    .action(async (opts) => (await import('./dashboard.js')).dashboardLinkCommand(opts));

  program
    .command('demo')
    .description('start a built-in mock upstream and tollgate, send a few SDK requests, print the ledger rows')
    // Loaded on demand: it pulls in the openai SDK, which `serve` does not need.
    .action(async () => (await import('./demo.js')).demoCommand());
  return program;
}
