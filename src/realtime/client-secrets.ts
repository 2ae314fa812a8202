import { randomBytes } from 'node:crypto';
import { hashKey } from '../auth/api-key.js';
import type { Principal } from '../auth/principal.js';
import { invalidRequest, isDenial, type Denial } from '../http/denial.js';
import { parseJsonBody } from '../http/json-strict.js';
import type { ClientSecretRecord } from '../ledger/port.js';
import { modelFamily } from '../metering/model.js';
import { priceBook } from '../pricing/price.js';
import type { Runtime } from '../runtime.js';

/**
 * Realtime client secrets minted by tollgate (`POST /v1/realtime/client_secrets`, GA). A browser
 * holding an upstream secret would talk to OpenAI directly, unmetered; so where a company may have
 * them (`realtime.clientSecrets: "mint"`), tollgate issues its own: `ek_tg_` + 256 random bits,
 * stored as a SHA-256 with whom it acts for (the company, and the key or user that minted it) and
 * the session it opens, short-lived (`expires_after.seconds`, at most the admin's
 * `clientSecretMaxSeconds`) and single-use (the ledger's `clientSecrets` store). The relay accepts
 * it in place of a key — on the WebSocket (`openai-insecure-api-key.<secret>` subprotocol or the
 * `Authorization` header) and on `POST /v1/realtime/calls` — opens the session on tollgate's own
 * upstream key with the stored settings, and meters it like any other. Wire shapes: OpenAI's API
 * reference, "Create client secret" (`ClientSecretCreateParams`, `ClientSecretCreateResponse`).
 */

/** What every secret tollgate mints starts with (OpenAI's own start with `ek_`). */
export const SECRET_PREFIX = 'ek_tg_';

/** True for a bearer token that is a tollgate client secret. */
export const isClientSecret = (token: string | undefined): token is string => !!token?.startsWith(SECRET_PREFIX);

/** Largest request body read (bytes): a session's instructions and tools. */
export const MAX_SECRET_BODY = 1024 * 1024;

/** How long an expired secret's record is kept (for the operator's eyes) before it is purged (ms). */
const KEEP_EXPIRED_MS = 24 * 3600 * 1000;
/** A process purges at most this often (ms). */
const PURGE_EVERY_MS = 3600 * 1000;
let lastPurge = 0;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A minted secret's answer: OpenAI's `ClientSecretCreateResponse` (`value`, `expires_at` in Unix seconds, `session`). */
export interface MintedSecret {
  value: string;
  expires_at: number;
  session: Json;
}

/** The company's policy: whether it may mint, for how long at most (seconds), which models. */
function policyOf(rt: Runtime, companyId: string) {
  const global = rt.config.realtime;
  const own = rt.config.companies[companyId]?.realtime;
  return {
    mode: own?.clientSecrets ?? global.clientSecrets,
    maxSeconds: Math.min(own?.clientSecretMaxSeconds ?? global.clientSecretMaxSeconds, global.clientSecretMaxSeconds),
    models: own?.clientSecretModels,
  };
}

/**
 * Mints a client secret for `principal` from the request body `raw` (strict JSON:
 * `{expires_after?: {anchor?: "created_at", seconds?}, session?: {type?: "realtime" | "transcription", model?, …}}`),
 * or returns the 400 denial: secrets not enabled for the company, a bad body, a missing
 * `session.model` (a realtime session), a model outside the admin's `clientSecretModels` or
 * unpriced (under `unpricedModels: "reject"`), a lifetime outside 10 s – the admin's maximum.
 * @throws when the ledger cannot store the secret (answered as a 5xx).
 */
export async function mintClientSecret(
  rt: Runtime,
  principal: Principal,
  raw: Uint8Array,
  now: Date,
): Promise<MintedSecret | Denial> {
  const policy = policyOf(rt, principal.companyId);
  if (policy.mode !== 'mint')
    return invalidRequest(
      'Realtime client secrets are not enabled for your company on this tollgate. Open the session through tollgate with your key instead (the WebSocket at /v1/realtime; browsers pass the key as the "openai-insecure-api-key.<key>" subprotocol), or ask your administrator to enable client secrets ("realtime": {"clientSecrets": "mint"}).',
      null,
      'client_secrets_disabled',
    );
  const parsed = raw.byteLength ? parseJsonBody(raw) : { value: {} };
  if (isDenial(parsed)) return parsed;
  if (!isObject(parsed.value)) return invalidRequest('The request body must be a JSON object.');
  const body = parsed.value;
  const unknown = Object.keys(body).find((k) => k !== 'expires_after' && k !== 'session');
  if (unknown) return invalidRequest(`Unrecognized request argument supplied: ${unknown}`, unknown);
  const seconds = lifetime(body.expires_after, policy.maxSeconds);
  if (isDenial(seconds)) return seconds;
  const session = body.session === undefined ? {} : body.session;
  if (!isObject(session)) return invalidRequest("Invalid type for 'session': expected an object.", 'session');
  const type = session.type ?? 'realtime';
  if (type !== 'realtime' && type !== 'transcription')
    return invalidRequest("Invalid value for 'session.type': expected 'realtime' or 'transcription'.", 'session.type');
  const model = typeof session.model === 'string' && session.model ? session.model : null;
  if (type === 'realtime') {
    if (!model) return invalidRequest('you must provide a model parameter', 'session.model');
    if (policy.models && !policy.models.includes(model) && !policy.models.includes(modelFamily(model)))
      return invalidRequest(
        `Client secrets of your company may name only these models: ${policy.models.join(', ')}.`,
        'session.model',
        'model_not_allowed',
      );
    if (!priceBook(rt.config).find(model, now, principal.companyId) && rt.config.admission.unpricedModels === 'reject')
      return { kind: 'model_not_priced', model };
  }
  const settings = { ...session, type };
  const value = SECRET_PREFIX + randomBytes(32).toString('base64url');
  const expiresAt = new Date(Math.floor(now.getTime() / 1000) * 1000 + seconds * 1000);
  await rt.ledger.clientSecrets.add({
    hash: hashKey(value),
    companyId: principal.companyId,
    keyId: principal.keyId,
    userId: principal.userId,
    role: principal.role,
    jwtSessionId: principal.sessionId,
    model: model ?? '',
    session: JSON.stringify(settings),
    createdAt: now.toISOString(),
    expiresAt: expiresAt.toISOString(),
  });
  purgeNowAndThen(rt, now);
  rt.log.info(
    { company: principal.companyId, key: principal.keyId, user: principal.userId, model, seconds },
    'realtime client secret minted',
  );
  const object = type === 'transcription' ? 'realtime.transcription_session' : 'realtime.session';
  return { value, expires_at: expiresAt.getTime() / 1000, session: { object, ...settings } };
}

/** `expires_after.seconds` (default: OpenAI's 600 s, or less when the admin allows less), or the 400. */
function lifetime(expiresAfter: unknown, maxSeconds: number): number | Denial {
  if (expiresAfter === undefined) return Math.min(600, maxSeconds);
  if (!isObject(expiresAfter)) return invalidRequest("Invalid type for 'expires_after'.", 'expires_after');
  if (expiresAfter.anchor !== undefined && expiresAfter.anchor !== 'created_at')
    return invalidRequest("Invalid value for 'expires_after.anchor': expected 'created_at'.", 'expires_after.anchor');
  const s = expiresAfter.seconds ?? Math.min(600, maxSeconds);
  if (typeof s !== 'number' || !Number.isInteger(s) || s < 10 || s > maxSeconds)
    return invalidRequest(
      `Invalid 'expires_after.seconds': expected an integer from 10 to ${maxSeconds} (the longest this tollgate allows).`,
      'expires_after.seconds',
    );
  return s;
}

function purgeNowAndThen(rt: Runtime, now: Date): void {
  if (now.getTime() - lastPurge < PURGE_EVERY_MS) return;
  lastPurge = now.getTime();
  rt.ledger.clientSecrets
    .purge(new Date(now.getTime() - KEEP_EXPIRED_MS))
    .catch((err: unknown) => rt.log.warn({ err }, 'could not purge expired realtime client secrets'));
}

/** A redeemed secret: whom the session is for, its model (null: a transcription session) and settings. */
export interface RedeemedSecret {
  principal: Principal;
  model: string | null;
  /** The session settings (canonical JSON object text), sent upstream as `session.update`. */
  session: string;
  /** `realtime` or `transcription`. */
  type: string;
}

/**
 * Redeems a tollgate client secret, once (single-use across replicas), or returns the 401 denial:
 * unknown, used, expired, or no longer valid for its company (client secrets disabled since, the
 * minting key revoked or expired, the company removed).
 */
export async function redeemClientSecret(rt: Runtime, token: string, now: Date): Promise<RedeemedSecret | Denial> {
  const refuse = (message: string): Denial => ({ kind: 'invalid_api_key', reason: 'unknown', message });
  const secret = await rt.ledger.clientSecrets.redeem(hashKey(token), now);
  if (secret === 'unknown') return refuse('Incorrect client secret provided.');
  if (secret === 'used')
    return refuse('This client secret was already used: a tollgate client secret opens one session. Mint another.');
  if (secret === 'expired') return refuse('This client secret has expired. Mint another.');
  const denial = stillValid(rt, secret, now);
  if (denial) return denial;
  const session = JSON.parse(secret.session) as Json;
  return {
    principal: {
      companyId: secret.companyId,
      keyId: secret.keyId,
      userId: secret.userId,
      role: secret.role,
      sessionId: secret.jwtSessionId,
    },
    model: secret.model || null,
    session: secret.session,
    type: String(session.type ?? 'realtime'),
  };
}

/** The 401 for a secret whose company, key or policy changed since it was minted, else undefined. */
function stillValid(rt: Runtime, s: ClientSecretRecord, now: Date): Denial | undefined {
  const refuse = (message: string): Denial => ({ kind: 'invalid_api_key', reason: 'revoked', message });
  if (!rt.config.companies[s.companyId] || policyOf(rt, s.companyId).mode !== 'mint')
    return refuse('Client secrets are no longer enabled for the company this secret was minted for.');
  if (s.keyId) {
    const key = rt.keys.key(s.keyId);
    if (!key || key.revoked || (key.expiresAt && key.expiresAt <= now))
      return refuse('The key that minted this client secret is no longer valid.');
  }
  return undefined;
}
