import type { AuthFailure } from '../auth/principal.js';
import type { QuotaCheck } from '../ledger/port.js';
import { isLedgerUnavailable, type LedgerUnavailableError } from '../ledger/unavailable.js';
import { formatMicroUsd } from '../utils/money.js';
import type { Denial } from './denial.js';

/**
 * OpenAI's error object, sent as `{"error":{"message","type","param","code"}}`, which every OpenAI
 * SDK parses. Source: openai-openapi, schema ErrorResponse.
 */
export interface OpenAIErrorBody {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

/**
 * An error as tollgate answers it: HTTP `status`, OpenAI's error `body`, and extra response
 * `headers` (`x-should-retry`, `retry-after-ms`, `retry-after`, `x-ratelimit-*`). Built by
 * `toOpenAIError` from a `Denial` or any thrown error; sent by `errorResponse`.
 */
export class OpenAIError extends Error {
  constructor(
    readonly status: number,
    readonly body: OpenAIErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
    this.name = 'OpenAIError';
  }

  /** The JSON response: `{"error": body}` with `status`, `content-type: application/json` and `headers`. */
  toResponse(): Response {
    return new Response(JSON.stringify({ error: this.body }), {
      status: this.status,
      headers: { 'content-type': 'application/json', ...this.headers },
    });
  }
}

const AUTH_MESSAGES: Record<AuthFailure | 'operator_required', string> = {
  missing:
    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
  unknown: 'Incorrect API key provided. Ask your tollgate administrator for a valid key.',
  revoked: 'This API key has been revoked. Ask your tollgate administrator for a new key.',
  expired: 'This credential has expired. Ask your tollgate administrator for a new one.',
  invalid_token: 'Invalid user token: its signature, algorithm, claims or validity period were refused.',
  operator_required: '/metrics requires an operator key (metrics.requireAuth is set).',
};

const usd = (micro: number) => `$${formatMicroUsd(micro)}`;

function quotaMessage(q: QuotaCheck, availableTokens: number, needed: number): string {
  const named = q.scopeId.slice(q.scopeId.indexOf('/') + 1);
  const who = q.scope === 'user' ? `user ${named}` : q.scope === 'end_user' ? `end user ${named}` : `key ${q.scopeId}`;
  const limit = [
    q.limitTokens !== undefined ? `${q.limitTokens} tokens` : '',
    q.limitMicroUsd !== undefined ? usd(q.limitMicroUsd) : '',
  ]
    .filter(Boolean)
    .join(' and ');
  const when = q.resetsAt
    ? `It resets at ${q.resetsAt.toISOString()}.`
    : q.window === 'session'
      ? 'It lasts for the session; start a new session or ask your administrator.'
      : 'It does not reset; ask your administrator to raise it.';
  return `You exceeded your ${q.window} quota of ${limit} for ${who}: this request needs up to ${needed} tokens and ${availableTokens} are left. ${when}`;
}

/**
 * `x-should-retry: false` on `insufficient_quota`: the OpenAI SDKs retry 429s unless that header
 * says not to (openai-node, `shouldRetry`), and waiting does not restore a quota.
 */
const NO_RETRY = { 'x-should-retry': 'false' };

const invalid = (status: number, message: string, param: string | null, code: string | null) =>
  new OpenAIError(status, { message, type: 'invalid_request_error', param, code });

/** The one mapping from a denial to OpenAI's error: status, body (messages as OpenAI words them where it has one) and headers. */
function fromDenial(d: Denial): OpenAIError {
  switch (d.kind) {
    case 'invalid_api_key':
      return invalid(401, d.message ?? AUTH_MESSAGES[d.reason], null, 'invalid_api_key');
    case 'rate_limited': {
      const unit = d.type === 'requests' ? 'requests per min (RPM)' : 'tokens per min (TPM)';
      const message = `Rate limit reached for ${d.model} on ${unit}: Limit ${d.limit}, Requested ${d.requested}. Please try again in ${(d.retryAfterMs / 1000).toFixed(3)}s.`;
      return new OpenAIError(
        429,
        { message, type: d.type, param: null, code: 'rate_limit_exceeded' },
        {
          ...d.headers,
          'retry-after-ms': String(d.retryAfterMs),
          'retry-after': String(Math.ceil(d.retryAfterMs / 1000)),
        },
      );
    }
    case 'insufficient_quota': {
      let message: string;
      if (d.by === 'quota') message = quotaMessage(d.quota, d.available, d.needed);
      else {
        const what = d.costOnly
          ? `${usd(d.needed)} (priced per unit, so only USD grants can pay for it)`
          : `${d.needed} tokens`;
        const left = d.costOnly ? usd(d.available) : `${d.available}`;
        message = `You exceeded your current quota: this request needs up to ${what} and your company has ${left} left for ${d.model}. Ask your tollgate administrator for a larger allocation.`;
      }
      return new OpenAIError(
        429,
        { message, type: 'insufficient_quota', param: null, code: 'insufficient_quota' },
        NO_RETRY,
      );
    }
    case 'invalid_request':
      return invalid(400, d.message, d.param, d.code);
    case 'too_large':
      return invalid(413, `Request body too large: the limit is ${d.limitBytes} bytes.`, null, 'request_too_large');
    case 'not_found':
      return invalid(404, d.message, d.param, d.code);
    case 'unknown_feature':
      return invalid(
        400,
        `Unknown feature '${d.feature}' in x-tollgate-feature. Known features: ${d.known.join(', ') || 'none'}.`,
        'x-tollgate-feature',
        'unknown_feature',
      );
    case 'model_not_priced':
      return invalid(
        400,
        `The model '${d.model}' has no price in tollgate's price table or config, so it cannot be metered. Ask your tollgate administrator to add it under "prices".`,
        'model',
        'model_not_priced',
      );
    case 'permission_denied':
      return invalid(403, d.message, d.param, 'permission_denied');
    case 'upstream_failed':
      return new OpenAIError(d.code === 'upstream_timeout' ? 504 : 502, {
        message: `tollgate could not get a response from the upstream API: ${d.message}`,
        type: 'api_error',
        param: null,
        code: d.code,
      });
    case 'upstream_auth_failed':
      return new OpenAIError(502, {
        message: "tollgate's upstream credentials were refused; the operator has been told.",
        type: 'api_error',
        param: null,
        code: 'upstream_auth_failed',
      });
    case 'method_not_allowed':
      return new OpenAIError(
        405,
        { message: d.message, type: 'invalid_request_error', param: null, code: 'method_not_allowed' },
        { allow: d.allow },
      );
    case 'report_timeout':
      return new OpenAIError(
        503,
        {
          message: `The report did not finish within ${d.budgetMs} ms: the ledger is busy or the report covers too much. Retry, or narrow the period or filters.`,
          type: 'server_error',
          param: null,
          code: 'report_timeout',
        },
        { 'retry-after': '1' },
      );
  }
}

/** What tollgate answers for an error it did not expect: 500 `internal_error`, without details. */
const INTERNAL = new OpenAIError(500, {
  message: 'tollgate hit an internal error; the request was not forwarded or was recorded as failed.',
  type: 'server_error',
  param: null,
  code: 'internal_error',
});

/**
 * 503 `ledger_unavailable` for a ledger that could not answer (src/ledger/unavailable.ts): a failing
 * dependency, never the client's fault. `retry-after` (seconds, RFC 9110 §10.2.3) and
 * `retry-after-ms` say when to retry; `x-should-retry: true` tells the OpenAI SDKs to.
 */
function ledgerUnavailable(err: LedgerUnavailableError): OpenAIError {
  const ms = Math.max(1, Math.round(err.retryAfterMs ?? 1_000));
  const s = Math.ceil(ms / 1000);
  return new OpenAIError(
    503,
    {
      message: `tollgate's ledger is not answering, so the request was neither forwarded nor charged. Please retry in ${s} s.`,
      type: 'server_error',
      param: null,
      code: 'ledger_unavailable',
    },
    { 'retry-after': String(s), 'retry-after-ms': String(ms), 'x-should-retry': 'true' },
  );
}

/**
 * Maps a denial, an `OpenAIError` (as is), a ledger that could not answer (503, see
 * `ledgerUnavailable`) or any other thrown value (500 `internal_error`, the details left to the
 * log) to the `OpenAIError` to answer.
 */
export function toOpenAIError(x: Denial | OpenAIError | unknown): OpenAIError {
  if (x instanceof OpenAIError) return x;
  if (isLedgerUnavailable(x)) return ledgerUnavailable(x);
  if (typeof x === 'object' && x !== null && 'kind' in x && !(x instanceof Error)) return fromDenial(x as Denial);
  return INTERNAL;
}

/** The default answer of a middleware to its denial: the error response, nothing counted or logged. */
export const answerDenial = (_c: unknown, denial: Denial): Response => errorResponse(denial);

/**
 * The HTTP response for a denial or an error (see `toOpenAIError`); `requestId` adds
 * `x-tollgate-request-id` when the request already has a ledger row.
 */
export function errorResponse(x: Denial | OpenAIError | unknown, requestId?: string): Response {
  const res = toOpenAIError(x).toResponse();
  if (requestId) res.headers.set('x-tollgate-request-id', requestId);
  return res;
}
