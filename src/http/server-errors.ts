import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { getRequestListener, RequestError } from '@hono/node-server';
import type { Logger } from '../log.js';
import { invalidRequest } from './denial.js';
import { errorResponse } from './openai-error.js';

type Fetch = Parameters<typeof getRequestListener>[0];

/** Node's request listener. */
type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/** True when `url` is `prefix`, or starts with it followed by `/` or `?`. */
const under = (url: string, prefix: string) =>
  url.startsWith(prefix) && (url.length === prefix.length || url[prefix.length] === '/' || url[prefix.length] === '?');

/**
 * True for a target of the OpenAI API (`/v1`, `/v1/…`, `/v1?…`), served without the hono app —
 * but for `/v1/realtime…` over HTTP (client secrets, WebRTC calls): tollgate answers those itself
 * (realtime/routes.ts), never passes them through.
 */
export function isApiTarget(url: string | undefined): boolean {
  return url !== undefined && under(url, '/v1') && !under(url, '/v1/realtime');
}

/**
 * Node's HTTP server: the OpenAI API (`/v1`) served by `api` on Node's own request and response
 * (proxy/serve.ts), everything else (tollgate's own API, the dashboard, health and metrics) by the
 * hono app, with OpenAI-shaped errors where Node or @hono/node-server would otherwise answer an
 * empty body:
 * - a request node-server cannot turn into a fetch `Request` (a GET or HEAD with a body, an unknown
 *   method, a malformed target) gets 400 `invalid_request_error`; any other failure outside the
 *   app 500 `internal_error` (logged at error);
 * - a request Node's HTTP parser refuses (`clientError`: bad `content-length`, both
 *   `content-length` and `transfer-encoding`, bad chunking, headers over Node's 16 KB limit, a
 *   header timeout) gets 400, 431 or 408 with the same JSON shape, and the connection is closed.
 *   A connection that is already gone is just destroyed;
 * - an `Expect` header other than `100-continue` gets 417 with the same JSON shape.
 */
export function createHttpServer(api: Listener, fetch: Fetch, hostname: string, log: Logger): Server {
  const listener = getRequestListener(fetch, {
    hostname,
    errorHandler: (err) => {
      if (err instanceof RequestError) {
        log.info({ err: (err as Error).message }, 'request refused by the HTTP layer');
        return errorResponse(
          invalidRequest(`The request could not be read: ${(err as Error).message}`, null, 'invalid_request'),
        );
      }
      log.error({ err }, 'unhandled error outside the application');
      return errorResponse(err);
    },
  });
  const server = createServer((req, res) => (isApiTarget(req.url) ? api(req, res) : listener(req, res)));
  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => answerClientError(err, socket, log));
  // An `Expect` other than 100-continue: Node would answer an empty 417 (RFC 9110 §10.1.1).
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    const body = JSON.stringify({
      error: {
        message: 'Only "Expect: 100-continue" is supported.',
        type: 'invalid_request_error',
        param: null,
        code: 'expectation_failed',
      },
    });
    res
      .writeHead(417, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        connection: 'close',
      })
      .end(body);
  });
  return server;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

/** Writes a raw OpenAI-shaped error on a socket Node's parser gave up on, then closes it. */
export function answerClientError(err: Error & { code?: string }, socket: Socket, log: Logger): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  // Bytes that follow a request still being answered (a pipelined client): let that response finish
  // whole, then close; writing an error now would land before it, inside its stream.
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (inFlight && !inFlight.writableFinished && !inFlight.req.complete) {
    // The error is in the body of the request being handled, which may already be on its way
    // upstream: answering 400 would misstate what happened, so the connection is closed (RFC 9112
    // §6.3 allows it) and the request's handler records a client disconnect.
    log.info({ code: err.code }, 'request body cut off or malformed; connection closed');
    socket.destroy();
    return;
  }
  if (inFlight && !inFlight.writableFinished && inFlight.req.complete) {
    log.info({ code: err.code }, 'malformed bytes after a request in flight; closing after its response');
    inFlight.once('close', () => socket.destroy());
    return;
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const message =
    status === 431
      ? 'The request headers are too large.'
      : status === 408
        ? 'The request was not received in time.'
        : `The HTTP request is malformed (${err.code ?? 'parse error'}).`;
  const body = JSON.stringify({
    error: {
      message,
      type: 'invalid_request_error',
      param: null,
      code: status === 431 ? 'headers_too_large' : 'malformed_request',
    },
  });
  log.info({ code: err.code, status }, 'malformed HTTP request refused');
  // Destroyed once written, so that a request whose body was being read is aborted, not left waiting.
  socket.end(
    `HTTP/1.1 ${status} ${REASONS[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}
