import type { Config } from '../config/schema.js';
import type { Ledger } from '../ledger/port.js';
import { AdminApi } from './admin-api.js';
import { compare } from './compare.js';
import { readOpenAi } from './openai-side.js';
import type { Dimension, ReconciliationReport, Scope, Threshold } from './report.js';

/** A reconciliation the user can fix (a missing admin key, a bad date, a grouping the mapping cannot support). */
export class ReconcileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReconcileError';
  }
}

/** Most days one reconciliation reads (each day is one bucket per Admin API endpoint). */
export const MAX_DAYS = 366;
const DAY_MS = 86_400_000;

/** Parses `YYYY-MM-DD` as a UTC day. @throws ReconcileError naming `what` when it is not a real date. */
export function parseDay(text: string, what: string): string {
  const ok = /^\d{4}-\d{2}-\d{2}$/.test(text) && new Date(`${text}T00:00:00Z`).toISOString().startsWith(text);
  if (!ok) throw new ReconcileError(`${what}: expected a UTC day, YYYY-MM-DD (e.g. 2026-11-01), got "${text}"`);
  return text;
}

/** The UTC day `n` days after `day` (before it when negative). */
export const addDays = (day: string, n: number): string =>
  new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);

/** Which OpenAI project and key tollgate's upstream key is, as the config maps it. */
export function scopeOf(config: Config): Scope {
  const upstreamKey = config.upstream.apiKeyEnv;
  const m = config.reconciliation.upstreamKeys[upstreamKey];
  return {
    upstreamKey,
    projectId: m?.projectId ?? null,
    apiKeyId: m?.apiKeyId ?? null,
    exclusive: m?.apiKeyId !== undefined,
  };
}

/** What to reconcile: UTC days `from`..`to` (both included), grouped by `groupBy`; `threshold` overrides the config's. */
export interface ReconcileRequest {
  from: string;
  to: string;
  groupBy: Dimension[];
  threshold?: Partial<Threshold>;
  now: Date;
}

/**
 * Reads OpenAI's usage and costs with the admin key from the environment variable the config names
 * and the ledger's rows over the same UTC days, and compares them (see `compare`).
 * @throws ReconcileError for a request or setup the user can fix; AdminApiError when OpenAI cannot
 * be read (401/403 naming the permission needed, 429 beyond the retry budget, unreachable).
 */
export async function reconcile(
  config: Config,
  ledger: Ledger,
  req: ReconcileRequest,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ReconciliationReport> {
  const rc = config.reconciliation;
  const today = req.now.toISOString().slice(0, 10);
  const from = parseDay(req.from, '--from');
  const to = parseDay(req.to, '--to');
  if (from > to) throw new ReconcileError(`--from (${from}) is after --to (${to})`);
  if (to > today)
    throw new ReconcileError(`--to (${to}) is after today (${today}, UTC): OpenAI has no usage for it yet`);
  const days = (Date.parse(to) - Date.parse(from)) / DAY_MS + 1;
  if (days > MAX_DAYS) throw new ReconcileError(`${days} days asked: at most ${MAX_DAYS} at a time`);
  const scope = scopeOf(config);
  const where = `reconciliation.upstreamKeys.${scope.upstreamKey}`;
  if (req.groupBy.includes('key') && scope.apiKeyId === null)
    throw new ReconcileError(
      `grouping by key needs the OpenAI key id of tollgate's upstream key: set ${where}.apiKeyId ("key_…")`,
    );
  if (req.groupBy.includes('project') && scope.apiKeyId === null && scope.projectId === null)
    throw new ReconcileError(`grouping by project needs tollgate's project: set ${where}.projectId ("proj_…")`);
  const adminKey = env[rc.adminKeyEnv];
  if (!adminKey)
    throw new ReconcileError(
      `the admin key is not set: export ${rc.adminKeyEnv}=sk-admin-… (an OpenAI Admin API key with read access to Usage)`,
    );
  const api = new AdminApi({ baseUrl: rc.baseUrl, adminKey, keyEnv: rc.adminKeyEnv });
  const startTime = Date.parse(`${from}T00:00:00Z`) / 1000;
  const endTime = Date.parse(`${addDays(to, 1)}T00:00:00Z`) / 1000;
  const [ledgerSide, openai] = await Promise.all([
    ledger.reconciliations.usage(`${from}T00:00:00.000Z`, `${addDays(to, 1)}T00:00:00.000Z`),
    readOpenAi(api, startTime, endTime),
  ]);
  return compare({
    ledger: ledgerSide,
    openai,
    scope,
    groupBy: req.groupBy,
    threshold: { ...rc.threshold, ...req.threshold },
    from,
    to,
    now: req.now,
  });
}
