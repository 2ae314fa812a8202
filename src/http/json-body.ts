import { invalidRequest, type Denial } from './denial.js';
import { jsonDepth, MAX_JSON_DEPTH } from './json-depth.js';

/** A parsed JSON request body: an object, its members as sent. */
export type JsonObject = Record<string, unknown>;

/**
 * The one place a JSON request body is parsed (admission, the ownership guard, deferred creations,
 * Realtime client secrets, batch input lines): the body as a JSON object, wrapped so that a body's
 * own `kind` member is never taken for a denial, or the 400 `invalid_request_error` to answer —
 * nesting past `MAX_JSON_DEPTH` (code `json_too_deep`), text that is not JSON (RFC 8259), or JSON
 * that is not an object. Every check on what a body means belongs here, so no caller parses it
 * differently from another.
 */
export function parseJsonBody(raw: Uint8Array): { json: JsonObject } | Denial {
  // Checked on the bytes before parsing: JSON.parse of a million levels alone holds the event loop for seconds.
  if (jsonDepth(raw) > MAX_JSON_DEPTH)
    return invalidRequest(
      `The JSON body of your request nests deeper than ${MAX_JSON_DEPTH} levels.`,
      null,
      'json_too_deep',
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
  } catch (err) {
    return invalidRequest(`We could not parse the JSON body of your request. (${(err as Error).message})`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    return invalidRequest('The request body must be a JSON object.');
  return { json: parsed as JsonObject };
}
