import type { Readable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';

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

/** One request to the upstream, as `Upstream.request` and `Upstream.dispatch` send it. */
export interface UpstreamRequest {
  method: Dispatcher.HttpMethod;
  /** The client's path and query, `/v1/...?...`. */
  pathAndQuery: string;
  headers: Record<string, string>;
  body?: Uint8Array | string | Readable;
}

/**
 * The upstream OpenAI-compatible API, reached through one undici keep-alive pool.
 * Paths given to `request` and `dispatch` start with `/v1/`.
 */
export class Upstream {
  readonly apiKey: string;
  private readonly pool: Pool;
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
    this.apiKey = opts.apiKey;
  }

  /**
   * Sends one request and resolves when response headers arrive; the body (a stream) is read by the
   * caller. Rejects on connection errors and when `signal` aborts. For tollgate's own calls (the
   * settler's polls); the proxy path uses `dispatch`.
   */
  request(opts: UpstreamRequest, signal?: AbortSignal): Promise<Dispatcher.ResponseData> {
    return this.pool.request({
      method: opts.method,
      path: this.prefix + opts.pathAndQuery,
      headers: opts.headers,
      body: opts.body,
      signal,
    });
  }

  /**
   * Sends one request with `handler` receiving undici's events as they happen (no stream object
   * between the socket and the handler): `onRequestStart` as the request gets its connection and
   * its first byte is written next (its controller aborts, pauses and resumes it), then the
   * response's start, each body chunk, its end, or an error. Errors, a synchronous refusal of the
   * options included, reach `onResponseError`.
   */
  dispatch(opts: UpstreamRequest, handler: Dispatcher.DispatchHandler): void {
    this.pool.dispatch(
      { method: opts.method, path: this.prefix + opts.pathAndQuery, headers: opts.headers, body: opts.body ?? null },
      handler,
    );
  }

  /** Closes pooled connections; in-flight requests finish first. */
  close(): Promise<void> {
    return this.pool.close();
  }
}
