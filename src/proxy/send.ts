import type { Denial } from '../http/denial.js';

/** `upstream_timeout` for undici's connect, headers (first byte) and body (idle) timeouts. */
export function timeoutCode(err: unknown): 'upstream_timeout' | undefined {
  const code = (err as { code?: string }).code;
  return code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT'
    ? 'upstream_timeout'
    : undefined;
}

/** Why the upstream gave no response: the denial to answer, and the HTTP status to record (0: the client left first). */
export interface SendFailure {
  denial: Extract<Denial, { kind: 'upstream_failed' }>;
  httpStatus: number;
}

/**
 * The failure of a request the upstream never answered: `err` is undici's error (unreachable,
 * timed out, or aborted); `clientLeft` says the client left first, which aborted it.
 */
export function sendFailure(err: unknown, clientLeft: boolean): SendFailure {
  const code = clientLeft ? 'client_disconnected' : (timeoutCode(err) ?? 'upstream_unreachable');
  const status = code === 'upstream_timeout' ? 504 : 502;
  return {
    denial: { kind: 'upstream_failed', code, message: (err as Error).message },
    httpStatus: clientLeft ? 0 : status,
  };
}
