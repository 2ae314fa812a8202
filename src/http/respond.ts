import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { OpenAIError } from './openai-error.js';

/**
 * Answers an OpenAI-shaped error on Node's response in one write: status, `content-type:
 * application/json`, `content-length`, the error's own headers and, when the request has a ledger
 * row, `x-tollgate-request-id`; the body `{"error":{"message","type","param","code"}}`. A response
 * whose headers already went out cannot carry it: the connection is cut instead, so the client
 * sees a broken response rather than a well-formed wrong one.
 */
export function answer(res: ServerResponse, error: OpenAIError, requestId?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: error.body });
  const headers: OutgoingHttpHeaders = { 'content-type': 'application/json' };
  for (const name in error.headers) headers[name] = error.headers[name];
  headers['content-length'] = Buffer.byteLength(body);
  if (requestId) headers['x-tollgate-request-id'] = requestId;
  res.writeHead(error.status, headers).end(body);
}
