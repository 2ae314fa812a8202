import { createHmac } from 'node:crypto';
import { request } from 'undici';
import type { Logger } from '../log.js';

/** How a webhook is sent and retried. Delays in ms. */
export interface WebhookOptions {
  url: string;
  /** HMAC-SHA256 secret; without it bodies are sent unsigned. */
  secret?: string;
  /** First retry delay; each next one doubles (default 1,000 ms). */
  retryBaseMs?: number;
  /** Attempts in all, the first included (default 6: about a minute of retries). */
  maxAttempts?: number;
  /** Per-attempt timeout (default 5,000 ms). */
  timeoutMs?: number;
}

/**
 * Signature of a webhook body: `x-tollgate-signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`
 * with the secret, and `x-tollgate-timestamp: <unix seconds>`. A receiver recomputes it and should
 * refuse timestamps more than a few minutes old (replays).
 */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Sends JSON webhooks in the background: never awaited by a request, never throws. A failed
 * attempt (network error, timeout, non-2xx) is retried with exponential backoff; `onResult` is told
 * after each attempt.
 */
export class WebhookSender {
  private pending = 0;

  constructor(
    private readonly opts: WebhookOptions,
    private readonly log: Logger,
  ) {}

  /** Queues one delivery of `payload`. `onResult(delivered, attempt)` runs after every attempt. */
  send(payload: unknown, onResult: (delivered: boolean, attempt: number) => void = () => {}): void {
    const body = JSON.stringify(payload);
    const attempt = async (n: number): Promise<void> => {
      let delivered = false;
      try {
        const timestamp = Math.floor(Date.now() / 1000);
        const headers: Record<string, string> = {
          'content-type': 'application/json',
          'x-tollgate-timestamp': String(timestamp),
        };
        if (this.opts.secret) headers['x-tollgate-signature'] = signWebhook(this.opts.secret, timestamp, body);
        const res = await request(this.opts.url, {
          method: 'POST',
          headers,
          body,
          headersTimeout: this.opts.timeoutMs ?? 5000,
          bodyTimeout: this.opts.timeoutMs ?? 5000,
        });
        await res.body.dump();
        delivered = res.statusCode >= 200 && res.statusCode < 300;
        if (!delivered) this.log.warn({ status: res.statusCode, attempt: n }, 'alert webhook refused');
      } catch (err) {
        this.log.warn({ err: (err as Error).message, attempt: n }, 'alert webhook failed');
      }
      try {
        onResult(delivered, n);
      } catch (err) {
        this.log.error({ err }, 'alert webhook bookkeeping failed');
      }
      if (!delivered && n < (this.opts.maxAttempts ?? 6)) {
        setTimeout(() => void attempt(n + 1), (this.opts.retryBaseMs ?? 1000) * 2 ** (n - 1)).unref();
      } else {
        this.pending--;
      }
    };
    this.pending++;
    setImmediate(() => void attempt(1));
  }

  /** Deliveries not yet finished (delivered or given up). */
  get inFlight(): number {
    return this.pending;
  }
}
