import { ConfigError, configPath, loadConfig } from '../config/load.js';
import type { Config, PriceConfig } from '../config/schema.js';
import { checkPrices } from '../pricing/check.js';
import { listPrices, PriceBook } from '../pricing/price.js';
import { describeLedger, locationOf, openLedger } from '../ledger/open.js';
import { formatTable, parseInstant, type Column } from '../reports/index.js';

/**
 * `tollgate prices list` and `tollgate prices check`: the prices a config puts in force (the
 * config's `prices` over the built-in table), and the models of the ledger's recent requests that
 * have no price or a price read too long ago. Exit codes: 0 fine, 1 `check` found a problem, 2 bad
 * input (config, ledger or option).
 */

interface Opts {
  config?: string;
  ledger?: string;
  json?: boolean;
  days?: string;
  maxAge?: string;
  now?: string;
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

function config(opts: Opts): Config {
  try {
    return loadConfig(configPath(opts.config));
  } catch (err) {
    fail(err instanceof ConfigError ? err.message : String(err));
  }
}

const usd = (n: number | undefined) => (n === undefined ? '-' : String(n));
const priority = (p: PriceConfig) =>
  p.priority ? `${p.priority.input}/${p.priority.cachedInput ?? '-'}/${p.priority.output}` : '-';
const units = (p: PriceConfig) =>
  [
    p.audioInput !== undefined || p.audioOutput !== undefined ? `audio ${usd(p.audioInput)}/${usd(p.audioOutput)}` : '',
    p.imageInput !== undefined || p.imageOutput !== undefined ? `image ${usd(p.imageInput)}/${usd(p.imageOutput)}` : '',
    p.perMinute !== undefined ? `$${p.perMinute}/min` : '',
    p.perMillionCharacters !== undefined ? `$${p.perMillionCharacters}/1M chars` : '',
    p.perImage ? `${Object.keys(p.perImage).length} image sizes` : '',
    p.training !== undefined ? `training $${p.training}/1M` : '',
    p.perSecond === undefined
      ? ''
      : typeof p.perSecond === 'number'
        ? `$${p.perSecond}/s`
        : `video ${Object.entries(p.perSecond)
            .map(([size, usdPerSecond]) => `${size} $${usdPerSecond}/s`)
            .join(' ')}`,
  ]
    .filter(Boolean)
    .join(', ') || '-';

/** `tollgate prices list [--json]`: every price in force, USD per 1M tokens, with its origin, date and source. */
export function pricesListCommand(opts: Opts): void {
  const rows = listPrices(config(opts).prices);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const columns: Column<(typeof rows)[number]>[] = [
    { title: 'model', cell: (r) => r.model },
    { title: 'input', cell: (r) => usd(r.price.input), numeric: true },
    { title: 'cached', cell: (r) => usd(r.price.cachedInput), numeric: true },
    { title: 'output', cell: (r) => usd(r.price.output), numeric: true },
    { title: 'priority in/cached/out', cell: (r) => priority(r.price) },
    { title: 'other', cell: (r) => units(r.price) },
    { title: 'from', cell: (r) => r.price.effectiveFrom ?? '-' },
    { title: 'read', cell: (r) => r.price.date },
    { title: 'origin', cell: (r) => r.origin },
    { title: 'source', cell: (r) => r.price.source },
  ];
  process.stdout.write(
    `USD per 1M tokens; flex is billed at Batch rates (less batchDiscount).\n${formatTable(columns, rows)}`,
  );
}

const positive = (v: string | undefined, fallback: number, name: string) => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) fail(`--${name} expects a positive whole number of days, got '${v}'`);
  return n;
};

/**
 * `tollgate prices check [--days 30] [--max-age 180] [--ledger file] [--json]`: the models the
 * ledger's requests of the last `--days` days named, with no price (`unpriced`) or a price read more
 * than `--max-age` days ago (`stale`). Exits 1 when it finds any.
 */
export async function pricesCheckCommand(opts: Opts): Promise<void> {
  const cfg = config(opts);
  const days = positive(opts.days, 30, 'days');
  const maxAge = positive(opts.maxAge, 180, 'max-age');
  let now = new Date();
  if (opts.now) {
    try {
      now = new Date(parseInstant(opts.now, '--now'));
    } catch (err) {
      fail((err as Error).message);
    }
  }
  const where = locationOf(opts.ledger ?? cfg.ledger.path ?? cfg.ledger.url!);
  let ledger;
  try {
    ledger = openLedger({ ...where, readonly: true });
  } catch (err) {
    fail(`cannot open the ledger ${describeLedger(where)}: ${(err as Error).message}`);
  }
  const since = new Date(now.getTime() - days * 86_400_000).toISOString();
  const rows = await ledger.reader.usage({ since, until: now.toISOString() }, 'model');
  await ledger.close();
  const models = new Map(rows.filter((r) => r.key !== null).map((r) => [r.key!, r.requests]));
  const findings = checkPrices(new PriceBook(cfg.prices), models, now, maxAge);
  if (opts.json)
    process.stdout.write(
      `${JSON.stringify({ since, until: now.toISOString(), maxAgeDays: maxAge, models: models.size, findings }, null, 2)}\n`,
    );
  else if (findings.length === 0)
    process.stdout.write(
      `${models.size} model(s) requested since ${since}: every one has a price read within ${maxAge} days\n`,
    );
  else {
    const columns: Column<(typeof findings)[number]>[] = [
      { title: 'model', cell: (f) => f.model },
      { title: 'requests', cell: (f) => String(f.requests), numeric: true },
      {
        title: 'problem',
        cell: (f) => (f.problem === 'unpriced' ? 'no price' : `price read ${f.readOn}, ${f.ageDays} days ago`),
      },
      { title: 'price', cell: (f) => f.version ?? '-' },
    ];
    process.stdout.write(
      `${formatTable(columns, findings)}Add or update these under "prices" in the config (USD per 1M tokens, with source and date).\n`,
    );
  }
  process.exit(findings.length ? 1 : 0);
}
