import { createRemoteJWKSet, decodeJwt, importSPKI, jwtVerify, type JWTVerifyGetKey, type CryptoKey } from 'jose';
import type { Config, JwtConfig } from '../config/schema.js';
import type { AuthFailure, Principal } from './principal.js';

/**
 * User tokens: JWTs (RFC 7519) verified with jose against the key of the company they name.
 *
 * Claims: `sub` (user id, required), `company` (the company id, required), `exp` (required),
 * `role` (`member` or `admin`, default `member`), `sid` (session id, optional), `nbf`/`iat`
 * honoured. Each company pins its algorithms: a token whose header names any other algorithm —
 * `none`, or HS256 signed with an RSA public key as the secret (key confusion) — is refused.
 */
type Key = Uint8Array | CryptoKey | JWTVerifyGetKey;

interface CompanyVerifier {
  config: JwtConfig;
  key: () => Promise<Key>;
}

/** Thrown at start when a company's JWT key cannot be loaded (missing secret env var, bad PEM). */
export class JwtKeyError extends Error {}

/** Verifies user tokens for every company with a `jwt` config. Built once per config. */
export class JwtVerifier {
  private readonly companies = new Map<string, CompanyVerifier>();

  /** @throws JwtKeyError when a company names a secret env var that is unset or empty. */
  constructor(config: Config, env: NodeJS.ProcessEnv = process.env) {
    for (const [companyId, company] of Object.entries(config.companies)) {
      const jwt = company.jwt;
      if (!jwt) continue;
      let key: () => Promise<Key>;
      if (jwt.secretEnv) {
        const secret = env[jwt.secretEnv];
        if (!secret)
          throw new JwtKeyError(
            `companies.${companyId}.jwt.secretEnv: environment variable ${jwt.secretEnv} is not set`,
          );
        const bytes = new TextEncoder().encode(secret);
        key = async () => bytes;
      } else if (jwt.publicKey) {
        const loaded = importSPKI(jwt.publicKey, jwt.algorithms[0]!);
        loaded.catch(() => undefined); // surfaced on first use as an invalid token, and by the start-up check
        key = () => loaded;
      } else {
        const jwks = createRemoteJWKSet(new URL(jwt.jwksUrl!));
        key = async () => jwks;
      }
      this.companies.set(companyId, { config: jwt, key });
    }
  }

  /** Loads every public key once, so that a bad PEM fails the start rather than the first request. */
  async check(): Promise<void> {
    for (const [companyId, v] of this.companies) {
      if (!v.config.publicKey) continue;
      await v.key().catch((err: unknown) => {
        throw new JwtKeyError(`companies.${companyId}.jwt.publicKey: ${(err as Error).message}`);
      });
    }
  }

  /** True when the credential has the shape of a JWT (three base64url parts, header first). */
  static looksLikeJwt(token: string): boolean {
    return token.startsWith('eyJ') && token.split('.').length === 3;
  }

  /** Verifies `token` at `now` (UTC) and resolves its principal, or the failure reason. Never throws. */
  async verify(token: string, now: Date): Promise<Principal | AuthFailure> {
    let company: unknown;
    try {
      company = decodeJwt(token).company;
    } catch {
      return 'invalid_token';
    }
    const verifier = typeof company === 'string' ? this.companies.get(company) : undefined;
    if (!verifier || typeof company !== 'string') return 'unknown';
    const { config } = verifier;
    try {
      const key = await verifier.key();
      const options = {
        algorithms: config.algorithms,
        issuer: config.issuer,
        audience: config.audience,
        currentDate: now,
        requiredClaims: ['exp', 'sub'],
      };
      const { payload } =
        typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options);
      const role = payload.role === undefined ? 'member' : payload.role;
      if (role !== 'member' && role !== 'admin') return 'invalid_token';
      if (typeof payload.sub !== 'string' || payload.sub.length === 0) return 'invalid_token';
      const sid = payload.sid;
      return {
        companyId: company,
        keyId: null,
        userId: payload.sub,
        role,
        sessionId: typeof sid === 'string' && sid ? sid : null,
      };
    } catch (err) {
      return (err as { code?: string }).code === 'ERR_JWT_EXPIRED' ? 'expired' : 'invalid_token';
    }
  }
}
