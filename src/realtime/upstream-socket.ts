import WebSocket from 'ws';
import { errorCodeOfBody } from '../proxy/meter-tap.js';
import type { Runtime } from '../runtime.js';

/** Largest frame accepted from either side (bytes): a 15 MiB audio append, base64-encoded, fits. */
export const MAX_FRAME = 32 * 1024 * 1024;

/**
 * A WebSocket to the upstream's Realtime endpoint (its base URL with a ws/wss scheme,
 * `/v1/realtime`, then `query`, e.g. `?model=…` or `?call_id=…`), authenticated with tollgate's
 * own upstream key — never the caller's credential.
 */
export function upstreamSocket(rt: Runtime, query: string, protocols: string[] = [], openaiBeta?: string): WebSocket {
  const base = new URL(rt.config.upstream.baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '').replace(/\/v1$/, '');
  const target = new URL(`${base.origin}${prefix}/v1/realtime${query}`);
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

/** How opening an upstream socket ended: open, or refused (its HTTP status and error code, and its answer to relay when it gave one). */
export type Opened =
  | { open: true }
  | { open: false; status: number | null; code: string; message: string; response?: Response };

/**
 * Resolves once `ws` is open, or with why it could not open (the upstream's HTTP answer, or the
 * connection error). Never rejects. An open socket is paused: its first frames may already be in
 * hand and would be emitted before the caller listens, so the caller resumes it once it does.
 */
export function whenOpen(ws: WebSocket): Promise<Opened> {
  return new Promise((resolve) => {
    ws.once('open', () => {
      ws.pause();
      resolve({ open: true });
    });
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 502;
        const headers = { 'content-type': String(res.headers['content-type'] ?? 'application/json') };
        const code = errorCodeOfBody(body) ?? `upstream_${status}`;
        resolve({ open: false, status, code, message: code, response: new Response(body, { status, headers }) });
      });
      res.on('error', (err) =>
        resolve({ open: false, status: 502, code: 'upstream_unreachable', message: err.message }),
      );
    });
    ws.once('error', (err) => {
      if (ws.readyState !== WebSocket.OPEN)
        resolve({ open: false, status: 502, code: 'upstream_unreachable', message: err.message });
    });
  });
}
