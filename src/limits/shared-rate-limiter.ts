import type { BucketStore } from '../ledger/port.js';
import type { RateLimitCheck } from './quotas.js';
import { bucketIds, bucketTakes, refundTo, takeFrom, type RateLimits, type RateTake } from './rate-limiter.js';

/**
 * The rate limits (rpm, tpm) shared by every replica: the same token buckets as `RateLimiter`,
 * kept in the ledger's store (`Ledger.buckets`, Postgres) and updated atomically, so N replicas
 * enforce a limit once, not N times. Costs one round trip per admitted request that has a rate
 * limit where the store takes in one call (Postgres), one transaction otherwise; none for a request
 * without one.
 */
export class SharedRateLimiter implements RateLimits {
  constructor(private readonly store: BucketStore) {}

  take(checks: RateLimitCheck[], tokens: number, nowMs: number): Promise<RateTake> | RateTake {
    const ids = bucketIds(checks);
    if (ids.length === 0) return { headers: {} };
    if (!this.store.take || new Set(ids).size !== ids.length)
      return this.store.update(ids, (buckets) => takeFrom(buckets, checks, tokens, nowMs));
    return this.takeInOneCall(checks, tokens, Math.round(nowMs));
  }

  /**
   * `take` through the store's one-call take: the store refills and takes (or not) atomically, and
   * `takeFrom` on the levels it read — already refilled to `nowMs` — reaches the same refusal and
   * gives the headers.
   */
  private async takeInOneCall(checks: RateLimitCheck[], tokens: number, nowMs: number): Promise<RateTake> {
    const takes = bucketTakes(checks, tokens);
    const levels = await this.store.take!(
      takes.map((b) => b.id),
      takes.map((b) => b.limit),
      takes.map((b) => b.amount),
      nowMs,
    );
    const buckets = new Map(takes.map((b, i) => [b.id, { level: levels[i]!, at: nowMs }]));
    return takeFrom(buckets, checks, tokens, nowMs);
  }

  async refund(checks: RateLimitCheck[], tokens: number): Promise<void> {
    const ids = bucketIds(checks);
    if (ids.length) await this.store.update(ids, (buckets) => refundTo(buckets, checks, tokens));
  }
}
