import { parseStrictJson } from '../http/json-strict.js';

/**
 * What a client frame means, decided once on the parsed event — never on how it is spelled. A
 * frame is parsed strictly (http/json-strict.ts: a key repeated at any depth, compared after
 * unescaping, or invalid UTF-8 is refused), must be a JSON object whose `type` is a string, and is
 * forwarded as the canonical serialization of what was parsed (`JSON.stringify`), never as the
 * client's bytes: `{"type":"response\u002ecreate"}` is a `response.create`, and is sent as one.
 * Event shapes: OpenAI's Realtime reference (client events; `response.create`'s
 * `response.conversation`, `"auto"` or `"none"`).
 */

type Json = Record<string, unknown>;

/** Why a frame is refused, answered with an `error` event (`invalid_request_error`) and not forwarded. */
export interface FrameRefusal {
  code: 'binary_frame' | 'duplicate_key' | 'invalid_utf8' | 'invalid_json' | 'json_too_deep' | 'invalid_event';
  message: string;
  param: string | null;
  /** The frame's `event_id`, when it could be read without ambiguity. */
  eventId: string | null;
}

/** A client event tollgate understood. */
export interface ClientEvent {
  event: Json;
  type: string;
  /** The client's `event_id` (a non-empty string), or null. */
  eventId: string | null;
  /** For a `response.create`: whether it asks for an out-of-band response (`response.conversation: "none"`). */
  create?: { outOfBand: boolean };
}

/** Largest nesting of a client event (levels): session configurations and tool schemas need a few dozen. */
const MAX_EVENT_DEPTH = 64;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Reads one client frame: the event, or why it is refused. Never throws. */
export function readClientFrame(data: Buffer, isBinary: boolean): ClientEvent | { refused: FrameRefusal } {
  if (isBinary)
    return refuse(
      'binary_frame',
      'Realtime client events are JSON text frames; binary frames are not accepted (send audio base64-encoded in input_audio_buffer.append).',
    );
  const parsed = parseStrictJson(data, MAX_EVENT_DEPTH);
  if ('error' in parsed) {
    const { code, message, param } = parsed.error;
    return refuse(code, `The event could not be read: ${message}`, param);
  }
  const event = parsed.value;
  if (!isObject(event)) return refuse('invalid_event', 'A client event must be a JSON object.');
  const eventId = typeof event.event_id === 'string' && event.event_id !== '' ? event.event_id : null;
  if (typeof event.type !== 'string')
    return refuse('invalid_event', "A client event must have a string 'type'.", 'type', eventId);
  const out: ClientEvent = { event, type: event.type, eventId };
  if (event.type === 'response.create') {
    const response = isObject(event.response) ? event.response : undefined;
    out.create = { outOfBand: response?.conversation === 'none' };
  }
  return out;
}

function refuse(
  code: FrameRefusal['code'],
  message: string,
  param: string | null = null,
  eventId: string | null = null,
): { refused: FrameRefusal } {
  return { refused: { code, message, param, eventId } };
}
