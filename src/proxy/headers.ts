import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1 and RFC 9112): they describe one connection and are never
 * forwarded, nor is any header the `Connection` header names.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Request headers tollgate never forwards: the caller's credentials wherever a client may put them
 * (`Authorization`, Azure's `api-key`, Anthropic-style `x-api-key`, `openai-api-key`, Google-style
 * `x-goog-api-key`; replaced by the upstream key), the upstream's own organisation and project
 * selectors (the upstream key decides those), cookies, tollgate's own headers, the caller's
 * `x-client-request-id` (tollgate sends its request id instead), and framing headers the HTTP
 * client sets itself (`host`, `content-length`).
 */
const REQUEST_DROP = new Set([
  'authorization',
  'api-key',
  'x-api-key',
  'openai-api-key',
  'x-goog-api-key',
  'openai-organization',
  'openai-project',
  'cookie',
  'host',
  'content-length',
  'expect',
  'x-tollgate-feature',
  'x-client-request-id',
]);

/** Response headers that describe the operator's upstream account; never shown to callers. */
const RESPONSE_DROP = new Set(['openai-organization', 'openai-project', 'set-cookie']);

/** The header names a `Connection` header lists (lower-cased); the same empty set when it lists none (most requests). */
function connectionListed(value: string | string[] | undefined): ReadonlySet<string> {
  const v = Array.isArray(value) ? value.join(',') : (value ?? '');
  if (!v || v.toLowerCase() === 'keep-alive') return NONE_LISTED;
  return new Set(
    v
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
}
const NONE_LISTED: ReadonlySet<string> = new Set();

/**
 * Headers for the upstream request: the client's (Node's lower-cased `IncomingHttpHeaders`), less
 * hop-by-hop and dropped ones, with `authorization: Bearer <upstreamKey>`. When tollgate must read
 * a streamed body as text it asks for `accept-encoding: identity`; otherwise the client's
 * `accept-encoding` passes through and the body comes back byte-for-byte as the upstream encoded it.
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  upstreamKey: string,
  identity: boolean,
): Record<string, string> {
  const listed = connectionListed(incoming.connection);
  const out: Record<string, string> = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined || HOP_BY_HOP.has(name) || REQUEST_DROP.has(name) || listed.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  out.authorization = `Bearer ${upstreamKey}`;
  if (identity) out['accept-encoding'] = 'identity';
  return out;
}

/**
 * Headers for the client's response: the upstream's, less hop-by-hop ones and those naming the
 * operator's account (`openai-organization`, `openai-project`, cookies). When tollgate rewrites
 * the body (dropping a usage chunk) `content-length` no longer holds and is dropped too; Node then
 * frames the response with chunked transfer encoding.
 */
export function clientResponseHeaders(upstream: IncomingHttpHeaders, bodyRewritten: boolean): OutgoingHttpHeaders {
  const listed = connectionListed(upstream.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || HOP_BY_HOP.has(name) || RESPONSE_DROP.has(name) || listed.has(name)) continue;
    if (bodyRewritten && name === 'content-length') continue;
    out[name] = value;
  }
  return out;
}

/**
 * The request-headers pass: the headers sent upstream for `admitted` (see `upstreamRequestHeaders`;
 * identity encoding for a stream). OpenAI records `X-Client-Request-Id` with the request
 * (openai-openapi, "Debugging requests"): the ledger row and the upstream's logs then share an id,
 * unless the client sent its own. An upload streamed through keeps the client's `content-length`.
 */
export function requestHeadersFor(
  incoming: IncomingHttpHeaders,
  upstreamKey: string,
  admitted: { requestId: string; stream: boolean; streamsBody: boolean },
): Record<string, string> {
  const headers = upstreamRequestHeaders(incoming, upstreamKey, admitted.stream);
  headers['x-client-request-id'] ??= admitted.requestId;
  const length = incoming['content-length'];
  if (admitted.streamsBody && length) headers['content-length'] = length;
  return headers;
}

/** A response header's first value. */
export const firstHeader = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * The response-headers pass: the client's response headers (see `clientResponseHeaders`) with
 * `x-tollgate-request-id` and admission's own headers (rate limits, standing), and whether the
 * response is an SSE stream.
 */
export function responseHeadersFor(
  upstream: IncomingHttpHeaders,
  admitted: { requestId: string; hideUsage: boolean; headers: Record<string, string> },
): { headers: OutgoingHttpHeaders; isSse: boolean; hideUsage: boolean } {
  const isSse = (firstHeader(upstream, 'content-type') ?? '').startsWith('text/event-stream');
  const hideUsage = isSse && admitted.hideUsage;
  const headers = clientResponseHeaders(upstream, hideUsage);
  headers['x-tollgate-request-id'] = admitted.requestId;
  Object.assign(headers, admitted.headers);
  return { headers, isSse, hideUsage };
}
