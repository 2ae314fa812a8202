import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { WebSocketServer } from 'ws';
import { bearerToken } from '../auth/api-key.js';
import { TAGS_HEADER, withTags } from '../attribution/tags.js';
import { authenticateBearer } from '../auth/authenticate.js';
import type { Principal } from '../auth/principal.js';
import { invalidRequest, isDenial, type Denial } from '../http/denial.js';
import { errorResponse } from '../http/openai-error.js';
import { featureOf, FEATURE_HEADER } from '../http/feature.js';
import { priceBook } from '../pricing/price.js';
import { refused } from '../proxy/refused.js';
import type { Runtime } from '../runtime.js';
import { isClientSecret, redeemClientSecret, type RedeemedSecret } from './client-secrets.js';
import { createEventId } from './events.js';
import { chooseProtocol, readHandshake } from './handshake.js';
import { REALTIME_ENDPOINT, SessionLedger } from './lease.js';
import { register, sessionsOf } from './registry.js';
import { RealtimeSession } from './session.js';
import { MAX_FRAME, upstreamSocket, whenOpen } from './upstream-socket.js';
import { attachClient, wsClientEnd } from './ws-client.js';

/** The Realtime relay attached to tollgate's HTTP server. */
export interface RealtimeRelay {
  /** Closes every session, WebSocket and WebRTC call (1001; cut after `graceMs`), and resolves once their rows are settled. */
  close(graceMs: number): Promise<void>;
}

/**
 * Answers WebSocket upgrades on tollgate's HTTP server: `GET /v1/realtime?model=…` (or
 * `?intent=transcription`) is authenticated like any request (the `Authorization` header, or the
 * `openai-insecure-api-key.<credential>` subprotocol) — a company key, a user token, or a client
 * secret tollgate minted (redeemed once; its session's model and settings apply, sent upstream as
 * the session's first `session.update`) — admitted on its opening lease, then connected to the
 * upstream's `/v1/realtime` with tollgate's key; only then is the client's upgrade accepted.
 * Every refusal is an HTTP answer (OpenAI's error shape) before anything goes upstream. Any other
 * upgrade gets a 404.
 */
export function attachRealtime(server: Server, rt: Runtime): RealtimeRelay {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME, handleProtocols: chooseProtocol });
  const extraHeaders = new WeakMap<IncomingMessage, Record<string, string>>();
  wss.on('headers', (headers, req) => {
    for (const [name, value] of Object.entries(extraHeaders.get(req) ?? {})) headers.push(`${name}: ${value}`);
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    upgrade(req, socket, head).catch((err: unknown) => {
      rt.log.error({ err }, 'realtime upgrade failed');
      void writeHttp(socket, errorResponse(err));
    });
  });

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const started = performance.now();
    const now = rt.clock();
    const url = new URL(req.url ?? '/', 'http://tollgate');
    const path = url.pathname.replace(/\/+$/, '');
    if (path !== REALTIME_ENDPOINT) {
      const denial: Denial = {
        kind: 'not_found',
        message: `Invalid URL (GET ${url.pathname})`,
        param: null,
        code: null,
      };
      return writeHttp(socket, errorResponse(denial));
    }
    const handshake = readHandshake(req);
    const token = bearerToken(handshake.authorization);
    const refuse = (denial: Denial, companyId: string | null = null) =>
      writeHttp(socket, refused(rt, path, companyId, denial, started));
    if (url.searchParams.has('call_id'))
      return refuse(
        invalidRequest(
          'tollgate does not relay sideband connections (call_id): it holds the sideband of every call made through it, to meter the call.',
          'call_id',
        ),
      );
    let principal: Principal;
    let secret: RedeemedSecret | undefined;
    if (isClientSecret(token)) {
      const redeemed = await redeemClientSecret(rt, token, now);
      if (isDenial(redeemed)) return refuse(redeemed);
      ({ principal } = redeemed);
      secret = redeemed;
    } else {
      const authenticated = await authenticateBearer(rt.keys, rt.jwt, handshake.authorization, now);
      if (typeof authenticated === 'string') return refuse({ kind: 'invalid_api_key', reason: authenticated });
      principal = authenticated;
    }
    const deny = (denial: Denial) => refuse(denial, principal.companyId);

    const asked = url.searchParams.get('model');
    const model = secret ? secret.model : asked;
    const transcriptionOnly = secret
      ? secret.type === 'transcription'
      : url.searchParams.get('intent') === 'transcription';
    if (secret && asked && asked !== secret.model)
      return deny(invalidRequest(`This client secret opens a session of '${secret.model}', not '${asked}'.`, 'model'));
    if (!model && !transcriptionOnly) return deny(invalidRequest('you must provide a model parameter', 'model'));
    if (
      model &&
      !priceBook(rt.config).find(model, now, principal.companyId) &&
      rt.config.admission.unpricedModels === 'reject'
    )
      return deny({ kind: 'model_not_priced', model });
    const featureHeader = req.headers[FEATURE_HEADER];
    const feature = featureOf(rt.config.features, Array.isArray(featureHeader) ? featureHeader[0] : featureHeader);
    if (feature && 'kind' in feature) return deny(feature);
    const tagged = withTags(principal, rt.config.companies[principal.companyId]!, req.headers[TAGS_HEADER]);
    if (isDenial(tagged)) return deny(tagged);
    principal = tagged;

    const sessionId = `rts_${randomBytes(16).toString('hex')}`;
    const ledger = new SessionLedger(rt, { sessionId, principal, model: model || null, feature });
    const opening = await ledger.lease();
    if ('code' in opening) return deny(opening.denial);
    rt.metrics?.admission(path, performance.now() - started);

    const query = !secret
      ? url.search
      : transcriptionOnly
        ? '?intent=transcription'
        : `?model=${encodeURIComponent(model!)}`;
    const upstream = upstreamSocket(rt, query, handshake.upstreamProtocols, handshake.openaiBeta);
    const clientGone = () => upstream.terminate();
    socket.once('close', clientGone);
    const opened = await whenOpen(upstream);
    socket.off('close', clientGone);
    const elapsed = Math.round((performance.now() - started) * 1000) / 1000;
    if (!opened.open) {
      upstream.terminate();
      const clientLeft = socket.destroyed;
      await ledger.void(
        opening,
        clientLeft ? null : opened.status,
        elapsed,
        clientLeft ? 'client_disconnected' : opened.code,
      );
      rt.log.warn({ sessionId, status: opened.status, code: opened.code }, 'realtime upstream refused the session');
      if (clientLeft) return;
      const denial: Denial = {
        kind: 'upstream_failed',
        code: 'upstream_unreachable',
        message: `the session could not be opened: ${opened.message}`,
      };
      return writeHttp(socket, opened.response ?? errorResponse(denial));
    }
    if (socket.destroyed) {
      upstream.close(1001);
      return ledger.void(opening, null, elapsed, 'client_disconnected');
    }
    extraHeaders.set(req, {
      'x-tollgate-session-id': sessionId,
      'x-tollgate-request-id': opening.requestId,
      ...opening.headers,
    });
    wss.handleUpgrade(req, socket, head, (client) => {
      const initial = secret ? [sessionUpdate(secret.session)] : [];
      const session = new RealtimeSession(
        rt,
        wsClientEnd(client, upstream),
        upstream,
        ledger,
        opening,
        client,
        initial,
      );
      attachClient(client, session);
      register(rt, session);
      rt.log.info(
        { sessionId, requestId: opening.requestId, model, company: principal.companyId, clientSecret: Boolean(secret) },
        'realtime session opened',
      );
    });
  }

  return {
    async close(graceMs) {
      await Promise.all([...sessionsOf(rt)].map((s) => s.shutdown(graceMs)));
      wss.close();
    },
  };
}

/** The `session.update` that applies a client secret's session settings (its model is the connection's). */
function sessionUpdate(settings: string): string {
  const { model: _, ...session } = JSON.parse(settings) as Record<string, unknown>;
  return JSON.stringify({ type: 'session.update', event_id: createEventId(), session });
}

/** Writes an HTTP response on a socket that asked to upgrade, then closes it. */
async function writeHttp(socket: Duplex, res: Response): Promise<void> {
  if (socket.destroyed) return;
  const body = Buffer.from(await res.arrayBuffer());
  const lines = [
    `HTTP/1.1 ${res.status} ${STATUS_CODES[res.status] ?? ''}`,
    'connection: close',
    `content-length: ${body.byteLength}`,
  ];
  res.headers.forEach((value, name) => {
    if (name !== 'content-length' && name !== 'connection') lines.push(`${name}: ${value}`);
  });
  socket.end(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), body]));
}
