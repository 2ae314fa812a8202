import type { OperatorConfig } from '../config/schema.js';
import type { Denial } from '../http/denial.js';
import { bearerToken, hashKey } from './api-key.js';
import { JwtVerifier } from './jwt.js';

/**
 * The operator a bearer key belongs to (matched by its SHA-256 among the config's `operators`), the
 * 401 denial for a revoked or expired operator key (at `now`, UTC), or undefined when the credential
 * is not an operator key (none, a user token, or any other key).
 */
export function operatorOf(
  operators: readonly OperatorConfig[] | undefined,
  authorization: string | undefined,
  now: Date,
): OperatorConfig | Denial | undefined {
  const token = bearerToken(authorization);
  if (!token || JwtVerifier.looksLikeJwt(token)) return undefined;
  const hash = hashKey(token);
  const op = (operators ?? []).find((o) => o.sha256 === hash);
  if (!op) return undefined;
  if (op.revoked) return { kind: 'invalid_api_key', reason: 'revoked' };
  if (op.expiresAt && op.expiresAt <= now) return { kind: 'invalid_api_key', reason: 'expired' };
  return op;
}
