import type { Principal } from '../auth/principal.js';

/** Longest caller `X-Client-Request-Id` kept (characters); OpenAI accepts up to 512. */
const MAX_LENGTH = 512;

/**
 * The principal with the caller's own `X-Client-Request-Id` attached (first value, cut to 512
 * characters), so that admission records it on the row (`client_request_id`). Upstream always gets
 * tollgate's request id in that header instead: the ledger row and the upstream's logs then share one id.
 */
export function withClientRequestId(principal: Principal, header: string | string[] | undefined): Principal {
  const value = Array.isArray(header) ? header[0] : header;
  return value ? { ...principal, clientRequestId: value.slice(0, MAX_LENGTH) } : principal;
}
