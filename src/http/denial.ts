import type { AuthFailure } from '../auth/principal.js';
import type { QuotaCheck } from '../ledger/port.js';

/**
 * Why tollgate answers a request itself instead of forwarding it (or could not forward it): a
 * refusal as data. Admission, the middleware and the API routes return a `Denial`; only
 * `toOpenAIError` (http/openai-error.ts) turns one into OpenAI's error shape, status and headers,
 * and metrics count it by `kind` (`refusalLabel`).
 */
export type Denial =
  /** 401: the bearer credential is missing, unknown, revoked, expired or an invalid token; `operator_required`: an endpoint that needs an operator key got another one. */
  | { kind: 'invalid_api_key'; reason: AuthFailure | 'operator_required'; message?: string }
  /** 429 `rate_limit_exceeded`: a per-minute bucket is empty. `headers` are the `x-ratelimit-*` headers of the request. */
  | {
      kind: 'rate_limited';
      type: 'requests' | 'tokens';
      limit: number;
      requested: number;
      model: string;
      retryAfterMs: number;
      headers: Record<string, string>;
    }
  /** 429 `insufficient_quota`: a quota (`quota`, with tokens `available` and `needed`) cannot cover the request's worst case. */
  | { kind: 'insufficient_quota'; by: 'quota'; quota: QuotaCheck; available: number; needed: number }
  /**
   * 429 `insufficient_quota`: the company's grants cannot cover it. `needed` and `available` are
   * tokens, or micro-USD when `costOnly` (a request priced per unit, payable by USD grants only).
   */
  | { kind: 'insufficient_quota'; by: 'balance'; model: string; needed: number; available: number; costOnly: boolean }
  /** 400 `invalid_request_error`: a bad body or query, naming the offending parameter. */
  | { kind: 'invalid_request'; message: string; param: string | null; code: string | null }
  /** 413 `request_too_large`: the body exceeds `limitBytes`. */
  | { kind: 'too_large'; limitBytes: number }
  /** 404: an unknown route (`code` null) or a named thing that does not exist (`code` `not_found`). */
  | { kind: 'not_found'; message: string; param: string | null; code: string | null }
  /** 400 `unknown_feature`: `x-tollgate-feature` names no feature of the config. */
  | { kind: 'unknown_feature'; feature: string; known: string[] }
  /** 400 `model_not_priced`: the model has no price, and unpriced models are refused. */
  | { kind: 'model_not_priced'; model: string }
  /** 403 `permission_denied`: the credential may not read what the request names. */
  | { kind: 'permission_denied'; message: string; param: string | null }
  /** 502/504: the upstream gave no response (`upstream_unreachable`, `upstream_timeout`, or the client left first). */
  | {
      kind: 'upstream_failed';
      code: 'upstream_unreachable' | 'upstream_timeout' | 'client_disconnected';
      message: string;
    }
  /** 502 `upstream_auth_failed`: the upstream refused tollgate's own key (401/403); its answer is never shown to the caller. */
  | { kind: 'upstream_auth_failed' }
  /** 405: a method the route does not serve (`allow` lists those it does). */
  | { kind: 'method_not_allowed'; message: string; allow: string }
  /** 503 `report_timeout`: a report ran past its time budget (`budgetMs`, ms); retrying later may succeed. */
  | { kind: 'report_timeout'; budgetMs: number };

/** The kinds of `Denial`. */
export type DenialKind = Denial['kind'];

/** Builds the `invalid_request` denial (400) naming `param` and, optionally, a specific `code`. */
export function invalidRequest(message: string, param: string | null = null, code: string | null = null): Denial {
  return { kind: 'invalid_request', message, param, code };
}

/** True when `x` is a `Denial` (a plain object with a known `kind`), as opposed to what a step returns on success. */
export function isDenial(x: unknown): x is Denial {
  return (
    typeof x === 'object' &&
    x !== null &&
    'kind' in x &&
    typeof (x as { kind: unknown }).kind === 'string' &&
    Object.hasOwn(REFUSAL_LABELS, (x as { kind: string }).kind)
  );
}

/**
 * The `code` label of `tollgate_refusals_total` for each kind (docs/operations.md, "Metrics"). These
 * are the label values the metric has always had: the 400s share `invalid_request`.
 */
const REFUSAL_LABELS: Record<DenialKind, string> = {
  invalid_api_key: 'invalid_api_key',
  rate_limited: 'rate_limit_exceeded',
  insufficient_quota: 'insufficient_quota',
  invalid_request: 'invalid_request',
  too_large: 'request_too_large',
  not_found: 'not_found',
  unknown_feature: 'invalid_request',
  model_not_priced: 'invalid_request',
  permission_denied: 'invalid_request',
  upstream_failed: 'upstream_failed',
  upstream_auth_failed: 'upstream_auth_failed',
  method_not_allowed: 'invalid_request',
  report_timeout: 'report_timeout',
};

/** The metric label of a denial (see `REFUSAL_LABELS`). */
export function refusalLabel(d: Denial): string {
  return REFUSAL_LABELS[d.kind];
}
