import { randomBytes } from 'node:crypto';

/**
 * tollgate's own Realtime server events, in OpenAI's shape (Realtime reference, server event
 * `error`): `{type: "error", event_id, error: {type, code, message, param, event_id}}`, where
 * `error.event_id` names the client event that caused it (null when none did).
 */

/** `error.type` of each code tollgate answers with (OpenAI's: a quota is `insufficient_quota`, a rate limit `requests`). */
function errorType(code: string): string {
  if (code === 'insufficient_quota') return 'insufficient_quota';
  if (code === 'rate_limit_exceeded') return 'requests';
  return 'invalid_request_error';
}

let seq = 0;
const prefix = randomBytes(4).toString('hex');

/** A fresh server event id (`event_tg<8 hex>_<n>`), never one the upstream uses. */
export function serverEventId(): string {
  return `event_tg${prefix}_${++seq}`;
}

/** The text of an `error` server event with `code` and `message`, answering the client event `clientEventId`. */
export function errorEvent(
  code: string,
  message: string,
  clientEventId: string | null,
  param: string | null = null,
): string {
  return JSON.stringify({
    type: 'error',
    event_id: serverEventId(),
    error: { type: errorType(code), code, message, param, event_id: clientEventId },
  });
}

/**
 * An `event_id` tollgate gives a `response.create` the client sent without one (or with one
 * already pending), so the upstream's answer can always be matched to it (`evt_tg…`; OpenAI's
 * client event ids are free-form strings).
 */
export function createEventId(): string {
  return `evt_tg${randomBytes(9).toString('base64url')}`;
}
