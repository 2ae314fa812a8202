import type { Hono } from 'hono';
import type { CompanyConfig } from '../config/schema.js';
import { invalidRequest, isDenial, type Denial } from '../http/denial.js';
import type { AppContext, AppEnv } from '../http/env.js';
import { errorResponse } from '../http/openai-error.js';
import { GROUP_BYS, ReadTimeoutError, type GroupBy, type RecentRow, type RequestRow } from '../ledger/port.js';
import { authenticateBearer } from '../auth/authenticate.js';
import { operatorOf } from '../auth/operator.js';
import { bearerAuth } from '../middleware/bearer-auth/index.js';
import { operatorAuth } from '../middleware/operator-auth/index.js';
import { balanceReport, type CompanyBalance } from '../reports/balance.js';
import { exportCsvChunks, succeeded } from '../reports/export.js';
import { FILTER_PARAMS, permissionDenied, scopedFilter, type Reader } from './read-filter.js';
import { formatMicroUsd } from '../utils/money.js';
import type { Runtime } from '../runtime.js';

/**
 * tollgate's read API under `/tollgate/v1/`: balance, usage summary, recent requests, CSV export
 * and feature rates, for apps, users, company admins and operators.
 *
 * Authentication is the proxy's (a company key or a user JWT), plus operator keys from the
 * config's `operators`, which work here and on `/metrics` only. Visibility:
 *
 * | caller | sees |
 * |---|---|
 * | user token, role `member` | the rows of that user (`user_id` = its `sub`) in its company |
 * | company key, role `member` | the rows made with that key |
 * | user token with role `admin`, or a key with `role: "admin"` | the company's rows |
 * | operator key | every company's rows |
 *
 * A filter naming something outside what the caller may see (another company, another user for a
 * member, another key for a member key, a key of another company) is refused with 403
 * `permission_denied`, never silently narrowed. Everyone sees their own company's balance and the
 * feature rates. Errors are OpenAI-shaped; a report that runs past the ledger's read budget is
 * answered 503 `report_timeout` with `retry-after`.
 */

export { permissionDenied, scopedFilter, type Reader } from './read-filter.js';

const MAX_LIMIT = 1000;
/** Most groups a usage page may skip (`offset`). */
const MAX_OFFSET = 10_000_000;
/** Usage groups with one group per user or end user: answered a page at a time even without `limit`. */
const PAGED_GROUPS: readonly GroupBy[] = ['user', 'end_user'];

/** The query parameters, refusing unknown and repeated ones (a typo must not widen or change a report). */
export function queryOf(c: AppContext, allowed: readonly string[]): Record<string, string> | Denial {
  const out: Record<string, string> = {};
  for (const [name, values] of Object.entries(c.req.queries())) {
    if (!allowed.includes(name))
      return invalidRequest(`Unknown query parameter '${name}'. Allowed: ${allowed.join(', ')}.`, name);
    if (values.length !== 1)
      return invalidRequest(`Query parameter '${name}' was given ${values.length} times; give it once.`, name);
    out[name] = values[0]!;
  }
  return out;
}

function balanceJson(b: CompanyBalance, company: CompanyConfig | undefined) {
  return {
    object: 'balance',
    company_id: b.companyId,
    tokens: b.tokens,
    micro_usd: b.microUsd,
    usd: formatMicroUsd(b.microUsd),
    unlimited_models: b.unlimitedModels,
    models: b.byModel.map((s) => ({
      models: s.models,
      tokens: s.unlimited ? null : s.tokens,
      micro_usd: s.microUsd,
      usd: formatMicroUsd(s.microUsd),
      unlimited: s.unlimited,
      expires_at: s.expiresAt,
      grants: s.grantIds,
    })),
    grants: b.grants.map((g) => ({
      id: g.id,
      ...recurrenceOf(company, g.id),
      unit: g.unit,
      priority: g.priority,
      unlimited: g.unlimited,
      models: g.models,
      amount: g.unlimited ? null : g.amount,
      spent: g.spent,
      held: g.held,
      remaining: g.remaining,
      active: g.active,
      starts_at: g.startsAt,
      expires_at: g.expiresAt,
      purchase: g.purchase,
    })),
  };
}

/**
 * Which allocation of the config a grant comes from (`allocation_id`: the grant's own id, or for a
 * recurring allocation's period `<allocation>@<period>` the part before `@`), how often that
 * allocation renews (`renews`: day, week, month or null) and whether the grant holds what a period
 * carried over (`rollover`).
 */
function recurrenceOf(company: CompanyConfig | undefined, grantId: string) {
  const allocationId = grantId.split('@')[0]!;
  const every = company?.allocations.find((a) => a.id === allocationId)?.every ?? null;
  return { allocation_id: allocationId, renews: every, rollover: grantId.endsWith('.rollover') };
}

/** A recent row as the read API shows it (snake_case, USD beside micro-USD). */
function requestJson(r: RecentRow) {
  return {
    object: 'tollgate.request',
    id: r.id,
    created_at: r.createdAt,
    company_id: r.companyId,
    user_id: r.userId,
    key_id: r.keyId,
    endpoint: r.endpoint,
    model: r.requestedModel,
    returned_model: r.returnedModel,
    feature: r.feature,
    end_user: r.endUser,
    tags: r.tags,
    stream: r.stream,
    status: r.status,
    http_status: r.httpStatus,
    success: succeeded(r),
    input_tokens: r.inputTokens,
    cached_input_tokens: r.cachedInputTokens,
    output_tokens: r.outputTokens,
    reasoning_tokens: r.reasoningTokens,
    total_tokens: r.totalTokens,
    metered_tokens: r.meteredTokens,
    cost_micro_usd: r.costMicroUsd,
    cost_usd: formatMicroUsd(r.costMicroUsd),
    usage_source: r.usageSource,
    latency_ms: r.latencyMs,
    error_code: r.errorCode,
    remaining_tokens: r.remainingTokens,
  };
}

/** A read-API route's body: answers, or returns the denial to answer. */
export type ReadHandler = (
  c: AppContext,
  reader: Reader,
  q: Record<string, string>,
  now: Date,
) => Response | Denial | Promise<Response | Denial>;

/**
 * The read API's route factory: `GET path` authenticated as a reader — the dashboard's session
 * cookie when a middleware before it set the principal or operator (GET only, see app.ts), else an
 * operator key (operator-auth), else a company key or user token (bearer-auth) — with its query
 * parameters parsed (only `allowed`, each once), then `body`; a denial it returns is answered.
 */
export function readerRoute(app: Hono<AppEnv>, rt: Pick<Runtime, 'config' | 'keys' | 'jwt' | 'clock'>) {
  const clock = () => rt.clock();
  const signedIn = (c: AppContext) => c.get('operator') !== undefined || c.get('principal') !== undefined;
  const authenticate = [
    operatorAuth({ operators: () => rt.config.operators, clock, required: false, skip: signedIn }),
    bearerAuth({ credentials: rt, clock, skip: signedIn }),
  ] as const;
  return (path: string, allowed: readonly string[], body: ReadHandler) =>
    app.get(path, ...authenticate, async (c) => {
      const now = rt.clock();
      const operator = c.get('operator');
      const reader: Reader = operator
        ? { kind: 'operator', operator }
        : { kind: 'principal', principal: c.get('principal') };
      const q = queryOf(c, allowed);
      if (isDenial(q)) return errorResponse(q);
      let out: Response | Denial;
      try {
        out = await body(c, reader, q, now);
      } catch (err) {
        if (err instanceof ReadTimeoutError) return errorResponse({ kind: 'report_timeout', budgetMs: err.budgetMs });
        throw err;
      }
      return isDenial(out) ? errorResponse(out) : out;
    });
}

/**
 * The reader a bearer credential stands for (an operator key, else a company key or user token),
 * or the 401 denial: for the dashboard's sign-in, which exchanges it for a session.
 */
export async function authenticateReader(
  rt: Pick<Runtime, 'config' | 'keys' | 'jwt'>,
  authorization: string | undefined,
  now: Date,
): Promise<Reader | Denial> {
  const op = operatorOf(rt.config.operators, authorization, now);
  if (op) return 'kind' in op ? op : { kind: 'operator', operator: op };
  const principal = await authenticateBearer(rt.keys, rt.jwt, authorization, now);
  return typeof principal === 'string'
    ? { kind: 'invalid_api_key', reason: principal }
    : { kind: 'principal', principal };
}

/** Registers the read API's routes on `app`. */
export function readRoutes(app: Hono<AppEnv>, rt: Pick<Runtime, 'config' | 'keys' | 'jwt' | 'ledger' | 'clock'>): void {
  const route = readerRoute(app, rt);

  const companyBalance = async (id: string, now: Date) =>
    balanceJson((await balanceReport(rt.ledger, now, id))[0]!, rt.config.companies[id]);

  route('/tollgate/v1/balance', ['company'], async (c, reader, q, now) => {
    if (reader.kind === 'principal') {
      const own = reader.principal.companyId;
      if (q.company !== undefined && q.company !== own)
        return permissionDenied(`You may only read company '${own}'.`, 'company');
      return c.json(await companyBalance(own, now));
    }
    if (q.company !== undefined) {
      if (!Object.hasOwn(rt.config.companies, q.company))
        return {
          kind: 'not_found',
          message: `No company '${q.company}' in the config.`,
          param: 'company',
          code: 'not_found',
        };
      return c.json(await companyBalance(q.company, now));
    }
    const ids = Object.keys(rt.config.companies).sort();
    return c.json({ object: 'list', data: await Promise.all(ids.map((id) => companyBalance(id, now))) });
  });

  route('/tollgate/v1/usage', [...FILTER_PARAMS, 'group_by', 'limit', 'offset'], async (c, reader, q, now) => {
    const groupBy = (q.group_by ?? 'none') as GroupBy;
    if (!GROUP_BYS.includes(groupBy))
      return invalidRequest(`group_by: expected one of ${GROUP_BYS.join(', ')}, got "${q.group_by}"`, 'group_by');
    const top = q.limit === undefined ? undefined : Number(q.limit);
    if (top !== undefined && (!Number.isSafeInteger(top) || top < 1 || top > MAX_LIMIT))
      return invalidRequest(`limit: expected an integer from 1 to ${MAX_LIMIT}, got "${q.limit}"`, 'limit');
    const offset = q.offset === undefined ? 0 : Number(q.offset);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > MAX_OFFSET)
      return invalidRequest(`offset: expected an integer from 0 to ${MAX_OFFSET}, got "${q.offset}"`, 'offset');
    const filter = scopedFilter(rt, reader, q, now);
    if (isDenial(filter)) return filter;
    // One group more than the page, to tell whether another page follows. Groups of one per user or
    // end user come a page of MAX_LIMIT at a time even without `limit` (by key), so that a report
    // over thousands of users never answers megabytes.
    const size = top ?? (PAGED_GROUPS.includes(groupBy) ? MAX_LIMIT : undefined);
    const rows = await rt.ledger.reader.usage(filter, groupBy, top === undefined ? undefined : top + 1, {
      offset,
      ...(size === undefined ? {} : { limit: size + 1 }),
    });
    const hasMore = size !== undefined && rows.length > size;
    if (hasMore) rows.length = size;
    return c.json({
      object: 'list',
      group_by: groupBy,
      since: filter.since ?? null,
      until: filter.until ?? null,
      has_more: hasMore,
      next_offset: hasMore ? offset + rows.length : null,
      data: rows.map((r) => ({
        key: r.key,
        company_id: r.companyId,
        requests: r.requests,
        input_tokens: r.inputTokens,
        cached_input_tokens: r.cachedInputTokens,
        output_tokens: r.outputTokens,
        reasoning_tokens: r.reasoningTokens,
        total_tokens: r.totalTokens,
        cost_micro_usd: r.costMicroUsd,
        cost_usd: formatMicroUsd(r.costMicroUsd),
        errors: r.errors,
        avg_latency_ms: r.avgLatencyMs,
      })),
    });
  });

  route('/tollgate/v1/requests', [...FILTER_PARAMS, 'limit'], async (c, reader, q, now) => {
    const limit = q.limit === undefined ? 50 : Number(q.limit);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT)
      return invalidRequest(`limit: expected an integer from 1 to ${MAX_LIMIT}, got "${q.limit}"`, 'limit');
    const filter = scopedFilter(rt, reader, q, now);
    if (isDenial(filter)) return filter;
    return c.json({ object: 'list', data: (await rt.ledger.reader.recent(filter, limit, now)).map(requestJson) });
  });

  route('/tollgate/v1/export.csv', FILTER_PARAMS, async (_c, reader, q, now) => {
    const filter = scopedFilter(rt, reader, q, now);
    if (isDenial(filter)) return filter;
    return new Response(await csvStream(rt.ledger.reader.exportRows(filter)), {
      status: 200,
      headers: {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': 'attachment; filename="tollgate-usage.csv"',
      },
    });
  });

  route('/tollgate/v1/features', [], (c) => {
    const features = rt.config.features ?? {};
    return c.json({
      object: 'list',
      data: Object.entries(features)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([name, f]) => ({
          object: 'tollgate.feature',
          name,
          multiplier: f.multiplier,
          description: f.description ?? null,
        })),
    });
  });
}

/**
 * The CSV export as a byte stream read page by page as the client reads it (constant memory, the
 * ledger's read budget per page). The first page is read before answering, so a first page past the
 * budget is still a 503; a later failure cuts the stream (the client sees an incomplete transfer).
 */
async function csvStream(pages: AsyncIterable<RequestRow[]>): Promise<ReadableStream<Uint8Array>> {
  const chunks = exportCsvChunks(pages)[Symbol.asyncIterator]();
  const encoder = new TextEncoder();
  const header = await chunks.next();
  const first = await chunks.next();
  let started = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!started) {
        started = true;
        controller.enqueue(encoder.encode(header.value as string));
        if (first.done) return controller.close();
        controller.enqueue(encoder.encode(first.value));
        return;
      }
      const next = await chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(next.value));
    },
    async cancel() {
      await chunks.return?.(undefined);
    },
  });
}
