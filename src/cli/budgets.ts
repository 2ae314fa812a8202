import { ConfigError, configPath, loadConfig } from '../config/load.js';
import { describeLedger, locationOf, openLedger } from '../ledger/open.js';
import type { Ledger } from '../ledger/port.js';
import { budgetReport, type Budget, type Renewing } from '../reports/budgets.js';
import { formatTable, int, type Column } from '../reports/table.js';
import { formatMicroUsd } from '../utils/money.js';
import { json, out } from './report-views.js';

/**
 * `tollgate budgets`: per company, the allocations that renew (the current period's grant, what is
 * left, when it renews, what was carried over), the keys' own budgets and, with `--end-user`, an end
 * user's. Read from the config and the ledger (read-only); `--json` prints the same as JSON.
 */

interface BudgetsOpts {
  config?: string;
  company?: string;
  endUser?: string;
  json?: boolean;
  now?: string;
}

/** A problem the user can fix (an unknown company, an unreadable ledger): printed without a stack. */
class BudgetsError extends Error {}

const amountOf = (unit: 'tokens' | 'micro_usd', n: number | null) =>
  n === null ? '-' : unit === 'tokens' ? int(n) : formatMicroUsd(n);

const RENEWING: Column<Renewing>[] = [
  { title: 'allocation', cell: (r) => r.allocation },
  { title: 'every', cell: (r) => r.every },
  { title: 'grant', cell: (r) => r.grant ?? '(none yet)' },
  { title: 'amount', cell: (r) => amountOf(r.unit, r.amount), numeric: true },
  { title: 'carried', cell: (r) => amountOf(r.unit, r.carried), numeric: true },
  { title: 'spent', cell: (r) => amountOf(r.unit, r.spent), numeric: true },
  { title: 'held', cell: (r) => amountOf(r.unit, r.held), numeric: true },
  { title: 'remaining', cell: (r) => amountOf(r.unit, r.remaining), numeric: true },
  { title: 'renews', cell: (r) => r.renewsAt ?? 'never' },
];

const limitText = (b: Budget) =>
  [
    b.check.limitTokens !== undefined ? `${int(b.check.limitTokens)} tokens` : '',
    b.check.limitMicroUsd !== undefined ? `${formatMicroUsd(b.check.limitMicroUsd)} USD` : '',
  ]
    .filter(Boolean)
    .join(' + ');

const BUDGETS: Column<Budget>[] = [
  { title: 'who', cell: (b) => b.subject },
  { title: 'window', cell: (b) => `${b.check.window} ${b.check.windowKey}` },
  { title: 'limit', cell: limitText },
  { title: 'spent tokens', cell: (b) => int(b.spentTokens), numeric: true },
  { title: 'spent USD', cell: (b) => formatMicroUsd(b.spentMicroUsd), numeric: true },
  { title: 'used', cell: (b) => `${Math.round(b.used * 100)}%`, numeric: true },
  { title: 'level', cell: (b) => b.level },
  { title: 'resets', cell: (b) => b.check.resetsAt?.toISOString() ?? 'never' },
];

/** Runs `tollgate budgets`; exits 2 on a config or ledger it cannot read, or an unknown company. */
export async function budgetsCommand(opts: BudgetsOpts): Promise<void> {
  let ledger: Ledger | undefined;
  try {
    const config = loadConfig(configPath(opts.config));
    const now = opts.now ? new Date(opts.now) : new Date();
    if (Number.isNaN(now.getTime())) throw new BudgetsError(`--now: expected an ISO 8601 instant, got "${opts.now}"`);
    const ids = opts.company !== undefined ? [opts.company] : Object.keys(config.companies).sort();
    for (const id of ids)
      if (!Object.hasOwn(config.companies, id)) throw new BudgetsError(`no company "${id}" in the config`);
    const where = locationOf(config.ledger.path ?? config.ledger.url!);
    try {
      ledger = openLedger({ ...where, readonly: true });
    } catch (err) {
      throw new BudgetsError(`cannot open the ledger ${describeLedger(where)}: ${(err as Error).message}`);
    }
    const report = [];
    for (const id of ids) report.push(await budgetReport(ledger, config, id, opts.endUser, now));
    if (opts.json) return void json(report);
    report.forEach((r, i) => {
      out(`${i ? '\n' : ''}${r.company}\n\nallocations that renew:\n`);
      out(formatTable(RENEWING, r.renewing));
      out('\nbudgets (keys and end users):\n');
      out(formatTable(BUDGETS, r.budgets));
    });
  } catch (err) {
    if (!(err instanceof ConfigError || err instanceof BudgetsError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 2;
  } finally {
    await ledger?.close();
  }
}
