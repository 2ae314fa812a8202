import type { IncomingMessage } from 'node:http';
import { readBody } from '../http/body.js';
import { invalidRequest, isDenial, type Denial } from '../http/denial.js';
import { parseStrictJson } from '../http/json-strict.js';

/**
 * The body of `POST /v1/realtime/calls` (OpenAI's API reference, "Create call"):
 * `multipart/form-data` with `sdp` (the SDP offer, `application/sdp`) and an optional `session`
 * (the session configuration, JSON: the parameters of a client secret's session); or the bare
 * offer as `application/sdp` (the session then comes from the client secret that authenticates it).
 */
export interface CallOffer {
  sdp: string;
  /** The `session` part, parsed strictly (a repeated key is refused); undefined without one. */
  session?: Record<string, unknown>;
}

/** Largest offer read (bytes): an SDP offer is a few KB; a session's instructions and tools more. */
export const MAX_OFFER_BYTES = 1024 * 1024;

/** Reads the offer, or the 4xx denial: too large, another content type, no `sdp`, a `session` that is not one strict JSON object, another part. */
export async function readCallOffer(incoming: IncomingMessage, contentType: string): Promise<CallOffer | Denial> {
  const multipart = /^multipart\/form-data\b/i.test(contentType);
  if (!multipart && !/^application\/sdp\b/i.test(contentType))
    return invalidRequest(
      'Send the SDP offer as multipart/form-data (parts sdp and session) or as application/sdp.',
      null,
      'unsupported_content_type',
    );
  const raw = await readBody(incoming, MAX_OFFER_BYTES);
  if (raw === 'too_large') return { kind: 'too_large', limitBytes: MAX_OFFER_BYTES };
  if (!multipart) return offerOf(raw.toString('utf8'));
  let form: FormData;
  try {
    form = await new Response(new Uint8Array(raw) as Uint8Array<ArrayBuffer>, {
      headers: { 'content-type': contentType },
    }).formData();
  } catch {
    return invalidRequest('The multipart body could not be read.');
  }
  const names = [...new Set([...form.keys()])];
  const other = names.find((n) => n !== 'sdp' && n !== 'session');
  if (other) return invalidRequest(`Unrecognized request argument supplied: ${other}`, other);
  for (const name of names)
    if (form.getAll(name).length > 1)
      return invalidRequest(`The part '${name}' was sent more than once.`, name, 'duplicate_key');
  const sdp = form.get('sdp');
  const part = form.get('session');
  const offer = offerOf(typeof sdp === 'string' ? sdp : sdp ? await sdp.text() : '');
  if (isDenial(offer) || part === null) return offer;
  const text = typeof part === 'string' ? part : await part.text();
  const parsed = parseStrictJson(Buffer.from(text, 'utf8'));
  if ('error' in parsed) {
    const { code, message, param } = parsed.error;
    return invalidRequest(
      `The session part could not be read: ${message}`,
      param ? `session.${param}` : 'session',
      code,
    );
  }
  if (!parsed.value || typeof parsed.value !== 'object' || Array.isArray(parsed.value))
    return invalidRequest("Invalid type for 'session': expected a JSON object.", 'session');
  return { ...offer, session: parsed.value as Record<string, unknown> };
}

function offerOf(sdp: string): CallOffer | Denial {
  if (!sdp.trim().startsWith('v=')) return invalidRequest("Missing or invalid 'sdp': expected an SDP offer.", 'sdp');
  return { sdp };
}
