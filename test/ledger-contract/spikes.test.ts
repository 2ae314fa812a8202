import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADAPTERS, type OpenedLedger } from './adapters.js';

/**
 * The shared stores of the port, for each adapter: a store shared by several processes (Postgres)
 * offers both the rate-limit buckets and the usage-spike minutes; a single-process store (SQLite)
 * offers neither (tollgate keeps both in memory). The spike minutes add up, answer the subjects'
 * minutes from a bound, and forget old minutes.
 */
for (const adapter of ADAPTERS) {
  describe(`${adapter.name}: shared spike minutes`, () => {
    let opened: OpenedLedger;
    beforeEach(async () => {
      opened = await adapter.open();
    });
    afterEach(async () => {
      await opened.close();
    });

    it('offers spike minutes exactly when it offers shared rate buckets', () => {
      expect(opened.ledger.spikes === undefined).toBe(opened.ledger.buckets === undefined);
    });

    it('adds deltas, answers the subjects’ minutes from the bound (others’ subjects excluded), forgets old ones', async () => {
      const spikes = opened.ledger.spikes;
      if (!spikes) return expect(opened.ledger.buckets).toBeUndefined();
      expect(await spikes.add([], 0)).toEqual([]);
      await spikes.add(
        [
          { subject: 'acme/ann', minute: 10, tokens: 5 },
          { subject: 'acme/ann', minute: 11, tokens: 1 },
          { subject: 'key:globex-key', minute: 11, tokens: 9 },
        ],
        0,
      );
      const rows = await spikes.add([{ subject: 'acme/ann', minute: 11, tokens: 2 }], 11);
      expect(rows).toEqual([{ subject: 'acme/ann', minute: 11, tokens: 3 }]);
      const all = await spikes.add([{ subject: 'acme/ann', minute: 12, tokens: 1 }], 0);
      expect(all.sort((a, b) => a.minute - b.minute)).toEqual([
        { subject: 'acme/ann', minute: 10, tokens: 5 },
        { subject: 'acme/ann', minute: 11, tokens: 3 },
        { subject: 'acme/ann', minute: 12, tokens: 1 },
      ]);
      await spikes.forget(12);
      expect(await spikes.add([{ subject: 'key:globex-key', minute: 12, tokens: 1 }], 0)).toEqual([
        { subject: 'key:globex-key', minute: 12, tokens: 1 },
      ]);
    });
  });
}
