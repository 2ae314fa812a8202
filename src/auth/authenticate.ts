import { bearerToken, type KeyIndex } from './api-key.js';
import { JwtVerifier } from './jwt.js';
import type { AuthFailure, Principal } from './principal.js';

/**
 * Resolves an `Authorization` header to a principal: a JWT (three base64url parts) is verified as a
 * user token, anything else is looked up as a company key. Never throws.
 */
export async function authenticateBearer(
  keys: KeyIndex,
  jwt: JwtVerifier,
  authorization: string | undefined,
  now: Date,
): Promise<Principal | AuthFailure> {
  const token = bearerToken(authorization);
  if (!token) return 'missing';
  return JwtVerifier.looksLikeJwt(token) ? jwt.verify(token, now) : keys.authenticate(token, now);
}
