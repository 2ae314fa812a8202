import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/limits/rate-limiter.js';
import type { RateLimitCheck } from '../../src/limits/quotas.js';
import { SharedRateLimiter } from '../../src/limits/shared-rate-limiter.js';
import { ADAPTERS, type OpenedLedger } from './adapters.js';

/**
 * The shared rate-limit buckets, for each adapter that offers them (Postgres): a take in one call
 * (`BucketStore.take`) decides, refills and answers exactly as the in-memory buckets do, take after
 * take, and takes at once on one bucket admit the limit and no more.
 */
for (const adapter of ADAPTERS) {
  describe(`${adapter.name}: shared rate buckets`, () => {
    let opened: OpenedLedger;
    beforeEach(async () => {
      opened = await adapter.open();
    });
    afterEach(async () => {
      await opened.close();
    });

    it('takes in one call what the in-memory buckets take, with the same refusals and headers', async () => {
      const buckets = opened.ledger.buckets;
      if (!buckets) return;
      expect(buckets.take).toBeTypeOf('function');
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.record({ rpm: fc.integer({ min: 0, max: 6 }), tpm: fc.integer({ min: 0, max: 500 }) }),
          fc.array(
            fc.record({
              tokens: fc.integer({ min: 0, max: 300 }),
              afterMs: fc.integer({ min: 0, max: 20_000 }),
              refund: fc.boolean(),
            }),
            { minLength: 1, maxLength: 25 },
          ),
          async (limits, steps) => {
            const check: RateLimitCheck = {
              bucketId: `key:k${run++}`,
              ...(limits.rpm ? { requestsPerMinute: limits.rpm } : {}),
              ...(limits.tpm ? { tokensPerMinute: limits.tpm } : {}),
            };
            const local = new RateLimiter();
            const shared = new SharedRateLimiter(buckets);
            let now = Date.parse('2026-11-22T00:00:00.000Z');
            for (const s of steps) {
              now += s.afterMs;
              const want = local.take([check], s.tokens, now);
              expect(await shared.take([check], s.tokens, now)).toEqual(want);
              if (s.refund && !want.refused) {
                local.refund([check], s.tokens);
                await shared.refund([check], s.tokens);
              }
            }
          },
        ),
        { numRuns: 60 },
      );
    });

    it('admits the limit and no more when takes on one bucket race', async () => {
      const buckets = opened.ledger.buckets;
      if (!buckets) return;
      const check: RateLimitCheck = { bucketId: 'key:race', requestsPerMinute: 10 };
      const limiters = [new SharedRateLimiter(buckets), new SharedRateLimiter(buckets)];
      const now = Date.parse('2026-11-22T00:00:00.000Z');
      const takes = await Promise.all(Array.from({ length: 30 }, (_, i) => limiters[i % 2]!.take([check], 1, now)));
      expect(takes.filter((t) => !t.refused)).toHaveLength(10);
      expect(takes.filter((t) => t.refused?.type === 'requests')).toHaveLength(20);
    });
  });
}
