import { ConfigError, configPath, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { describeLedger, locationOf, openLedger } from '../ledger/open.js';
import { listPrices, priceSummary } from '../pricing/catalog.js';
import { checkPrices, configuredModels, type PriceFinding } from '../pricing/check.js';
import { modelLimits } from '../pricing/limits.js';
import { lookupNames } from '../pricing/names.js';
import { priceBook, type Price } from '../pricing/price.js';
import { formatTable, parseInstant, type Column } from '../reports/index.js';

/**
 * `tollgate prices`: where prices come from (`prices`), every entry in reach (`prices list`), the
 * price one model id gets (`prices show`), and the models whose price is missing or changed since
 * they were billed (`prices check`). Exit codes: 0 fine, 1 `check` found a problem or `show` found
 * no price, 2 bad input (config, ledger or option).
 */

interface Opts {
  config?: string;
  ledger?: string;
  json?: boolean;
  days?: string;
  maxAge?: string;
  now?: string;
  at?: string;
  company?: string;
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

function instant(v: string | undefined, name: string): Date {
  if (v === undefined) return new Date();
  try {
    return new Date(parseInstant(v, name));
  } catch (err) {
    fail((err as Error).message);
  }
}

const usd = (n: number | undefined) => (n === undefined ? '-' : String(n));
const print = (s: string) => process.stdout.write(s);

/** The fields of a price beyond input / cached / output, in words (USD per 1M tokens unless said). */
function extras(p: Price): string {
  const parts = [
    p.cacheWrite !== undefined ? `cache write ${p.cacheWrite}` : '',
    p.audioInput !== undefined || p.audioOutput !== undefined ? `audio ${usd(p.audioInput)}/${usd(p.audioOutput)}` : '',
    p.cachedAudioInput !== undefined ? `cached audio ${p.cachedAudioInput}` : '',
    p.imageInput !== undefined || p.imageOutput !== undefined ? `image ${usd(p.imageInput)}/${usd(p.imageOutput)}` : '',
    p.cachedImageInput !== undefined ? `cached image ${p.cachedImageInput}` : '',
    ...(p.longContext ?? []).map(
      (t) =>
        `from ${t.fromInputTokens} input tokens: ${Object.entries(t)
          .filter(([k]) => k !== 'fromInputTokens')
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
    ),
    p.priority ? `priority ${p.priority.input}/${p.priority.cachedInput ?? '-'}/${p.priority.output}` : '',
    p.webSearch !== undefined ? `web search $${p.webSearch}/1k` : '',
    p.fileSearch !== undefined ? `file search $${p.fileSearch}/1k` : '',
    p.perMinute !== undefined ? `$${p.perMinute}/min` : '',
    p.perHour !== undefined ? `$${p.perHour}/hour of audio` : '',
    p.perMillionCharacters !== undefined ? `$${p.perMillionCharacters}/1M chars` : '',
    p.perImage
      ? `per image ${Object.entries(p.perImage)
          .map(([k, v]) => `${k} $${v}`)
          .join(' ')}`
      : '',
    p.training !== undefined ? `training $${p.training}/1M` : '',
    p.perSecond === undefined
      ? ''
      : typeof p.perSecond === 'number'
        ? `$${p.perSecond}/s`
        : `video ${Object.entries(p.perSecond)
            .map(([size, v]) => `${size} $${v}/s`)
            .join(' ')}`,
  ];
  return parts.filter(Boolean).join('; ') || '-';
}

/** `tollgate prices`: the price source and its version, and what each holder of prices holds. */
export function pricesSummaryCommand(opts: Opts): void {
  const s = priceSummary(config(opts));
  if (opts.json) return void print(`${JSON.stringify(s, null, 2)}\n`);
  print(
    `Prices from ${s.source} ${s.version}: ${s.openaiModels} OpenAI models` +
      (s.unbillable.length ? ` (not billable here: ${s.unbillable.join(', ')})` : '') +
      `\ntollgate's own entries (what the source lacks): ${s.ownEntries}\nconfig "prices" entries: ${s.configEntries}\n` +
      "Resolution order: config → tollgate → genai-prices → the company's fallbackPrices; unpriced models are refused.\n",
  );
}

/** `tollgate prices list [--json]`: every entry in reach, in resolution order, USD per 1M tokens. */
export function pricesListCommand(opts: Opts): void {
  const rows = listPrices(config(opts));
  if (opts.json) return void print(`${JSON.stringify(rows, null, 2)}\n`);
  const columns: Column<(typeof rows)[number]>[] = [
    { title: 'model', cell: (r) => (r.company ? `${r.model} (${r.company})` : r.model) },
    { title: 'input', cell: (r) => usd(r.price.input), numeric: true },
    { title: 'cached', cell: (r) => usd(r.price.cachedInput), numeric: true },
    { title: 'output', cell: (r) => usd(r.price.output), numeric: true },
    { title: 'other', cell: (r) => (r.unbilled ? `not billable: ${r.unbilled.join(', ')}` : extras(r.price)) },
    { title: 'from', cell: (r) => r.price.effectiveFrom ?? '-' },
    { title: 'origin', cell: (r) => r.origin },
    { title: 'read', cell: (r) => r.price.date ?? '-' },
  ];
  print(
    `USD per 1M tokens; tollgate's supplements add to the source's entry; flex and Batch take off batchDiscount.\n${formatTable(columns, rows)}`,
  );
}

/** `tollgate prices show MODEL [--company ID] [--at INSTANT] [--json]`: the prices one id gets, who answered, what it resolved to. Exit 1 when none. */
export function pricesShowCommand(model: string, opts: Opts): void {
  const cfg = config(opts);
  const at = instant(opts.at, '--at');
  const priced = priceBook(cfg).find(model, at, opts.company);
  const limits = modelLimits(model, priced);
  if (opts.json) {
    print(
      `${JSON.stringify({ model, at: at.toISOString(), names: lookupNames(model), priced: priced ?? null, limits }, null, 2)}\n`,
    );
  } else if (!priced) {
    print(
      `${model}: no price (tried ${lookupNames(model).join(', ')}). Requests for it are refused (model_not_priced)` +
        ` unless the config prices it ("prices") or allows it for a company ("fallbackPrices").\n`,
    );
  } else {
    const p = priced.price;
    print(
      [
        `${model} → ${priced.resolvedAs} (${priced.source})`,
        `version: ${priced.version}`,
        `source: ${p.source}${p.date ? ` (read ${p.date})` : ''}`,
        `USD per 1M tokens: input ${p.input}, cached input ${usd(p.cachedInput)}, output ${p.output} (reasoning included)`,
        `also: ${extras(p)}`,
        ...(p.priority || !p.output
          ? []
          : [
              'priority: no price known; a request run at priority is billed at standard prices (row flagged priority_billed_at_standard)',
            ]),
        `Batch and flex: ${Number(p.batchDiscount) * 100}% off`,
        `context window ${limits.contextWindow} tokens, largest output ${limits.maxOutputTokens} tokens`,
      ].join('\n') + '\n',
    );
  }
  process.exit(priced ? 0 : 1);
}

const positive = (v: string | undefined, fallback: number, name: string) => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) fail(`--${name} expects a positive whole number of days, got '${v}'`);
  return n;
};

/** What each problem of `prices check` says, for one finding. */
const PROBLEMS: Record<PriceFinding['problem'], (f: PriceFinding) => string> = {
  unpriced: () => 'no price',
  changed: (f) => `billed under ${f.billed}`,
  stale: (f) => `price read ${f.readOn}, ${f.ageDays} days ago`,
  priority_unpriced: () => 'run at priority, billed at standard prices: no priority price known',
};

/**
 * `tollgate prices check [--days 30] [--max-age 180] [--ledger file] [--json]`: the models seen
 * in the ledger's settled rows of the last `--days` days or named in the config that have no price,
 * whose rows were billed under another price than the one in force now, or whose dated price was
 * read more than `--max-age` days ago. Exits 1 when it finds any.
 */
export async function pricesCheckCommand(opts: Opts): Promise<void> {
  const cfg = config(opts);
  const days = positive(opts.days, 30, 'days');
  const maxAge = positive(opts.maxAge, 180, 'max-age');
  const now = instant(opts.now, '--now');
  const where = locationOf(opts.ledger ?? cfg.ledger.path ?? cfg.ledger.url!);
  let ledger;
  try {
    ledger = openLedger({ ...where, readonly: true });
  } catch (err) {
    fail(`cannot open the ledger ${describeLedger(where)}: ${(err as Error).message}`);
  }
  const since = new Date(now.getTime() - days * 86_400_000).toISOString();
  const seen = await ledger.reader.priceVersions({ since, until: now.toISOString() });
  await ledger.close();
  const models = new Set(seen.map((r) => r.model).filter((m) => m !== null));
  const { findings, uncompared } = checkPrices(priceBook(cfg), seen, configuredModels(cfg), now, maxAge);
  if (opts.json)
    print(
      `${JSON.stringify({ since, until: now.toISOString(), maxAgeDays: maxAge, models: models.size, uncompared, findings }, null, 2)}\n`,
    );
  else if (findings.length === 0)
    print(`${models.size} model(s) billed since ${since}, and every model the config names: priced, unchanged.\n`);
  else {
    const columns: Column<(typeof findings)[number]>[] = [
      { title: 'model', cell: (f) => f.model },
      { title: 'requests', cell: (f) => String(f.requests), numeric: true },
      {
        title: 'problem',
        cell: (f) => PROBLEMS[f.problem](f),
      },
      { title: 'price now', cell: (f) => f.current ?? '-' },
    ];
    print(
      `${formatTable(columns, findings)}Price or update these under "prices" in the config, or update the price source (docs/prices.md).\n`,
    );
  }
  if (uncompared > 0 && !opts.json)
    print(`${uncompared} row(s) billed before price versions carried a content hash were not compared.\n`);
  process.exit(findings.length ? 1 : 0);
}
