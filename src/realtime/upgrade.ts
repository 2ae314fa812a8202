import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import WebSocket, { WebSocketServer } from 'ws';
import { authenticateBearer } from '../auth/authenticate.js';
import { invalidRequest, type Denial } from '../http/denial.js';
import { errorResponse } from '../http/openai-error.js';
import { featureOf, FEATURE_HEADER } from '../http/feature.js';
import { priceBook } from '../pricing/price.js';
import { errorCodeOfBody } from '../proxy/meter-tap.js';
import { refused } from '../proxy/refused.js';
import type { Runtime } from '../runtime.js';
import { chooseProtocol, readHandshake } from './handshake.js';
import { REALTIME_ENDPOINT, SessionLedger } from './lease.js';
import { RealtimeSession } from './session.js';

/** Largest frame accepted from either side (bytes): a 15 MiB audio append, base64-encoded, fits. */
const MAX_FRAME = 32 * 1024 * 1024;

/** The Realtime relay attached to tollgate's HTTP server. */
export interface RealtimeRelay {
  /** Closes every session (1001; cut after `graceMs`) and resolves once their rows are settled. */
  close(graceMs: number): Promise<void>;
}

/**
 * Answers WebSocket upgrades on tollgate's HTTP server: `GET /v1/realtime?model=…` (or
 * `?intent=transcription`) is authenticated like any request (the `Authorization` header, or the
 * `openai-insecure-api-key.<key>` subprotocol), admitted on its opening lease, then connected to
 * the upstream's `/v1/realtime` with tollgate's key; only then is the client's upgrade accepted.
 * Every refusal is an HTTP answer (OpenAI's error shape) before anything goes upstream. Any other
 * upgrade gets a 404.
 */
export function attachRealtime(server: Server, rt: Runtime): RealtimeRelay {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME, handleProtocols: chooseProtocol });
  const sessions = new Set<RealtimeSession>();
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
      return writeHttp(
        socket,
        errorResponse({
          kind: 'not_found',
          message: `Invalid URL (GET ${url.pathname})`,
          param: null,
          code: null,
        } satisfies Denial),
      );
    }
    const handshake = readHandshake(req);
    const principal = await authenticateBearer(rt.keys, rt.jwt, handshake.authorization, now);
    if (typeof principal === 'string')
      return writeHttp(socket, refused(rt, path, null, { kind: 'invalid_api_key', reason: principal }, started));
    const refuse = (denial: Denial) => writeHttp(socket, refused(rt, path, principal.companyId, denial, started));

    const model = url.searchParams.get('model');
    const transcriptionOnly = url.searchParams.get('intent') === 'transcription';
    if (!model && !transcriptionOnly) return refuse(invalidRequest('you must provide a model parameter', 'model'));
    if (url.searchParams.has('call_id'))
      return refuse(
        invalidRequest(
          'tollgate does not relay sideband connections to calls (call_id): the call itself was not made through tollgate, so it cannot be metered.',
          'call_id',
        ),
      );
    if (model && !priceBook(rt.config).find(model, now) && rt.config.admission.unpricedModels === 'reject') {
      return refuse({ kind: 'model_not_priced', model });
    }
    const featureHeader = req.headers[FEATURE_HEADER];
    const feature = featureOf(rt.config.features, Array.isArray(featureHeader) ? featureHeader[0] : featureHeader);
    if (feature && 'kind' in feature) return refuse(feature);

    const sessionId = `rts_${randomBytes(16).toString('hex')}`;
    const ledger = new SessionLedger(rt, { sessionId, principal, model, feature });
    const opening = await ledger.lease();
    if ('code' in opening) return refuse(opening.denial);
    rt.metrics?.admission(path, performance.now() - started);

    const upstream = connectUpstream(url, handshake.upstreamProtocols, handshake.openaiBeta);
    const clientGone = () => upstream.terminate();
    socket.once('close', clientGone);
    const elapsed = () => Math.round((performance.now() - started) * 1000) / 1000;
    let failedOnce = false;
    const failed = async (status: number | null, code: string, res: Response | undefined) => {
      if (failedOnce) return;
      failedOnce = true;
      socket.off('close', clientGone);
      upstream.terminate();
      await ledger.void(opening, status, elapsed(), code);
      rt.log.warn({ sessionId, status, code }, 'realtime upstream refused the session');
      if (res) await writeHttp(socket, res);
      else socket.destroy();
    };
    upstream.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const code = errorCodeOfBody(body) ?? `upstream_${res.statusCode}`;
        void failed(
          res.statusCode ?? 502,
          code,
          new Response(body, {
            status: res.statusCode ?? 502,
            headers: { 'content-type': String(res.headers['content-type'] ?? 'application/json') },
          }),
        );
      });
      res.on('error', () => void failed(502, 'upstream_unreachable', undefined));
    });
    upstream.once('error', (err) => {
      if (upstream.readyState === WebSocket.OPEN) return;
      const clientLeft = socket.destroyed;
      const denial: Denial = {
        kind: 'upstream_failed',
        code: 'upstream_unreachable',
        message: `the session could not be opened: ${err.message}`,
      };
      void failed(
        clientLeft ? null : 502,
        clientLeft ? 'client_disconnected' : 'upstream_unreachable',
        clientLeft ? undefined : errorResponse(denial),
      );
    });
    upstream.once('open', () => {
      socket.off('close', clientGone);
      if (socket.destroyed) {
        upstream.close(1001);
        void ledger.void(opening, null, elapsed(), 'client_disconnected');
        return;
      }
      extraHeaders.set(req, {
        'x-tollgate-session-id': sessionId,
        'x-tollgate-request-id': opening.requestId,
        ...opening.headers,
      });
      wss.handleUpgrade(req, socket, head, (client) => {
        const session = new RealtimeSession(rt, client, upstream, ledger, opening);
        sessions.add(session);
        void session.done.then(() => sessions.delete(session));
        rt.log.info(
          { sessionId, requestId: opening.requestId, model, company: principal.companyId },
          'realtime session opened',
        );
      });
    });
  }

  /** The upstream's Realtime URL (its base URL with a ws/wss scheme, `/v1/realtime`, the client's query) and a socket to it. */
  function connectUpstream(clientUrl: URL, protocols: string[], openaiBeta: string | undefined): WebSocket {
    const base = new URL(rt.config.upstream.baseUrl);
    const prefix = base.pathname.replace(/\/+$/, '').replace(/\/v1$/, '');
    const target = new URL(`${base.origin}${prefix}${REALTIME_ENDPOINT}${clientUrl.search}`);
    target.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
    const headers: Record<string, string> = { authorization: `Bearer ${rt.upstream.apiKey}` };
    if (openaiBeta) headers['openai-beta'] = openaiBeta;
    return new WebSocket(target, protocols, {
      headers,
      maxPayload: MAX_FRAME,
      handshakeTimeout: rt.config.upstream.timeouts.connectMs || undefined,
      perMessageDeflate: false,
    });
  }

  return {
    async close(graceMs) {
      await Promise.all([...sessions].map((s) => s.shutdown(graceMs)));
      wss.close();
    },
  };
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
