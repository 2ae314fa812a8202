import { toOpenAIError, type OpenAIError } from '../http/openai-error.js';
import type { Runtime } from '../runtime.js';

/** Error code (and row `error_code`) when the upstream refuses tollgate's own credentials. */
export const UPSTREAM_AUTH_FAILED = 'upstream_auth_failed';

/** Bytes of the upstream's refusal kept for the operator's log line. */
const LOGGED_BODY = 2048;

/**
 * An upstream 401/403 to tollgate's own key, answered without passing it on (its body names the
 * operator's key and its headers the operator's organisation): the relay feeds it at most 2 KB of
 * the refusal's body (`read`), then `refuse` logs it at error level, counts it
 * (`tollgate_upstream_auth_failures_total`), records the row with code `upstream_auth_failed` and
 * returns the caller's 502.
 */
export class UpstreamAuthFailure {
  private text = '';

  /** @param status the upstream's status (401 or 403). */
  constructor(private readonly status: number) {}

  /**
   * True for the statuses with which an upstream refuses the key it was sent: 401 (wrong, revoked or
   * missing key) and 403 (the key's organisation or project may not do this). tollgate always sends
   * its own key, so these describe the operator's account, never the caller's.
   */
  static is(status: number): boolean {
    return status === 401 || status === 403;
  }

  /** Keeps a chunk of the refusal's body for the log; true once enough is kept (stop reading). */
  read(chunk: Buffer): boolean {
    if (this.text.length < LOGGED_BODY) this.text += chunk.toString('utf8');
    return this.text.length >= LOGGED_BODY;
  }

  /** Records the row through `record`, counts and logs the refusal, and returns the 502 to answer. */
  async refuse(
    rt: Pick<Runtime, 'metrics' | 'log'>,
    requestId: string,
    pathAndQuery: string,
    record: (errorCode: string) => Promise<void>,
  ): Promise<OpenAIError> {
    await record(UPSTREAM_AUTH_FAILED).catch((err: unknown) =>
      rt.log.error({ err, requestId }, 'could not record the request'),
    );
    rt.metrics?.upstreamAuthFailed(this.status);
    rt.log.error(
      { requestId, status: this.status, path: pathAndQuery, upstreamError: this.text.slice(0, LOGGED_BODY) },
      "the upstream refused tollgate's API key: check upstream.apiKeyEnv and the key's organisation and project",
    );
    return toOpenAIError({ kind: 'upstream_auth_failed' });
  }
}
