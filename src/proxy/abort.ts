import { EventEmitter } from 'node:events';

/**
 * Aborts one upstream request, e.g. when its client leaves: an EventEmitter that undici accepts as a
 * request's `signal` (undici listens for its 'abort' event and reads `aborted` and `reason`; see
 * `addAbortListener` in undici's lib/core/util.js and `Dispatcher.RequestOptions.signal`).
 *
 * Used instead of an `AbortController` on the proxy path: on Node 20 (V8 11.3) each new
 * AbortSignal gets three hidden classes of its own (Node sets its prototype, then adds fields to a
 * map that is then detached from V8's transition tree). At 1,000 RPS that was several MB a second
 * of maps and descriptor arrays in the old generation, a major GC every ~3 s (10–25 ms pauses,
 * plus marking threads on the same core) and most of the p99 (bench/profile/tail.ts).
 */
export class UpstreamAbort extends EventEmitter {
  /** Whether `abort` has been called. */
  aborted = false;
  /** What `abort` was called with, if anything. */
  reason: Error | undefined = undefined;

  /** Aborts the request (once; later calls do nothing). */
  abort(reason?: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}
