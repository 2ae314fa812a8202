import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import type { Principal } from '../auth/principal.js';
import type { OperatorConfig } from '../config/schema.js';
import type { Runtime } from '../runtime.js';
import { DashboardSessions, SESSION_COOKIE, sessionSecret, type Session, type SessionSubject } from './session.js';

/**
 * Who a dashboard session reads as, for the read API and the dashboard: the same two kinds of
 * reader the read API knows (an operator, or a company principal), so the same visibility rules apply.
 */
export type SessionReader =
  | { kind: 'operator'; operator: OperatorConfig }
  | { kind: 'principal'; principal: Principal };

const bySecret = new WeakMap<Runtime, DashboardSessions>();

/** The runtime's session issuer, created on first use (the secret is read then; see `sessionSecret`). */
export function sessionsOf(rt: Runtime): DashboardSessions {
  let s = bySecret.get(rt);
  if (!s) {
    const { key, ephemeral } = sessionSecret(rt.config);
    if (ephemeral) {
      rt.log.warn(
        { env: rt.config.dashboard.sessionSecretEnv ?? null },
        'dashboard sessions use a random per-process secret: they end at a restart, and sign-in links from `tollgate dashboard link` cannot be verified (set dashboard.sessionSecretEnv)',
      );
    }
    s = new DashboardSessions(key, () => ({
      session: rt.config.dashboard.sessionMinutes,
      link: rt.config.dashboard.linkMinutes,
    }));
    bySecret.set(rt, s);
  }
  return s;
}

/**
 * The reader a session's subject stands for in the running config at `now`, or null when its
 * credential is gone: an operator or key removed, revoked or expired since, or a company removed.
 * (A session never outlives the key or token it was exchanged for.)
 */
export function readerOfSubject(rt: Runtime, subject: SessionSubject, now: Date): SessionReader | null {
  if (subject.kind === 'operator') {
    const op = (rt.config.operators ?? []).find((o) => o.id === subject.operatorId);
    if (!op || op.revoked || (op.expiresAt && op.expiresAt <= now)) return null;
    return { kind: 'operator', operator: op };
  }
  const company = rt.config.companies[subject.companyId];
  if (!company || !Object.hasOwn(rt.config.companies, subject.companyId)) return null;
  if (subject.keyId !== null) {
    const key = company.keys.find((k) => k.id === subject.keyId);
    if (!key || key.revoked || (key.expiresAt && key.expiresAt <= now)) return null;
  }
  return {
    kind: 'principal',
    principal: {
      companyId: subject.companyId,
      keyId: subject.keyId,
      userId: subject.userId,
      role: subject.role,
      sessionId: subject.sessionId,
    },
  };
}

/** The session in the request's `tg_session` cookie and its reader, or null. Never throws. */
export async function sessionOf(
  rt: Runtime,
  c: Context,
  now: Date,
): Promise<{ session: Session; reader: SessionReader } | null> {
  const token = getCookie(c, SESSION_COOKIE);
  if (!token) return null;
  const session = await sessionsOf(rt).verify(token, now);
  if (!session) return null;
  const reader = readerOfSubject(rt, session.subject, now);
  return reader ? { session, reader } : null;
}
