import type { RateLimitCheck } from './quotas.js';

/**
 * Requests-per-minute and tokens-per-minute limits as token buckets: a bucket holds up to the
 * per-minute limit and refills continuously at limit/60 s, so a burst of a full minute's worth is
 * allowed and then requests flow at the average rate. State is in memory (per process; it starts
 * full after a restart), or shared by every replica through a Postgres ledger (`SharedRateLimiter`). Tokens are the request's estimate at admission (prompt + output ceiling),
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

/** What `take` decided: the headers to send and, when refused, which limit refused it. */
export interface RateTake {
  refused?: RateLimited;
  headers: RateLimitHeaders;
}

/** A bucket's level (requests or tokens) at an instant (ms since the epoch). */
export type BucketLevel = Bucket;

/**
 * Rate-limit buckets, wherever they live: in this process (`RateLimiter`) or shared by every
 * replica through the ledger's store (`SharedRateLimiter`).
 */
export interface RateLimits {
  /** Takes 1 request and `tokens` tokens from every bucket of `checks` at `nowMs`, or none of them. */
  take(checks: RateLimitCheck[], tokens: number, nowMs: number): RateTake | Promise<RateTake>;
  /** Gives back what `take` took when the request was then refused for another reason. */
  refund(checks: RateLimitCheck[], tokens: number): void | Promise<void>;
}

/** Each bucket `checks` use (`<bucket>:requests`, `<bucket>:tokens`), its per-minute limit, and what a request of `tokens` takes from it. */
export function bucketTakes(checks: RateLimitCheck[], tokens: number): { id: string; limit: number; amount: number }[] {
  return checks.flatMap((c) => [
    ...(c.requestsPerMinute ? [{ id: `${c.bucketId}:requests`, limit: c.requestsPerMinute, amount: 1 }] : []),
    ...(c.tokensPerMinute ? [{ id: `${c.bucketId}:tokens`, limit: c.tokensPerMinute, amount: tokens }] : []),
  ]);
}

/** The bucket ids `checks` use (`<bucket>:requests`, `<bucket>:tokens`), for locking them together. */
export function bucketIds(checks: RateLimitCheck[]): string[] {
  return bucketTakes(checks, 0).map((b) => b.id);
}

/**
 * The level of bucket `b` (absent: full) refilled to `now` (ms) at `limit` per minute, capped at
 * `limit`: the refill rule every bucket store uses (in memory, the SQLite workers' owner; Postgres's
 * `tollgate_rate_take` states it in SQL).
 */
export function refilled(b: Bucket | undefined, limit: number, now: number): number {
  return b ? Math.min(limit, b.level + ((now - b.at) * limit) / 60_000) : limit;
}

function level(buckets: Map<string, Bucket>, id: string, limit: number, now: number): Bucket {
  const b = buckets.get(id) ?? { level: limit, at: now };
  b.level = refilled(b, limit, now);
  b.at = now;
  buckets.set(id, b);
  return b;
}

/**
 * `take` on a map of buckets (missing ones start full), changing them in place: the token-bucket
 * arithmetic shared by the in-memory and the shared limiter. Returns the headers to send (limits,
 * what remains, when each bucket is full again) and, when refused, which limit refused it.
 */
export function takeFrom(
  buckets: Map<string, Bucket>,
  checks: RateLimitCheck[],
  tokens: number,
  nowMs: number,
): RateTake {
  const headers: RateLimitHeaders = {};
  const planned: { bucket: Bucket; amount: number }[] = [];
  let refused: RateLimited | undefined;
  for (const c of checks) {
    for (const [type, limit, amount] of [
      ['requests', c.requestsPerMinute, 1],
      ['tokens', c.tokensPerMinute, tokens],
    ] as const) {
      if (!limit) continue;
      const b = level(buckets, `${c.bucketId}:${type}`, limit, nowMs);
      if (b.level < amount && !refused)
        refused = { type, limit, retryAfterMs: Math.ceil(((Math.min(amount, limit) - b.level) * 60_000) / limit) };
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

/** `refund` on a map of buckets, in place (see `RateLimits.refund`). */
export function refundTo(buckets: Map<string, Bucket>, checks: RateLimitCheck[], tokens: number): void {
  for (const c of checks) {
    const r = buckets.get(`${c.bucketId}:requests`);
    if (r && c.requestsPerMinute) r.level = Math.min(c.requestsPerMinute, r.level + 1);
    const t = buckets.get(`${c.bucketId}:tokens`);
    if (t && c.tokensPerMinute) t.level = Math.min(c.tokensPerMinute, t.level + tokens);
  }
}

/** The token buckets of every user and key (see the module comment), in this process's memory. */
export class RateLimiter implements RateLimits {
  private readonly buckets = new Map<string, Bucket>();

  take(checks: RateLimitCheck[], tokens: number, nowMs: number): RateTake {
    return takeFrom(this.buckets, checks, tokens, nowMs);
  }

  refund(checks: RateLimitCheck[], tokens: number): void {
    refundTo(this.buckets, checks, tokens);
  }
}
