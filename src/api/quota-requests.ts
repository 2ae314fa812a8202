import { randomUUID } from 'node:crypto';
import type { Hono } from 'hono';
import { z } from 'zod';
import { invalidRequest } from '../http/errors.js';
import { authenticate } from '../proxy/admission.js';
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
 * Quota-increase requests (seed 001), under tollgate's own API:
 * - `POST /tollgate/v1/quota-requests` `{"justification", "window"?, "tokens"?, "usd"?}` files one for
 *   the caller (a user token, or a company key), records it and fires the admin webhook; 201 with the
 *   stored request. An admin grants it by editing the config.
 * - `GET /tollgate/v1/quota-requests` lists the caller's own requests; a company admin sees the
 *   company's. Newest first, as `{"object":"list","data":[...]}`.
 */
export function quotaRequestRoutes(app: Hono, rt: Runtime): void {
  app.post('/tollgate/v1/quota-requests', async (c) => {
    const principal = await authenticate(rt, c.req.header('authorization'), rt.clock());
    if (principal instanceof Response) return principal;
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      return invalidRequest('We could not parse the JSON body of your request.');
    }
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
    const out = { object: 'quota_request', id: row.id, created_at: row.createdAt, company_id: row.companyId, user_id: row.userId, requested, justification };
    rt.alerts.quotaIncreaseRequested(row.companyId, out);
    return c.json(out, 201);
  });

  app.get('/tollgate/v1/quota-requests', async (c) => {
    const principal = await authenticate(rt, c.req.header('authorization'), rt.clock());
    if (principal instanceof Response) return principal;
    const self = principal.userId ?? `key:${principal.keyId}`;
    const rows = await rt.ledger.quotaRequests.list(principal.companyId, principal.role === 'admin' ? undefined : self);
    return c.json({
      object: 'list',
      data: rows.map((r) => ({ object: 'quota_request', id: r.id, created_at: r.createdAt, company_id: r.companyId, user_id: r.userId, requested: r.requested, justification: r.justification })),
    });
  });
}
