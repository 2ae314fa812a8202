import type { Readable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import type { UpstreamAbort } from './abort.js';
import { markSent, type SentOptions } from './sent-mark.js';

/** Settings for the upstream connection pool. */
export interface UpstreamOptions {
  /** Origin plus optional path prefix, e.g. `https://api.openai.com`; a trailing `/v1` is tolerated. */
  baseUrl: string;
  apiKey: string;
  /** Maximum pooled keep-alive connections to the upstream. */
  connections: number;
  /** ms to connect, ms until response headers, ms of silence allowed between body chunks; 0 = none. */
  timeouts?: { connectMs: number; firstByteMs: number; idleMs: number };
}

/** One request to the upstream, as `Upstream.request` sends it. */
export interface UpstreamRequest {
  method: Dispatcher.HttpMethod;
  /** The client's path and query, `/v1/...?...`. */
  pathAndQuery: string;
  headers: Record<string, string>;
  body?: Uint8Array | string | Readable;
  /** Called once as the request's first byte is written upstream. */
  onSent?: () => void;
}

/**
 * The upstream OpenAI-compatible API, reached through one undici keep-alive pool.
 * Paths given to `request` start with `/v1/`.
 */
export class Upstream {
  readonly apiKey: string;
  private readonly pool: Pool;
  /** The pool, with `onSent` (see sent-mark.ts). */
  private readonly dispatcher: Dispatcher;
  private readonly prefix: string;

  constructor(opts: UpstreamOptions) {
    const url = new URL(opts.baseUrl);
    this.prefix = url.pathname.replace(/\/+$/, '').replace(/\/v1$/, '');
    const t = opts.timeouts ?? { connectMs: 10_000, firstByteMs: 600_000, idleMs: 300_000 };
    this.pool = new Pool(url.origin, {
      connections: opts.connections,
      keepAliveTimeout: 30_000,
      pipelining: 1,
      connect: { timeout: t.connectMs || undefined },
      headersTimeout: t.firstByteMs,
      bodyTimeout: t.idleMs,
    });
    this.dispatcher = this.pool.compose(markSent);
    this.apiKey = opts.apiKey;
  }

  /**
   * Sends one request. `pathAndQuery` is the client's path (`/v1/...?...`). Resolves when response
   * headers arrive; the body is read by the caller. Rejects on connection errors and when `signal`
   * aborts (an `AbortSignal`, or an `UpstreamAbort`). `onSent` is called once, as the request's
   * first byte is written (not while it waits for a connection).
   */
  request(opts: UpstreamRequest, signal?: AbortSignal | UpstreamAbort): Promise<Dispatcher.ResponseData> {
    const options: Dispatcher.RequestOptions & SentOptions = {
      method: opts.method,
      path: this.prefix + opts.pathAndQuery,
      headers: opts.headers,
      body: opts.body,
      signal,
      onSent: opts.onSent,
    };
    return this.dispatcher.request(options);
  }

  /** Closes pooled connections; in-flight requests finish first. */
  close(): Promise<void> {
    return this.pool.close();
  }
}
