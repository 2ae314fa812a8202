import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { bearerToken } from '../auth/api-key.js';
import { authenticateBearer } from '../auth/authenticate.js';
import { TAGS_HEADER, withTags } from '../attribution/tags.js';
import type { Principal } from '../auth/principal.js';
import { invalidRequest, isDenial, type Denial } from '../http/denial.js';
import type { AppContext } from '../http/env.js';
import { featureOf, FEATURE_HEADER } from '../http/feature.js';
import { priceBook } from '../pricing/price.js';
import { refused } from '../proxy/refused.js';
import type { Runtime } from '../runtime.js';
import { readCallOffer, type CallOffer } from './call-offer.js';
import { isClientSecret, redeemClientSecret } from './client-secrets.js';
import { SessionLedger } from './lease.js';
import { register } from './registry.js';
import { RealtimeSession, type ClientEnd } from './session.js';
import { upstreamSocket, whenOpen } from './upstream-socket.js';

/**
 * WebRTC calls (`POST /v1/realtime/calls`; OpenAI's API reference, "Create call"): the browser's
 * SDP offer — `multipart/form-data` with an `sdp` part and a `session` part (JSON), or a bare
 * `application/sdp` body when authenticated with a client secret, whose session then applies — is
 * authenticated (a tollgate key, user token or client secret), admitted on its opening lease and
 * forwarded with tollgate's key; the upstream answers `201 Created` with the SDP answer and
 * `Location: /v1/realtime/calls/{call_id}`. The call's media and data channel then flow between
 * the browser and the upstream, never through tollgate, so tollgate meters the call through a
 * sideband WebSocket it holds itself (`/v1/realtime?call_id=…`, tollgate's key), opened before the
 * answer is returned: the same leases, rows (endpoint `/v1/realtime`, `upstream_request_id` = the
 * call id) and cut-off as a relayed session — a cut-off, or a sideband tollgate loses, hangs the
 * call up (`POST /v1/realtime/calls/{call_id}/hangup`). The call belongs to the caller's company:
 * only it may hang it up through tollgate.
 */

/** The call id in the upstream's `Location` header (`/v1/realtime/calls/rtc_…`). */
function callIdOf(location: string | undefined): string | undefined {
  const m = /\/v1\/realtime\/calls\/([^/?#]+)/.exec(location ?? '');
  return m ? decodeURIComponent(m[1]!) : undefined;
}

/** Answers `POST /v1/realtime/calls` (see the module's comment). */
export async function createCall(rt: Runtime, c: AppContext, started: number, now: Date): Promise<Response> {
  const path = '/v1/realtime/calls';
  const incoming = c.env.incoming;
  const authorization = header(incoming.headers.authorization);
  const token = bearerToken(authorization);
  let companyId: string | null = null;
  const answer = (denial: Denial) => refused(rt, path, companyId, denial, started);
  // A key or token is checked first; a client secret only once the offer was read, so a malformed request does not use it up.
  let principal: Principal | undefined;
  if (!isClientSecret(token)) {
    const authenticated = await authenticateBearer(rt.keys, rt.jwt, authorization, now);
    if (typeof authenticated === 'string') return answer({ kind: 'invalid_api_key', reason: authenticated });
    principal = authenticated;
    companyId = principal.companyId;
  }
  const offer = await readCallOffer(incoming, header(incoming.headers['content-type']) ?? '');
  if (isDenial(offer)) return answer(offer);
  let session = offer.session;
  if (!principal) {
    if (session)
      return answer(
        invalidRequest('A client secret carries the session: send the SDP offer alone (application/sdp).', 'session'),
      );
    const redeemed = await redeemClientSecret(rt, token!, now);
    if (isDenial(redeemed)) return answer(redeemed);
    principal = redeemed.principal;
    companyId = principal.companyId;
    session = JSON.parse(redeemed.session) as Record<string, unknown>;
  }
  if (!session)
    return answer(
      invalidRequest(
        'Send multipart/form-data with the SDP offer (sdp) and the session (session, naming its model), or authenticate with a client secret.',
        'session',
      ),
    );
  const tagged = withTags(principal, rt.config.companies[principal.companyId]!, incoming.headers[TAGS_HEADER]);
  if (isDenial(tagged)) return answer(tagged);
  return admitAndRelay(rt, tagged, offer, session, incoming.headers[FEATURE_HEADER], answer, started);
}

async function admitAndRelay(
  rt: Runtime,
  principal: Principal,
  offer: CallOffer,
  session: Record<string, unknown>,
  featureHeader: string | string[] | undefined,
  answer: (d: Denial) => Response,
  started: number,
): Promise<Response> {
  const now = rt.clock();
  const type = session.type ?? 'realtime';
  const model = typeof session.model === 'string' && session.model ? session.model : null;
  if (type === 'realtime' && !model)
    return answer(invalidRequest('you must provide a model parameter', 'session.model'));
  if (
    model &&
    !priceBook(rt.config).find(model, now, principal.companyId) &&
    rt.config.admission.unpricedModels === 'reject'
  )
    return answer({ kind: 'model_not_priced', model });
  const feature = featureOf(rt.config.features, header(featureHeader));
  if (feature && 'kind' in feature) return answer(feature);

  const sessionId = `rts_${randomBytes(16).toString('hex')}`;
  const ledger = new SessionLedger(rt, { sessionId, principal, model, feature });
  const opening = await ledger.lease();
  if ('code' in opening) return answer(opening.denial);
  rt.metrics?.admission('/v1/realtime/calls', performance.now() - started);
  const elapsed = () => Math.round((performance.now() - started) * 1000) / 1000;

  const boundary = `tollgate-${randomBytes(12).toString('hex')}`;
  const part = (name: string, contentType: string, body: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\nContent-Type: ${contentType}\r\n\r\n${body}\r\n`;
  const body = `${part('sdp', 'application/sdp', offer.sdp)}${part('session', 'application/json', JSON.stringify({ ...session, type }))}--${boundary}--\r\n`;
  let res: Awaited<ReturnType<Runtime['upstream']['request']>>;
  try {
    res = await rt.upstream.request({
      method: 'POST',
      pathAndQuery: '/v1/realtime/calls',
      headers: {
        authorization: `Bearer ${rt.upstream.apiKey}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
      },
      body,
    });
  } catch (err) {
    await ledger.void(opening, 502, elapsed(), 'upstream_unreachable');
    return answer({
      kind: 'upstream_failed',
      code: 'upstream_unreachable',
      message: `the call could not be created: ${(err as Error).message}`,
    });
  }
  const text = await res.body.text();
  const callId = res.statusCode === 201 ? callIdOf(header(res.headers.location)) : undefined;
  if (!callId) {
    const code = res.statusCode === 201 ? 'upstream_no_call_id' : `upstream_${res.statusCode}`;
    await ledger.void(opening, res.statusCode, elapsed(), code);
    if (res.statusCode === 201)
      return answer({
        kind: 'upstream_failed',
        code: 'upstream_unreachable',
        message: 'the upstream answered the call without its id',
      });
    return new Response(text, {
      status: res.statusCode,
      headers: { 'content-type': header(res.headers['content-type']) ?? 'application/json' },
    });
  }
  ledger.upstreamSessionId = callId;
  const owner = {
    kind: 'realtime.call' as const,
    companyId: principal.companyId,
    keyId: principal.keyId,
    userId: principal.userId,
  };
  await rt.ledger.objects.record([
    { id: callId, ...owner, requestId: opening.requestId, createdAt: now.toISOString() },
  ]);

  // The sideband: without it the call would run unmetered, so a call whose sideband fails is hung up.
  const sideband = upstreamSocket(rt, `?call_id=${encodeURIComponent(callId)}`);
  const opened = await whenOpen(sideband);
  if (!opened.open) {
    sideband.terminate();
    void hangUpUpstream(rt, callId);
    await ledger.void(opening, opened.status, elapsed(), `sideband_${opened.code}`);
    return answer({
      kind: 'upstream_failed',
      code: 'upstream_unreachable',
      message: `the call could not be metered: ${opened.message}`,
    });
  }
  const session_ = new RealtimeSession(rt, callEnd(rt, callId), sideband, ledger, opening);
  register(rt, session_);
  rt.log.info(
    { sessionId, requestId: opening.requestId, callId, model, company: principal.companyId },
    'realtime call opened',
  );
  return new Response(text, {
    status: 201,
    headers: {
      'content-type': 'application/sdp',
      location: `/v1/realtime/calls/${encodeURIComponent(callId)}`,
      'x-tollgate-session-id': sessionId,
      'x-tollgate-request-id': opening.requestId,
      ...opening.headers,
    },
  });
}

/** A call's client end: tollgate cannot write to the browser's data channel; closing it hangs the call up (once). */
function callEnd(rt: Runtime, callId: string): ClientEnd {
  let done = false;
  const hangUp = () => {
    if (done) return;
    done = true;
    void hangUpUpstream(rt, callId);
  };
  return { send: () => {}, close: hangUp, terminate: hangUp };
}

/** Hangs a call up upstream (tollgate's key); a call already ended answers 404, which is fine. Never rejects. */
async function hangUpUpstream(rt: Runtime, callId: string): Promise<number | undefined> {
  try {
    const res = await rt.upstream.request({
      method: 'POST',
      pathAndQuery: `/v1/realtime/calls/${encodeURIComponent(callId)}/hangup`,
      headers: { authorization: `Bearer ${rt.upstream.apiKey}` },
    });
    await res.body.dump();
    return res.statusCode;
  } catch (err) {
    rt.log.warn({ err, callId }, 'could not hang up a realtime call');
    return undefined;
  }
}

/**
 * `POST /v1/realtime/calls/{call_id}/hangup` for the caller's company: a call another company made
 * (or one tollgate never saw) is answered 404, as OpenAI answers an unknown call.
 */
export async function hangUpCall(
  rt: Runtime,
  principal: Principal,
  callId: string,
  answer: (d: Denial) => Response,
): Promise<Response> {
  const owner = (await rt.ledger.objects.owners([callId])).get(callId);
  if (!owner || owner.kind !== 'realtime.call' || owner.companyId !== principal.companyId)
    return answer({ kind: 'not_found', message: `No such call: ${callId}`, param: 'call_id', code: null });
  const status = await hangUpUpstream(rt, callId);
  if (status === undefined)
    return answer({ kind: 'upstream_failed', code: 'upstream_unreachable', message: 'the call could not be hung up' });
  return new Response(null, { status });
}

const header = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
