import { describe, expect, it } from 'vitest';
import { grantTerms } from '../../src/config/grants.js';
import { parseConfig } from '../../src/config/load.js';
import type { GroupBy, RequestFilter } from '../../src/ledger/port.js';
import { ADAPTERS } from './adapters.js';

/**
 * Rows written without a fold mark (by an older tollgate, or copied in) are read raw, then given a
 * mark and folded in the background: reports answer the same before and after, and verify adds up.
 */

const START = Date.parse('2026-11-02T00:00:00.000Z');

const config = parseConfig({
  ledger: { path: 'unused.db' },
  companies: {
    acme: { name: 'Acme', allocations: [{ id: 'acme-main', tokens: 1_000_000_000 }] },
    globex: { name: 'Globex', allocations: [{ id: 'globex-main', tokens: 1_000_000_000 }] },
  },
});

describe.each(ADAPTERS)('rows without a fold mark ($name)', (adapter) => {
  it('are read raw, then given a mark and folded: reports read the same, and verify adds up', async () => {
    const opened = await adapter.open();
    try {
      const { ledger, raw } = opened;
      const { grants, purchases } = grantTerms(config, new Date(START - 86_400_000));
      await ledger.syncGrants(grants, purchases, new Date(START - 86_400_000));
      // As an older tollgate (or a copy) wrote them: settled, no settle_seq / settle_xid.
      const values = Array.from({ length: 30 }, (_, i) => {
        const at = new Date(START + i * 3_000_000).toISOString();
        return `('legacy${i}', '${at}', '${i % 2 ? 'acme' : 'globex'}', ${i % 3 ? `'u${i % 4}'` : 'NULL'}, '/v1/chat/completions', 'gpt-4o', false, 'settled', 0, 200, ${i * 10}, ${i * 10}, ${i * 20_000}, ${Math.floor((i * 20_000 + 500) / 1000)}, ${i + 0.5})`;
      });
      await raw.exec(`INSERT INTO requests (id, created_at, company_id, user_id, endpoint, requested_model, stream, status, hold_tokens,
        http_status, input_tokens, total_tokens, cost_nano_usd, cost_micro_usd, latency_ms) VALUES ${values.join(', ')}`);
      const queries: [RequestFilter, GroupBy][] = [
        [{}, 'company'],
        [{ since: new Date(START + 3_600_000 * 5 + 7).toISOString() }, 'user'],
        [{ companyId: 'acme' }, 'hour'],
      ];
      const before = await Promise.all(queries.map(([f, g]) => ledger.reader.usage(f, g)));
      expect(before[0]!.map((r) => r.requests)).toEqual([15, 15]);
      // The folder may have started on them in the background: wait for every one.
      await ledger.rollups.catchUp();
      expect(await ledger.rollups.status()).toMatchObject({ waiting: 0, foldedRows: 30 });
      expect(await Promise.all(queries.map(([f, g]) => ledger.reader.usage(f, g)))).toEqual(before);
      expect((await ledger.reader.verify()).filter((f) => f.severity === 'error')).toEqual([]);
    } finally {
      await opened.close();
    }
  });
});
