import type { Dispatcher } from 'undici';
import type { Denial } from '../http/denial.js';
import type { UpstreamAbort } from './abort.js';
import type { Upstream, UpstreamRequest } from './upstream.js';

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
 * The send pass: one request upstream. Resolves to the upstream's response, or to the failure when
 * none came (unreachable, timed out, or the client left and `signal` aborted it). Never throws.
 */
export async function send(
  upstream: Pick<Upstream, 'request'>,
  req: UpstreamRequest,
  signal: AbortSignal | UpstreamAbort,
): Promise<{ res: Dispatcher.ResponseData } | SendFailure> {
  try {
    return { res: await upstream.request(req, signal) };
  } catch (err) {
    const code = signal.aborted ? 'client_disconnected' : (timeoutCode(err) ?? 'upstream_unreachable');
    const status = code === 'upstream_timeout' ? 504 : 502;
    return {
      denial: { kind: 'upstream_failed', code, message: (err as Error).message },
      httpStatus: signal.aborted ? 0 : status,
    };
  }
}
