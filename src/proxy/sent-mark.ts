import type { Duplex } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';

/** Dispatch options with tollgate's own hook: called as the request's first byte is written to a socket. */
export interface SentOptions {
  onSent?: () => void;
}

/**
 * Passes every event on to `inner`, and calls `onSent` when undici starts writing the request
 * (`onRequestStart`: the request has a socket and its headers are written next), so a request
 * still waiting for a connection of the pool, or for its connection to open, is not yet "sent".
 */
class SentHandler implements Dispatcher.DispatchHandler {
  constructor(
    private readonly inner: Dispatcher.DispatchHandler,
    private onSent: (() => void) | undefined,
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    const sent = this.onSent;
    this.onSent = undefined;
    sent?.();
    this.inner.onRequestStart?.(controller, context);
  }
  onRequestUpgrade(c: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders, socket: Duplex) {
    this.inner.onRequestUpgrade?.(c, status, headers, socket);
  }
  onResponseStart(c: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders, message?: string) {
    this.inner.onResponseStart?.(c, status, headers, message);
  }
  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.inner.onResponseData?.(c, chunk);
  }
  onResponseEnd(c: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    this.inner.onResponseEnd?.(c, trailers);
  }
  onResponseError(c: Dispatcher.DispatchController, error: Error): void {
    this.inner.onResponseError?.(c, error);
  }
}

/**
 * An undici interceptor that calls a request's `onSent` option (see `SentOptions`) once, as its
 * first byte is about to go out. Requests without one pass through untouched.
 */
export const markSent: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) => {
  const onSent = (opts as SentOptions).onSent;
  return dispatch(opts, onSent ? new SentHandler(handler, onSent) : handler);
};
