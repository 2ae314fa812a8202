import WebSocket from 'ws';
import { readClientFrame } from './client-frame.js';
import { asBuffer, Pipe } from './pipe.js';
import type { ClientEnd, RealtimeSession } from './session.js';

/**
 * The client's end of a relayed WebSocket session: upstream frames go to it through a `Pipe`
 * (back-pressure: the upstream is paused while the client reads slowly), and each client frame is
 * decided (`readClientFrame`) before the session sees it.
 */
export function wsClientEnd(client: WebSocket, upstream: WebSocket): ClientEnd {
  const toClient = new Pipe(upstream, client);
  return {
    send: (data, isBinary) => toClient.send(data, isBinary),
    close: (code, reason) => client.close(code, reason),
    terminate: () => client.terminate(),
  };
}

/** Feeds the client socket's frames and its close to `session`. */
export function attachClient(client: WebSocket, session: RealtimeSession): void {
  client.on('message', (data, isBinary) => session.fromClient(readClientFrame(asBuffer(data), isBinary)));
  client.on('close', (code, reason) => session.clientClosed(code, reason));
  client.on('error', () => client.terminate());
}
