import type { IncomingMessage, ServerResponse } from 'node:http';

/** The mock upstream's HTTP plumbing: JSON and SSE answers, OpenAI-shaped errors, request bodies. */

/** A JSON object. */
export type Json = Record<string, unknown>;

/** OpenAI's error object (openai-openapi, schema Error). */
export interface ApiError {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

export function startSse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, error: ApiError): void {
  sendJson(res, status, { error });
}

export async function readJson(req: IncomingMessage): Promise<Json | undefined> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  try {
    const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
  } catch {
    return undefined;
  }
}

export async function drain(req: IncomingMessage): Promise<void> {
  for await (const _ of req) void _;
}
