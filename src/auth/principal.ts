/**
 * The caller a credential resolved to. A company key gives `keyId` (and no user); a user token
 * (JWT) gives `userId` (its `sub`), its `role` and optional `sessionId` (its `sid`), and no key.
 */
export interface Principal {
  companyId: string;
  keyId: string | null;
  userId: string | null;
  role: 'member' | 'admin';
  sessionId: string | null;
  /** The caller's own `X-Client-Request-Id` on this request (≤ 512 characters), recorded on its row. */
  clientRequestId?: string | null;
  /** The spend tags of this request's `x-tollgate-tags` header (src/attribution/tags.ts), recorded on its row. */
  tags?: readonly string[];
}

/** Why a credential was refused; each becomes a 401 `invalid_api_key`. */
export type AuthFailure = 'missing' | 'unknown' | 'revoked' | 'expired' | 'invalid_token';
