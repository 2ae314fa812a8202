import type { BucketStore } from '../ledger/port.js';
import type { RateLimitCheck } from './quotas.js';
import { bucketIds, refundTo, takeFrom, type RateLimits, type RateTake } from './rate-limiter.js';

/**
 * The rate limits (rpm, tpm) shared by every replica: the same token buckets as `RateLimiter`,
 * kept in the ledger's store (`Ledger.buckets`, Postgres) and updated atomically, so N replicas
 * enforce a limit once, not N times. Costs one transaction per admitted request that has a rate
 * limit (none for a request without one).
 */
export class SharedRateLimiter implements RateLimits {
  constructor(private readonly store: BucketStore) {}

  take(checks: RateLimitCheck[], tokens: number, nowMs: number): Promise<RateTake> | RateTake {
    const ids = bucketIds(checks);
    if (ids.length === 0) return { headers: {} };
    return this.store.update(ids, (buckets) => takeFrom(buckets, checks, tokens, nowMs));
  }

  async refund(checks: RateLimitCheck[], tokens: number): Promise<void> {
    const ids = bucketIds(checks);
    if (ids.length) await this.store.update(ids, (buckets) => refundTo(buckets, checks, tokens));
  }
}
