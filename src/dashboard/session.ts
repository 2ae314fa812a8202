import { randomBytes, randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import type { Config } from '../config/schema.js';

/**
 * Dashboard sessions and one-time sign-in links, as JWTs signed with HS256 (jose).
 *
 * - A session is the `tg_session` cookie (HttpOnly, SameSite=Strict, Path=/): who signed in
 *   (`SessionSubject`), a CSRF token that every dashboard form must echo, and an expiry: the
 *   config's `dashboard.sessionMinutes`, never later than the credential it was exchanged for.
 * - A sign-in link (`tollgate dashboard link`) carries a subject, a random id (`jti`) and an expiry
 *   of `dashboard.linkMinutes`; it is redeemed once: used ids are kept in memory until they expire.
 *
 * The secret is the value of the env var `dashboard.sessionSecretEnv` names; without one, a random
 * secret per process: sessions then end when tollgate restarts, are not valid on another replica,
 * and links minted by the CLI (another process) cannot be verified.
 */

/** Who a session or link signs in as: an operator, or a company principal (a user, a key, or the company as admin). */
export type SessionSubject =
  | { kind: 'operator'; operatorId: string }
  | {
      kind: 'principal';
      companyId: string;
      keyId: string | null;
      userId: string | null;
      role: 'member' | 'admin';
      sessionId: string | null;
    };

/** A verified session: its subject, CSRF token and expiry (UTC). */
export interface Session {
  subject: SessionSubject;
  csrf: string;
  expiresAt: Date;
}

/** The cookie holding the session JWT. */
export const SESSION_COOKIE = 'tg_session';
const SESSION_AUDIENCE = 'tollgate-dashboard-session';
const LINK_AUDIENCE = 'tollgate-dashboard-link';

/** The HS256 key for `config`: from `dashboard.sessionSecretEnv` when set and non-empty, else random (`ephemeral`). */
export function sessionSecret(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
): { key: Uint8Array; ephemeral: boolean } {
  const name = config.dashboard.sessionSecretEnv;
  const value = name ? env[name] : undefined;
  if (value) return { key: new TextEncoder().encode(value), ephemeral: false };
  return { key: new Uint8Array(randomBytes(32)), ephemeral: true };
}

/** Issues and verifies sessions and links with one secret. */
export class DashboardSessions {
  /** Link ids already redeemed → their expiry (ms since the epoch), pruned as they expire. */
  private readonly usedLinks = new Map<string, number>();

  constructor(
    private readonly key: Uint8Array,
    private readonly minutes: () => { session: number; link: number },
  ) {}

  /** Signs a session for `subject` at `now`, ending at `dashboard.sessionMinutes` or `notAfter`, whichever is first. */
  async issue(
    subject: SessionSubject,
    now: Date,
    notAfter: Date | null = null,
  ): Promise<{ token: string; session: Session }> {
    let exp = now.getTime() + this.minutes().session * 60_000;
    if (notAfter && notAfter.getTime() < exp) exp = notAfter.getTime();
    const csrf = randomBytes(18).toString('base64url');
    const token = await new SignJWT({ tg: subject, csrf })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience(SESSION_AUDIENCE)
      .setIssuedAt(Math.floor(now.getTime() / 1000))
      .setExpirationTime(Math.floor(exp / 1000))
      .sign(this.key);
    return { token, session: { subject, csrf, expiresAt: new Date(Math.floor(exp / 1000) * 1000) } };
  }

  /** The session a cookie value holds at `now`, or null (bad signature, expired, a link, malformed). Never throws. */
  async verify(token: string, now: Date): Promise<Session | null> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        audience: SESSION_AUDIENCE,
        currentDate: now,
        requiredClaims: ['exp'],
      });
      const subject = parseSubject(payload.tg);
      if (!subject || typeof payload.csrf !== 'string') return null;
      return { subject, csrf: payload.csrf, expiresAt: new Date(payload.exp! * 1000) };
    } catch {
      return null;
    }
  }

  /** A one-time sign-in link token for `subject`, valid `dashboard.linkMinutes` from `now`. */
  async link(subject: SessionSubject, now: Date): Promise<{ token: string; expiresAt: Date }> {
    const exp = Math.floor(now.getTime() / 1000) + this.minutes().link * 60;
    const token = await new SignJWT({ tg: subject })
      .setProtectedHeader({ alg: 'HS256' })
      .setAudience(LINK_AUDIENCE)
      .setJti(randomUUID())
      .setIssuedAt(Math.floor(now.getTime() / 1000))
      .setExpirationTime(exp)
      .sign(this.key);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /** Redeems a link once: its subject, or null when it is invalid, expired or was used before. Never throws. */
  async redeem(token: string, now: Date): Promise<SessionSubject | null> {
    for (const [id, exp] of this.usedLinks) if (exp <= now.getTime()) this.usedLinks.delete(id);
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        audience: LINK_AUDIENCE,
        currentDate: now,
        requiredClaims: ['exp', 'jti'],
      });
      const subject = parseSubject(payload.tg);
      if (!subject || this.usedLinks.has(payload.jti!)) return null;
      this.usedLinks.set(payload.jti!, payload.exp! * 1000);
      return subject;
    } catch {
      return null;
    }
  }
}

const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const strOrNull = (v: unknown): v is string | null => v === null || str(v);

/** Checks the shape of a signed subject (signed by us, but parsed defensively). */
function parseSubject(v: unknown): SessionSubject | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (o.kind === 'operator' && str(o.operatorId)) return { kind: 'operator', operatorId: o.operatorId };
  if (
    o.kind === 'principal' &&
    str(o.companyId) &&
    strOrNull(o.keyId) &&
    strOrNull(o.userId) &&
    strOrNull(o.sessionId) &&
    (o.role === 'member' || o.role === 'admin')
  ) {
    return {
      kind: 'principal',
      companyId: o.companyId,
      keyId: o.keyId,
      userId: o.userId,
      role: o.role,
      sessionId: o.sessionId,
    };
  }
  return null;
}
