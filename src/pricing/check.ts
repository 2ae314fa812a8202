import type { Config } from '../config/schema.js';
import type { PriceVersionRow } from '../ledger/port.js';
import type { PriceBook } from './price.js';

/** What `tollgate prices check` found about one model. */
export interface PriceFinding {
  model: string;
  /**
   * `unpriced`: no price applies now (requests for it would be refused, `model_not_priced`);
   * `changed`: rows were billed under a price other than the one that applies now, so the same
   * usage would cost differently today; `stale`: the price in force is a dated entry (config or
   * tollgate's own table) read more than `maxAgeDays` days ago; `priority_unpriced`: rows the
   * upstream processed at `service_tier: "priority"` were billed at standard prices because no
   * priority price is known for the model (none published by OpenAI, none in the config), and still
   * none applies now: under-billed by the priority premium.
   */
  problem: 'unpriced' | 'changed' | 'stale' | 'priority_unpriced';
  /** Settled requests for it in the period (0 for a model only the config names). */
  requests: number;
  /** `changed`: the version the rows were billed under. */
  billed?: string;
  /** `changed`, `stale`: the version that applies now. */
  current?: string;
  /** `stale`: the day the price was read, and its age in whole days at `now`. */
  readOn?: string;
  ageDays?: number;
}

/** The report: the findings, and how many rows could not be compared (billed before versions carried a content hash). */
export interface PriceCheck {
  findings: PriceFinding[];
  uncompared: number;
}

const DAY_MS = 86_400_000;

/** A version without its service-tier suffix (`…#abc/priority` → `…#abc`; see `tierVersion`). */
const base = (v: string) => v.replace(/\/(priority|flex|priority-at-standard)$/, '');
/** The content hash of a version (`gpt-5.4@genai-prices-0.1.8#0123456789ab` → `0123456789ab`), if it has one. */
const hashOf = (v: string) => /#([0-9a-f]{12})$/.exec(base(v))?.[1];

/** A model name a config refers to, with the company that names it (whose fallback prices apply), if one does. */
export interface NamedModel {
  model: string;
  companyId?: string;
}

/**
 * The model names a config refers to: its `prices` keys, and per company the models its grants are
 * scoped to and the plain names (not patterns) of its fallback prices. Sorted by model, then company.
 */
export function configuredModels(config: Config): NamedModel[] {
  const named = new Map<string, NamedModel>(Object.keys(config.prices).map((model) => [`\u0000${model}`, { model }]));
  for (const [companyId, c] of Object.entries(config.companies)) {
    const add = (model: string) => named.set(`${companyId}\u0000${model}`, { model, companyId });
    for (const a of c.allocations) for (const m of a.models ?? []) add(m);
    for (const f of c.fallbackPrices ?? []) for (const m of f.models) if (!m.includes('*')) add(m);
  }
  return [...named.values()].sort(
    (a, b) => a.model.localeCompare(b.model) || (a.companyId ?? '').localeCompare(b.companyId ?? ''),
  );
}

/**
 * Checks the prices in force at `now` (UTC) against what a ledger billed (`seen`, from
 * `LedgerReader.priceVersions`) and the models the config names (`named`, each looked up for the
 * company that names it): see `PriceFinding`. A version is compared by its content hash, so a new
 * source release that leaves a model's prices alone raises nothing. Sorted by problem, then model.
 */
export function checkPrices(
  book: PriceBook,
  seen: PriceVersionRow[],
  named: NamedModel[],
  now: Date,
  maxAgeDays: number,
): PriceCheck {
  const found = new Map<string, PriceFinding>();
  const add = (f: PriceFinding) => {
    const key = `${f.problem}|${f.model}|${f.billed ?? ''}`;
    const had = found.get(key);
    if (had) had.requests += f.requests;
    else found.set(key, f);
  };
  let uncompared = 0;
  const current = new Set<string>();
  for (const row of seen) {
    if (row.model === null) continue;
    const priced = book.find(row.model, now, row.companyId);
    if (!priced) {
      add({ model: row.model, problem: 'unpriced', requests: row.requests });
      continue;
    }
    current.add(row.model);
    // Unpriced at the time (free endpoints, `unbilled` models) or billed before versions had a hash: not comparable.
    if (row.priceVersion === null) continue;
    const billed = hashOf(row.priceVersion);
    if (row.priceVersion.endsWith('/priority-at-standard') && !priced.price.priority)
      add({ model: row.model, problem: 'priority_unpriced', requests: row.requests, current: priced.version });
    if (billed === undefined) uncompared += row.requests;
    else if (billed !== hashOf(priced.version))
      add({
        model: row.model,
        problem: 'changed',
        requests: row.requests,
        billed: row.priceVersion,
        current: priced.version,
      });
  }
  for (const { model, companyId } of named) {
    const priced = book.find(model, now, companyId);
    if (!priced && !seen.some((r) => r.model === model)) add({ model, problem: 'unpriced', requests: 0 });
    if (priced) current.add(model);
  }
  for (const model of current) {
    const priced = book.find(model, now);
    const date = priced?.source === 'config' || priced?.source === 'tollgate' ? priced.price.date : undefined;
    if (!priced || !date) continue;
    const ageDays = Math.floor((now.getTime() - Date.parse(`${date}T00:00:00Z`)) / DAY_MS);
    if (ageDays > maxAgeDays)
      add({ model, problem: 'stale', requests: 0, current: priced.version, readOn: date, ageDays });
  }
  const findings = [...found.values()].sort(
    (a, b) => a.problem.localeCompare(b.problem) || a.model.localeCompare(b.model),
  );
  return { findings, uncompared };
}
