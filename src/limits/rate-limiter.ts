import type { RateLimitCheck } from './quotas.js';

/**
 * Requests-per-minute and tokens-per-minute limits as token buckets: a bucket holds up to the
 * per-minute limit and refills continuously at limit/60 s, so a burst of a full minute's worth is
 * allowed and then requests flow at the average rate. State is in memory (per process; it starts
 * full after a restart). Tokens are the request's estimate at admission (prompt + output ceiling),
 * as OpenAI counts them against TPM.
 */

interface Bucket {
  level: number;
  at: number;
}

/** A refusal: which limit, and how long until enough has refilled (ms). */
export interface RateLimited {
  type: 'requests' | 'tokens';
  limit: number;
  retryAfterMs: number;
}

/** OpenAI's `x-ratelimit-*` headers for one request, from the tightest bucket. Source: OpenAI's rate-limit guide. */
export type RateLimitHeaders = Record<string, string>;

/** Formats a duration as OpenAI's reset headers do: `20ms`, `1s`, `6m0s`, `1m30.5s`. */
export function formatReset(ms: number): string {
  if (ms < 1000) return `${Math.ceil(ms)}ms`;
  const totalS = Math.round(ms) / 1000;
  const m = Math.floor(totalS / 60);
  const s = Number((totalS - m * 60).toFixed(3));
  return m > 0 ? `${m}m${s}s` : `${s}s`;
}

/** The token buckets of every user and key (see the module comment), in memory. */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  private level(id: string, limit: number, now: number): Bucket {
    const b = this.buckets.get(id) ?? { level: limit, at: now };
    b.level = Math.min(limit, b.level + ((now - b.at) * limit) / 60_000);
    b.at = now;
    this.buckets.set(id, b);
    return b;
  }

  /**
   * Takes 1 request and `tokens` tokens from every bucket of `checks` at `nowMs`, or none of them.
   * Returns the headers to send (limits, what remains, when each bucket is full again) and, when
   * refused, which limit refused it.
   */
  take(checks: RateLimitCheck[], tokens: number, nowMs: number): { refused?: RateLimited; headers: RateLimitHeaders } {
    const headers: RateLimitHeaders = {};
    const planned: { bucket: Bucket; amount: number }[] = [];
    let refused: RateLimited | undefined;
    for (const c of checks) {
      for (const [type, limit, amount] of [['requests', c.requestsPerMinute, 1], ['tokens', c.tokensPerMinute, tokens]] as const) {
        if (!limit) continue;
        const b = this.level(`${c.bucketId}:${type}`, limit, nowMs);
        if (b.level < amount && !refused) refused = { type, limit, retryAfterMs: Math.ceil(((Math.min(amount, limit) - b.level) * 60_000) / limit) };
        planned.push({ bucket: b, amount });
        const after = refused ? b.level : b.level - amount;
        headers[`x-ratelimit-limit-${type}`] = String(limit);
        headers[`x-ratelimit-remaining-${type}`] = String(Math.max(0, Math.floor(after)));
        headers[`x-ratelimit-reset-${type}`] = formatReset(((limit - Math.max(0, after)) * 60_000) / limit);
      }
    }
    if (!refused) for (const p of planned) p.bucket.level -= p.amount;
    return { refused, headers };
  }

  /** Gives back what `take` took when the request was then refused for another reason. */
  refund(checks: RateLimitCheck[], tokens: number): void {
    for (const c of checks) {
      const r = this.buckets.get(`${c.bucketId}:requests`);
      if (r && c.requestsPerMinute) r.level = Math.min(c.requestsPerMinute, r.level + 1);
      const t = this.buckets.get(`${c.bucketId}:tokens`);
      if (t && c.tokensPerMinute) t.level = Math.min(c.tokensPerMinute, t.level + tokens);
    }
  }
}
