import { invalidRequest, isDenial, type Denial } from './denial.js';
import { jsonBodyOf, parseStrictJson, type StrictJson } from './json-strict.js';

/** A parsed JSON request body: an object, its members as sent. */
export type JsonObject = Record<string, unknown>;

/**
 * The one place a JSON request body is parsed (admission, the ownership guard, deferred creations,
 * batch input lines): the body as a JSON object, wrapped so that a body's own `kind` member is
 * never taken for a denial, or the 400 `invalid_request_error` to answer — strict JSON's refusals
 * (http/json-strict.ts: a key repeated at any depth, code `duplicate_key`; invalid UTF-8; nesting
 * past `MAX_JSON_DEPTH`, code `json_too_deep`; text that is not JSON, RFC 8259), or JSON that is
 * not an object. Every check on what a body means belongs here, so no caller parses it differently
 * from another.
 */
export function parseJsonBody(raw: Uint8Array): { json: JsonObject } | Denial {
  return jsonObjectOf(parseStrictJson(raw));
}

/** `parseJsonBody`'s answer from `parseStrictJson`'s (wherever that ran: see http/json-off-loop.ts). */
export function jsonObjectOf(strict: StrictJson): { json: JsonObject } | Denial {
  const parsed = jsonBodyOf(strict);
  if (isDenial(parsed)) return parsed;
  const value = parsed.value;
  if (!value || typeof value !== 'object' || Array.isArray(value))
    return invalidRequest('The request body must be a JSON object.');
  return { json: value as JsonObject };
}
