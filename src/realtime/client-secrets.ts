import type { IncomingMessage } from 'node:http';
import type { Principal } from '../auth/principal.js';
import { readBody } from '../http/body.js';
import { invalidRequest, isDenial, type Denial } from '../http/denial.js';
import { parseJsonBody } from '../http/json-body.js';
import { modelFamily } from '../metering/model.js';
import { openRow, type Admitted } from '../proxy/admission.js';
import type { Runtime } from '../runtime.js';

/**
 * Ephemeral Realtime credentials: `POST /v1/realtime/client_secrets` (GA) and the beta's
 * `POST /v1/realtime/sessions` and `/v1/realtime/transcription_sessions`. A browser holding such a
 * secret talks to OpenAI directly, so tollgate could neither meter its session nor cut it off.
 */
const EPHEMERAL = /^\/v1\/realtime\/(client_secrets|sessions|transcription_sessions)\/?$/;

/** Largest body read to find the session's model (bytes). */
const MAX_BODY = 1024 * 1024;

/** True for the requests that mint an ephemeral Realtime credential. */
export function isEphemeralSecretRequest(method: string, path: string): boolean {
  return method === 'POST' && EPHEMERAL.test(path);
}

const refusal = (message: string) => invalidRequest(message, null, 'unmeterable_session');

/**
 * Admits a request for an ephemeral Realtime credential, or returns the 400 denial
 * (`unmeterable_session`). With `realtime.clientSecrets: "refuse"` (the default) every such request
 * is refused; with `"allow_unlimited"`, one whose model (`session.model`, or the beta's `model`) an
 * active unlimited grant of the company covers is forwarded and recorded on an unbilled row.
 */
export async function admitClientSecret(
  rt: Runtime,
  principal: Principal,
  incoming: IncomingMessage,
  path: string,
  now: Date,
): Promise<Admitted | Denial> {
  const direct =
    'A browser using an ephemeral Realtime secret talks to OpenAI directly, so tollgate cannot meter that session or cut it off when the grant runs out.';
  if (rt.config.realtime.clientSecrets === 'refuse') {
    return refusal(
      `${direct} Open the session through tollgate instead: the WebSocket at /v1/realtime (browsers authenticate with the "openai-insecure-api-key.<key>" subprotocol). Your administrator can allow client secrets for companies with an unlimited grant ("realtime.clientSecrets": "allow_unlimited").`,
    );
  }
  const raw = await readBody(incoming, MAX_BODY);
  if (raw === 'too_large') return invalidRequest(`Request body too large: the limit for ${path} is ${MAX_BODY} bytes.`);
  const parsed = raw.byteLength ? parseJsonBody(raw) : { json: {} };
  if (isDenial(parsed)) return parsed;
  const body = parsed.json as { model?: unknown; session?: { model?: unknown } };
  const model =
    typeof body?.session?.model === 'string' ? body.session.model : typeof body?.model === 'string' ? body.model : null;
  if (!unlimitedFor(rt, principal.companyId, model, now)) {
    return refusal(
      `${direct} Client secrets are allowed only for a model an unlimited grant of your company covers${model ? `, and none covers '${model}'` : "; name the session's model"}.`,
    );
  }
  const admitted = await openRow(rt, principal, undefined, path, undefined, false, now);
  return { ...admitted, model, body: raw };
}

/** An active unlimited grant of the company covers `model` (by name or family). */
function unlimitedFor(rt: Runtime, companyId: string, model: string | null, now: Date): boolean {
  if (!model) return false;
  return (rt.config.companies[companyId]?.allocations ?? []).some(
    (a) =>
      a.unlimited === true &&
      (!a.startsAt || a.startsAt <= now) &&
      (!a.expiresAt || a.expiresAt > now) &&
      (!a.models || a.models.includes(model) || a.models.includes(modelFamily(model))),
  );
}
