import type { IncomingMessage } from 'node:http';

/**
 * What a Realtime upgrade request carries in its `Sec-WebSocket-Protocol` header. Browsers cannot
 * set headers on a WebSocket, so OpenAI's browser clients send the credential and the beta opt-in
 * as subprotocols: `realtime`, `openai-insecure-api-key.<key>`, `openai-beta.realtime-v1`, and
 * optionally `openai-organization.<id>` / `openai-project.<id>` (OpenAI Realtime guide, "Connect
 * with WebSockets"; openai-realtime-api-beta's browser client).
 */
export interface Handshake {
  /** The `Authorization` header, or `Bearer <key>` from the `openai-insecure-api-key.` subprotocol. */
  authorization: string | undefined;
  /** Subprotocols offered that may go upstream: credentials, organisation and beta opt-ins removed. */
  upstreamProtocols: string[];
  /** `realtime=v1` when the client opted in to the beta, by header or subprotocol. */
  openaiBeta: string | undefined;
}

const KEY_PROTOCOL = 'openai-insecure-api-key.';
const DROPPED = ['openai-insecure-api-key.', 'openai-organization.', 'openai-project.', 'openai-beta.'];

/** The subprotocols a request offers, in order. */
export function offeredProtocols(req: IncomingMessage): string[] {
  const raw = req.headers['sec-websocket-protocol'];
  return (raw ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

/** Reads the credential and the protocols to forward from an upgrade request. */
export function readHandshake(req: IncomingMessage): Handshake {
  const offered = offeredProtocols(req);
  const keyProtocol = offered.find((p) => p.startsWith(KEY_PROTOCOL));
  const authorization =
    req.headers.authorization ?? (keyProtocol ? `Bearer ${keyProtocol.slice(KEY_PROTOCOL.length)}` : undefined);
  const betaProtocol = offered.find((p) => p.startsWith('openai-beta.'));
  const betaHeader = req.headers['openai-beta'];
  const openaiBeta =
    (Array.isArray(betaHeader) ? betaHeader[0] : betaHeader) ??
    (betaProtocol ? betaProtocol.slice('openai-beta.'.length).replace(/-(v\d+)$/, '=$1') : undefined);
  return { authorization, upstreamProtocols: offered.filter((p) => !DROPPED.some((d) => p.startsWith(d))), openaiBeta };
}

/**
 * The subprotocol tollgate answers with: `realtime` when offered (as OpenAI does), else the first one
 * that carries no credential; false (none) when nothing else was offered. A key is never echoed.
 */
export function chooseProtocol(protocols: Set<string>): string | false {
  if (protocols.has('realtime')) return 'realtime';
  for (const p of protocols) if (!DROPPED.some((d) => p.startsWith(d))) return p;
  return false;
}
