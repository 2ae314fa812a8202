import type { Hono } from 'hono';
import type { Principal } from '../auth/principal.js';
import type { CompanyConfig } from '../config/schema.js';
import type { UsageRow } from '../ledger/port.js';
import { invalidRequest, isDenial, type Denial } from '../http/denial.js';
import type { AppEnv } from '../http/env.js';
import { storedEndUser } from '../attribution/end-user.js';
import { endUserQuotas, quotasFor } from '../limits/quotas.js';
import { localMidnight, monthlyWindow } from '../limits/windows.js';
import { balanceReport } from '../reports/balance.js';
import { budgetReport } from '../reports/budgets.js';
import { quotaStandings } from '../reports/quotas.js';
import type { Runtime } from '../runtime.js';
import { formatMicroUsd } from '../utils/money.js';
import { permissionDenied, readerRoute, type Reader } from './read.js';

/**
 * Three more read-API endpoints under `/tollgate/v1/`, for the dashboard and for apps, with the
 * read API's authentication (a bearer credential, or the dashboard's session cookie on GET) and
 * visibility rules:
 *
 * - `GET /tollgate/v1/quotas[?user=|key=|end_user=]` — a user's, key's (its budget) or end user's
 *   quota windows: limit, spent, held, remaining, the share used against the alert thresholds, and
 *   when each resets. A member sees its own; a company admin any user, key or end user of its
 *   company; an operator names the company too.
 * - `GET /tollgate/v1/overview[?company=]` — per company: balance, spend this calendar month (in
 *   the company's time zone), open holds and the last 10 alerts. Company admins (their company)
 *   and operators (every company, or `company`); a member is refused (it would show others' spend).
 * - `GET /tollgate/v1/budgets[?company=][&end_user=]` — per company: the allocations that renew
 *   (this period's grant, what was carried over, when it renews) and every key's budget (its quota
 *   windows), with an end user's when named. Company admins and operators.
 * - `GET /tollgate/v1/purchases[?company=]` — the purchase records the company's grants name, with
 *   those grants. Like the balance: everyone sees their own company's; an operator any company's.
 */
export function standingRoutes(app: Hono<AppEnv>, rt: Runtime): void {
  const route = readerRoute(app, rt);

  route('/tollgate/v1/quotas', ['company', 'user', 'key', 'end_user'], async (c, reader, q, now) => {
    const subject = quotaSubject(rt, reader, q);
    if (isDenial(subject)) return subject;
    const who = 'endUser' in subject ? subject.principal : subject;
    const company = rt.config.companies[who.companyId]!;
    const keyLimits = who.keyId ? rt.keys.key(who.keyId)?.limits : undefined;
    const checks =
      'endUser' in subject
        ? endUserQuotas(who.companyId, company, subject.endUser, now)
        : who.userId === null && who.keyId === null
          ? []
          : quotasFor(company, who, keyLimits, now);
    const standings = await quotaStandings(rt.ledger.reader, checks, rt.config.alerts.quotaThresholds);
    const [warning, critical] = rt.config.alerts.quotaThresholds;
    return c.json({
      object: 'list',
      company_id: who.companyId,
      user_id: who.userId,
      key_id: who.userId === null ? who.keyId : null,
      end_user: 'endUser' in subject ? subject.endUser : null,
      time_zone: company.timeZone,
      thresholds: { warning, critical },
      data: standings.map((s) => ({
        object: 'tollgate.quota',
        window: s.check.window,
        window_key: s.check.windowKey,
        scope: s.check.scope,
        limit_tokens: s.check.limitTokens ?? null,
        spent_tokens: s.spentTokens,
        held_tokens: s.heldTokens,
        remaining_tokens: s.remainingTokens,
        limit_micro_usd: s.check.limitMicroUsd ?? null,
        spent_micro_usd: s.spentMicroUsd,
        held_micro_usd: s.heldMicroUsd,
        remaining_micro_usd: s.remainingMicroUsd,
        used: s.used,
        level: s.level,
        resets_at: s.check.resetsAt?.toISOString() ?? null,
      })),
    });
  });

  route('/tollgate/v1/overview', ['company'], async (c, reader, q, now) => {
    const ids = visibleCompanies(rt, reader, q, 'admin');
    if (isDenial(ids)) return ids;
    const reads = rt.ledger.reader;
    // Every read at once, and one usage report per distinct month start (companies in one time zone
    // share it), not a round trip per company after another: 20 companies took 60 reads in a row.
    const [holds, spend, balances, alerts] = await Promise.all([
      reads.openHoldsByCompany(),
      monthSpend(rt, ids, now),
      Promise.all(ids.map(async (id) => (await balanceReport(rt.ledger, now, id))[0]!)),
      Promise.all(ids.map((id) => reads.recentAlerts(id, 10))),
    ]);
    const data = ids.map((id, i) => {
      const company = rt.config.companies[id]!;
      const month = monthStart(company, now);
      const b = balances[i]!;
      const s = spend.get(id) ?? { requests: 0, totalTokens: 0, costMicroUsd: 0 };
      return {
        object: 'tollgate.company_overview',
        company_id: id,
        name: company.name,
        time_zone: company.timeZone,
        tokens: b.tokens,
        micro_usd: b.microUsd,
        usd: formatMicroUsd(b.microUsd),
        unlimited_models: b.unlimitedModels,
        active_grants: b.grants.filter((g) => g.active).length,
        month: month.key,
        month_since: month.since,
        month_requests: s.requests,
        month_tokens: s.totalTokens,
        month_cost_micro_usd: s.costMicroUsd,
        month_cost_usd: formatMicroUsd(s.costMicroUsd),
        open_holds: holds[id] ?? 0,
        alerts: alerts[i]!.map((a) => ({
          key: a.key,
          kind: a.kind,
          fired_at: a.firedAt,
          details: JSON.parse(a.payload) as unknown,
        })),
      };
    });
    return c.json({ object: 'list', data });
  });

  route('/tollgate/v1/budgets', ['company', 'end_user'], async (c, reader, q, now) => {
    const ids = visibleCompanies(rt, reader, q, 'admin');
    if (isDenial(ids)) return ids;
    const data = [];
    for (const id of ids) {
      const r = await budgetReport(rt.ledger, rt.config, id, q.end_user, now);
      data.push({
        object: 'tollgate.budgets',
        company_id: id,
        renewing: r.renewing.map((a) => ({
          allocation: a.allocation,
          every: a.every,
          grant: a.grant,
          unit: a.unit,
          amount: a.amount,
          carried: a.carried,
          spent: a.spent,
          held: a.held,
          remaining: a.remaining,
          renews_at: a.renewsAt,
        })),
        budgets: r.budgets.map((b) => ({
          subject: b.subject,
          scope: b.check.scope,
          window: b.check.window,
          window_key: b.check.windowKey,
          limit_tokens: b.check.limitTokens ?? null,
          limit_micro_usd: b.check.limitMicroUsd ?? null,
          spent_tokens: b.spentTokens,
          spent_micro_usd: b.spentMicroUsd,
          remaining_tokens: b.remainingTokens,
          remaining_micro_usd: b.remainingMicroUsd,
          used: b.used,
          level: b.level,
          resets_at: b.check.resetsAt?.toISOString() ?? null,
        })),
      });
    }
    return c.json({ object: 'list', data });
  });

  route('/tollgate/v1/purchases', ['company'], (c, reader, q) => {
    const ids = visibleCompanies(rt, reader, q, 'member');
    if (isDenial(ids)) return ids;
    const data = [];
    for (const id of ids) {
      const byPurchase = new Map<string, string[]>();
      for (const a of rt.config.companies[id]!.allocations)
        if (a.purchase) byPurchase.set(a.purchase, [...(byPurchase.get(a.purchase) ?? []), a.id]);
      for (const [pid, grants] of byPurchase) {
        const p = rt.config.purchases[pid]!;
        data.push({
          object: 'tollgate.purchase',
          id: pid,
          company_id: id,
          date: p.date,
          total_tokens: p.totalTokens,
          cost_per_token_usd: p.costPerTokenUsd,
          amount_micro_usd: Math.round(p.totalTokens * p.costPerTokenUsd * 1_000_000),
          amount_usd: formatMicroUsd(Math.round(p.totalTokens * p.costPerTokenUsd * 1_000_000)),
          provider: p.provider,
          expires_at: p.expiresAt?.toISOString() ?? null,
          notes: p.notes ?? null,
          grants,
        });
      }
    }
    data.sort((a, b) => (a.date < b.date ? 1 : a.date > b.date ? -1 : a.id < b.id ? -1 : 1));
    return c.json({ object: 'list', data });
  });
}

/**
 * Each of `ids`' usage this calendar month (in its time zone, `monthStart`) by company id: one
 * usage report grouped by company per distinct month start (one company: filtered to it).
 */
async function monthSpend(rt: Runtime, ids: string[], now: Date): Promise<Map<string, UsageRow>> {
  const bySince = new Map<string, string[]>();
  for (const id of ids) {
    const { since } = monthStart(rt.config.companies[id]!, now);
    const group = bySince.get(since);
    if (group) group.push(id);
    else bySince.set(since, [id]);
  }
  const out = new Map<string, UsageRow>();
  await Promise.all(
    [...bySince].map(async ([since, group]) => {
      const filter = group.length === 1 ? { companyId: group[0]!, since } : { since };
      for (const r of await rt.ledger.reader.usage(filter, 'company'))
        if (r.key !== null && group.includes(r.key)) out.set(r.key, r);
    }),
  );
  return out;
}

/** The calendar month containing `now` in the company's time zone: its key (`2026-11`) and first instant (UTC ISO). */
export function monthStart(company: CompanyConfig, now: Date): { key: string; since: string } {
  const { key } = monthlyWindow(now, company.timeZone);
  const [year, month] = key.split('-').map(Number) as [number, number];
  return { key, since: localMidnight({ year, month, day: 1 }, company.timeZone).toISOString() };
}

const notFound = (company: string): Denial => ({
  kind: 'not_found',
  message: `No company '${company}' in the config.`,
  param: 'company',
  code: 'not_found',
});

/** The companies a reader may read here (sorted), or the 403/404: `need` is the least role a principal must have. */
function visibleCompanies(
  rt: Runtime,
  reader: Reader,
  q: Record<string, string>,
  need: 'member' | 'admin',
): string[] | Denial {
  if (reader.kind === 'operator') {
    if (q.company === undefined) return Object.keys(rt.config.companies).sort();
    return Object.hasOwn(rt.config.companies, q.company) ? [q.company] : notFound(q.company);
  }
  const own = reader.principal.companyId;
  if (q.company !== undefined && q.company !== own)
    return permissionDenied(`You may only read company '${own}'.`, 'company');
  if (need === 'admin' && reader.principal.role !== 'admin')
    return permissionDenied("The company overview is for the company's admins.", null);
  return [own];
}

/** Whose quotas a reader asks for: itself, or (admins, operators) the user, key or end user named; or the 400/403/404. */
function quotaSubject(
  rt: Runtime,
  reader: Reader,
  q: Record<string, string>,
): Principal | { principal: Principal; endUser: string } | Denial {
  const named = ['user', 'key', 'end_user'].filter((k) => q[k] !== undefined);
  if (named.length > 1) return invalidRequest('Name one of user, key or end_user.', named[1]!);
  const as = (companyId: string): Principal | { principal: Principal; endUser: string } | Denial => {
    const subject = { companyId, userId: null, keyId: null, role: 'member' as const, sessionId: null };
    if (q.user !== undefined) return { ...subject, userId: q.user };
    if (q.key !== undefined) {
      if (!rt.config.companies[companyId]!.keys.some((k) => k.id === q.key))
        return {
          kind: 'not_found',
          message: `No key '${q.key}' in company '${companyId}'.`,
          param: 'key',
          code: 'not_found',
        };
      return { ...subject, keyId: q.key };
    }
    const company = rt.config.companies[companyId]!;
    return { principal: subject, endUser: storedEndUser(companyId, company, q.end_user!) };
  };
  if (reader.kind === 'operator') {
    if (q.company === undefined || named.length === 0)
      return invalidRequest(
        'An operator names whose quotas to read: give company and one of user, key or end_user.',
        q.company === undefined ? 'company' : 'user',
      );
    return Object.hasOwn(rt.config.companies, q.company) ? as(q.company) : notFound(q.company);
  }
  const p = reader.principal;
  if (q.company !== undefined && q.company !== p.companyId)
    return permissionDenied(`You may only read company '${p.companyId}'.`, 'company');
  if (named.length === 0 || (q.user !== undefined && q.user === p.userId) || (q.key !== undefined && q.key === p.keyId))
    return p;
  if (p.role !== 'admin')
    return permissionDenied(
      p.userId === null
        ? `This key may only read its own quotas (key '${p.keyId}').`
        : `You may only read your own quotas (user '${p.userId}').`,
      named[0]!,
    );
  return as(p.companyId);
}
