import { randomUUID } from 'node:crypto';
import type { Hono } from 'hono';
import { z } from 'zod';
import type { Principal } from '../auth/principal.js';
import { invalidRequest, isDenial } from '../http/denial.js';
import type { AppEnv } from '../http/env.js';
import { errorResponse } from '../http/openai-error.js';
import { bearerAuth } from '../middleware/bearer-auth/index.js';
import type { Runtime } from '../runtime.js';

/** The body of a quota-increase request: why, and optionally which window and how much (tokens and/or USD). */
const bodySchema = z
  .object({
    justification: z.string().trim().min(1).max(2000),
    window: z.enum(['daily', 'monthly', 'hard', 'session']).optional(),
    tokens: z.number().int().positive().optional(),
    usd: z.number().positive().optional(),
  })
  .strict();

/**
 * Quota-increase requests filed by users, under tollgate's own API:
 * - `POST /tollgate/v1/quota-requests` `{"justification", "window"?, "tokens"?, "usd"?}` files one for
 *   the caller (a user token, or a company key), records it and fires the admin webhook; 201 with the
 *   stored request. An admin grants it by editing the config.
 * - `GET /tollgate/v1/quota-requests` lists the caller's own requests; a company admin sees the
 *   company's. Newest first, as `{"object":"list","data":[...]}`.
 */
export function quotaRequestRoutes(
  app: Hono<AppEnv>,
  rt: Pick<Runtime, 'keys' | 'jwt' | 'ledger' | 'alerts' | 'clock'>,
): void {
  // A GET may already be identified by the dashboard's session cookie (see app.ts); a POST never is.
  const authenticate = bearerAuth({
    credentials: rt,
    clock: () => rt.clock(),
    skip: (c) => c.get('principal') !== undefined || c.get('operator') !== undefined,
  });
  app.post('/tollgate/v1/quota-requests', authenticate, async (c) => {
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      return errorResponse(invalidRequest('We could not parse the JSON body of your request.'));
    }
    const filed = await fileQuotaRequest(rt, c.get('principal'), raw);
    return isDenial(filed) ? errorResponse(filed) : c.json(filed, 201);
  });

  app.get('/tollgate/v1/quota-requests', authenticate, async (c) => {
    // An operator has no requests of its own (it reads a company's through its admin view).
    const principal = c.get('operator') === undefined ? c.get('principal') : undefined;
    return c.json({ object: 'list', data: principal ? await listQuotaRequests(rt, principal) : [] });
  });
}

/**
 * Files a quota-increase request for `principal` from a parsed body (see `bodySchema`): stores it,
 * fires the admin webhook, and returns the stored request as the API shows it; the 400 denial for
 * a bad body.
 */
export async function fileQuotaRequest(
  rt: Pick<Runtime, 'ledger' | 'alerts' | 'clock'>,
  principal: Principal,
  raw: unknown,
) {
  const parsed = bodySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return invalidRequest(`${issue.path.join('.') || 'body'}: ${issue.message}`, issue.path.join('.') || null);
  }
  const { justification, ...requested } = parsed.data;
  const row = {
    id: `qr_${randomUUID().replaceAll('-', '')}`,
    createdAt: rt.clock().toISOString(),
    companyId: principal.companyId,
    userId: principal.userId ?? `key:${principal.keyId}`,
    requested,
    justification,
  };
  await rt.ledger.quotaRequests.add(row);
  const out = {
    object: 'quota_request',
    id: row.id,
    created_at: row.createdAt,
    company_id: row.companyId,
    user_id: row.userId,
    requested,
    justification,
  };
  rt.alerts.quotaIncreaseRequested(row.companyId, out);
  return out;
}

/** The quota-increase requests `principal` may see, newest first: its own, or its company's for an admin. */
async function listQuotaRequests(rt: Pick<Runtime, 'ledger'>, principal: Principal) {
  const self = principal.userId ?? `key:${principal.keyId}`;
  const rows = await rt.ledger.quotaRequests.list(principal.companyId, principal.role === 'admin' ? undefined : self);
  return rows.map((r) => ({
    object: 'quota_request',
    id: r.id,
    created_at: r.createdAt,
    company_id: r.companyId,
    user_id: r.userId,
    requested: r.requested,
    justification: r.justification,
  }));
}
