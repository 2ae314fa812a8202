/**
 * OpenAI's error envelope, `{"error":{"message","type","param","code"}}`, which every OpenAI SDK
 * parses. Source: openai-openapi, schema ErrorResponse.
 */
export interface OpenAiError {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

/** Builds an OpenAI-shaped JSON error response. `headers` are added to it (e.g. `x-should-retry`). */
export function errorResponse(status: number, error: OpenAiError, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ error }), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/** 401 `invalid_api_key`, as OpenAI answers a missing or wrong key. */
export function invalidApiKey(message: string): Response {
  return errorResponse(401, { message, type: 'invalid_request_error', param: null, code: 'invalid_api_key' });
}

/** 400 `invalid_request_error` naming the offending parameter. */
export function invalidRequest(message: string, param: string | null = null, code: string | null = null): Response {
  return errorResponse(400, { message, type: 'invalid_request_error', param, code });
}

/**
 * 429 `insufficient_quota` with `x-should-retry: false`: the OpenAI SDKs retry 429s unless that
 * header says not to (openai-node, `shouldRetry`), and waiting does not restore a quota.
 */
export function insufficientQuota(message: string): Response {
  return errorResponse(429, { message, type: 'insufficient_quota', param: null, code: 'insufficient_quota' }, { 'x-should-retry': 'false' });
}

/** True for the errors Node raises when a client leaves mid-request (`aborted`, `ECONNRESET`, a premature close). */
export function isClientAbort(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e.code === 'ECONNRESET' || e.code === 'ECONNABORTED' || e.code === 'ERR_STREAM_PREMATURE_CLOSE' || e.message === 'aborted';
}
