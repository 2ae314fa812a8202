import { createHash, randomBytes } from 'node:crypto';
import type { ApiKeyConfig, Config } from '../config/schema.js';
import type { AuthFailure, Principal } from './principal.js';

/** Company API keys look like `sk-tg-` followed by 43 base64url characters (256 random bits). */
export const KEY_PREFIX = 'sk-tg-';

/** Lowercase hex SHA-256 of a key, the only form in which keys are stored. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A freshly minted key: `key` is shown once; `sha256` and `prefix` go into the config. */
export interface MintedKey {
  key: string;
  sha256: string;
  prefix: string;
}

/** Mints a new random company key. */
export function mintKey(): MintedKey {
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  return { key, sha256: hashKey(key), prefix: key.slice(0, KEY_PREFIX.length + 4) };
}

/** Looks credentials up by hash in O(1); built once per config. */
export class KeyIndex {
  private readonly byHash = new Map<string, { companyId: string; key: ApiKeyConfig }>();
  private readonly byId = new Map<string, ApiKeyConfig>();

  constructor(config: Config) {
    for (const [companyId, company] of Object.entries(config.companies)) {
      for (const key of company.keys) {
        this.byHash.set(key.sha256, { companyId, key });
        this.byId.set(key.id, key);
      }
    }
  }

  /** The key's config entry (for its limits), by key id. */
  key(keyId: string): ApiKeyConfig | undefined {
    return this.byId.get(keyId);
  }

  /**
   * Resolves a bearer token to its company and key, checking the revoked flag and expiry at `now` (UTC).
   * Returns the failure reason instead of throwing.
   */
  authenticate(token: string, now: Date): Principal | AuthFailure {
    const hit = this.byHash.get(hashKey(token));
    if (!hit) return 'unknown';
    if (hit.key.revoked) return 'revoked';
    if (hit.key.expiresAt && hit.key.expiresAt <= now) return 'expired';
    return { companyId: hit.companyId, keyId: hit.key.id, userId: null, role: hit.key.role, sessionId: null };
  }
}

/** Extracts the token from `Authorization: Bearer <token>` (case-insensitive scheme). */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m?.[1]?.trim() || undefined;
}
