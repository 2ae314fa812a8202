import type { Hono } from 'hono';
import { permissionDenied, readerRoute } from '../api/read.js';
import { invalidRequest } from '../http/denial.js';
import type { AppEnv } from '../http/env.js';
import type { ReconciliationRecord } from '../ledger/port.js';
import type { Runtime } from '../runtime.js';
import type { ReconciliationReport } from './report.js';

/** Most runs one list returns. */
const MAX_LIMIT = 100;

/** A stored run as the read API shows it: snake_case, with the report's summary (the whole report by id). */
function runJson(r: ReconciliationRecord, withReport: boolean) {
  const report = r.report === null ? null : (JSON.parse(r.report) as ReconciliationReport);
  return {
    object: 'tollgate.reconciliation_run',
    id: r.id,
    trigger: r.trigger,
    started_at: r.startedAt,
    finished_at: r.finishedAt,
    from: r.fromDay,
    to: r.toDay,
    status: r.status,
    error: r.error,
    summary: report?.summary ?? null,
    ...(withReport ? { report } : {}),
  };
}

/**
 * The reconciliation runs kept in the ledger, for operators (the dashboard's panel reads them):
 * - `GET /tollgate/v1/reconciliations?limit=N` — the newest N runs (default 10), newest first, each
 *   with its status and summary;
 * - `GET /tollgate/v1/reconciliations/{id}` — one run with its whole report (`ReconciliationReport`).
 * Companies' keys and users get 403 `permission_denied`: the comparison covers every company.
 */
export function reconcileRoutes(
  app: Hono<AppEnv>,
  rt: Pick<Runtime, 'config' | 'keys' | 'jwt' | 'ledger' | 'clock'>,
): void {
  const route = readerRoute(app, rt);
  const operatorsOnly = () => permissionDenied('Only an operator may read reconciliations with OpenAI.');

  route('/tollgate/v1/reconciliations', ['limit'], async (c, reader, q) => {
    if (reader.kind !== 'operator') return operatorsOnly();
    const limit = q.limit === undefined ? 10 : Number(q.limit);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT)
      return invalidRequest(`limit: expected an integer from 1 to ${MAX_LIMIT}, got "${q.limit}"`, 'limit');
    const runs = await rt.ledger.reconciliations.recent(limit);
    return c.json({ object: 'list', data: runs.map((r) => runJson(r, false)) });
  });

  route('/tollgate/v1/reconciliations/:id', [], async (c, reader) => {
    if (reader.kind !== 'operator') return operatorsOnly();
    const id = c.req.param('id');
    // Runs are few: the newest hundred are where a run asked for by id is.
    const run = (await rt.ledger.reconciliations.recent(MAX_LIMIT)).find((r) => r.id === id);
    if (!run) return { kind: 'not_found', message: `No reconciliation run '${id}'.`, param: 'id', code: 'not_found' };
    return c.json(runJson(run, true));
  });
}
