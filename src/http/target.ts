import { invalidRequest, type Denial } from './denial.js';
import { errorResponse } from './openai-error.js';

/**
 * Strict request targets. tollgate matches, meters and forwards one path, byte for byte, so a path
 * that an upstream might read differently from tollgate (RFC 3986 §5.2.4 dot-segment removal,
 * decoding `%2F` before routing, treating `\` as `/`, collapsing `//`) is refused before anything
 * else happens — before authentication, parsing or any ledger write.
 *
 * Accepted: origin-form targets (RFC 9112 §3.2.1) whose path is made of non-empty segments of
 * RFC 3986 `pchar`s without percent-encoding (OpenAI's paths, ids and model names need none:
 * letters, digits, `-._~!$&'()*+,;=:@`), none of them `.` or `..`. The query is kept as sent.
 * Refused: absolute-form (`http://host/v1/...`), authority- and asterisk-form, dot segments,
 * any `%` (so no encoded slash, backslash, dot or NUL), backslashes, empty segments (`//`, a
 * trailing `/`) and anything else outside `pchar`.
 */
export interface Target {
  /** The path exactly as received (`/v1/files/file-abc`): what is matched, metered and forwarded. */
  path: string;
  /** The query as received without its `?` ('' when none). */
  query: string;
}

const SEGMENT = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]+$/;
const QUERY = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%[\]]*$/;

/** A path of non-empty `pchar` segments (dot segments are checked apart): what nearly every request has. */
const PATH = /^(?:\/[A-Za-z0-9\-._~!$&'()*+,;=:@]+)+$/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;

/** Parses a raw request target (Node's `incoming.url`); returns the `Target`, or why it is refused. */
export function parseTarget(raw: string): Target | { refused: string } {
  if (!raw.startsWith('/')) return { refused: 'only origin-form request targets (starting with "/") are accepted' };
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = q < 0 ? '' : raw.slice(q + 1);
  if (path === '/') return QUERY.test(query) ? { path, query } : queryRefused;
  // One pass for a well-formed path; segment by segment only to say what is wrong with another.
  if (PATH.test(path) && !DOT_SEGMENT.test(path)) return QUERY.test(query) ? { path, query } : queryRefused;
  const segments = path.slice(1).split('/');
  for (const s of segments) {
    if (s === '') return { refused: 'empty path segments ("//" or a trailing "/") are not accepted' };
    if (s === '.' || s === '..') return { refused: 'dot segments ("." and "..") are not accepted' };
    if (!SEGMENT.test(s))
      return {
        refused:
          "the path may contain only letters, digits and -._~!$&'()*+,;=:@ (no percent-encoding, backslashes or spaces)",
      };
  }
  return QUERY.test(query) ? { path, query } : queryRefused;
}

const queryRefused = { refused: 'the query string contains characters that must be percent-encoded' };

/** The 400 denial for a refused target (code `invalid_request_target`). */
export function targetRefused(reason: string): Denial {
  return invalidRequest(`Invalid request target: ${reason}.`, null, 'invalid_request_target');
}

/**
 * Query parameters that carry a credential in some clients (`?api_key=`, Google-style `?key=`,
 * OAuth's `access_token`). Never forwarded upstream; matched case-insensitively after decoding.
 */
const CREDENTIAL_PARAMS = new Set(['api_key', 'api-key', 'apikey', 'key', 'access_token', 'token', 'openai_api_key']);

/**
 * The query to forward: `query` with every credential parameter removed and every other parameter
 * kept byte for byte, in order. Returns '' when nothing is left.
 */
export function forwardableQuery(query: string): string {
  if (query === '') return '';
  return query
    .split('&')
    .filter((pair) => {
      const name = pair.split('=', 1)[0]!;
      let decoded: string;
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        decoded = name;
      }
      return !CREDENTIAL_PARAMS.has(decoded.trim().toLowerCase());
    })
    .join('&');
}

/** `path` plus the forwardable part of `query`: what tollgate sends upstream. */
export function forwardTarget(t: Target): string {
  const q = forwardableQuery(t.query);
  return q ? `${t.path}?${q}` : t.path;
}

/**
 * Hono middleware refusing every request whose raw target (Node's `incoming.url`) `parseTarget`
 * refuses, with the OpenAI-shaped 400, before any route (and so before authentication) runs.
 */
export function strictTargets(): (
  c: { env: unknown; req: { url: string } },
  next: () => Promise<void>,
) => Promise<Response | void> {
  return async (c, next) => {
    const parsed = parseTarget(rawTarget(c));
    if ('refused' in parsed) return errorResponse(targetRefused(parsed.refused));
    await next();
  };
}

/** The request target as the client sent it: Node's `incoming.url`, or the URL's path and query without a Node request. */
export function rawTarget(c: { env: unknown; req: { url: string } }): string {
  const incoming = (c.env as { incoming?: { url?: string } } | undefined)?.incoming;
  if (incoming?.url !== undefined) return incoming.url;
  const u = new URL(c.req.url);
  return u.pathname + u.search;
}
