import type { Dispatcher } from 'undici';
import { toOpenAIError, type OpenAIError } from '../http/openai-error.js';
import type { Runtime } from '../runtime.js';

/** Error code (and row `error_code`) when the upstream refuses tollgate's own credentials. */
export const UPSTREAM_AUTH_FAILED = 'upstream_auth_failed';

/** Bytes of the upstream's refusal kept for the operator's log line. */
const LOGGED_BODY = 2048;

/**
 * True for the statuses with which an upstream refuses the key it was sent: 401 (wrong, revoked or
 * missing key) and 403 (the key's organisation or project may not do this). tollgate always sends
 * its own key, so these describe the operator's account, never the caller's.
 */
export function upstreamRefusedOurKey(status: number): boolean {
  return status === 401 || status === 403;
}

/**
 * Answers an upstream 401/403 without passing it on (its body names the operator's key and its
 * headers the operator's organisation): reads at most 2 KB of it for an error-level log line, counts
 * it (`tollgate_upstream_auth_failures_total`), records the row through `record` with code
 * `upstream_auth_failed`, and returns the caller's 502 to answer.
 */
export async function refuseUpstreamAuthFailure(
  rt: Pick<Runtime, 'metrics' | 'log'>,
  requestId: string,
  pathAndQuery: string,
  res: Dispatcher.ResponseData,
  record: (errorCode: string) => Promise<void>,
): Promise<OpenAIError> {
  let upstreamError = '';
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      if (upstreamError.length < LOGGED_BODY) upstreamError += chunk.toString('utf8');
      if (upstreamError.length >= LOGGED_BODY) break;
    }
  } catch {
    // The refusal's body is only logged.
  }
  res.body.destroy();
  await record(UPSTREAM_AUTH_FAILED);
  rt.metrics?.upstreamAuthFailed(res.statusCode);
  rt.log.error(
    { requestId, status: res.statusCode, path: pathAndQuery, upstreamError: upstreamError.slice(0, LOGGED_BODY) },
    "the upstream refused tollgate's API key: check upstream.apiKeyEnv and the key's organisation and project",
  );
  return toOpenAIError({ kind: 'upstream_auth_failed' });
}
