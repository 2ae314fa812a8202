import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileEstimate } from '../../src/ledger/port.js';
import { ADAPTERS, type OpenedLedger } from './adapters.js';

/** The `fileEstimates` store of the port, for each adapter: round trip, first writer wins, lookups see earlier records. */
const estimate = (fileId: string, companyId: string, extra: Partial<FileEstimate> = {}): FileEstimate => ({
  fileId,
  companyId,
  purpose: 'batch',
  requestId: 'req_1',
  createdAt: '2026-11-30T10:00:00.000Z',
  lines: 3,
  unusable: null,
  models: [
    { model: 'gpt-4o-mini', lines: 2, promptTokens: 40, maxTokens: 32_808 },
    { model: 'gpt-4o', lines: 1, promptTokens: 9_007_199_254, maxTokens: 9_007_199_254_740 },
  ],
  ...extra,
});

for (const adapter of ADAPTERS) {
  describe(`${adapter.name}: file estimates`, () => {
    let opened: OpenedLedger;
    beforeEach(async () => {
      opened = await adapter.open();
    });
    afterEach(async () => {
      await opened.close();
    });

    it('records an estimate and reads it back exactly; unknown files are undefined', async () => {
      await opened.ledger.fileEstimates.record(estimate('file-a', 'acme'));
      await opened.ledger.fileEstimates.record(
        estimate('file-b', 'acme', { purpose: 'fine-tune', unusable: 'line 2: not valid JSON', models: [], lines: 2 }),
      );
      expect(await opened.ledger.fileEstimates.get('file-a')).toEqual(estimate('file-a', 'acme'));
      expect(await opened.ledger.fileEstimates.get('file-b')).toEqual(
        estimate('file-b', 'acme', { purpose: 'fine-tune', unusable: 'line 2: not valid JSON', models: [], lines: 2 }),
      );
      expect(await opened.ledger.fileEstimates.get('file-none')).toBeUndefined();
      expect(await opened.ledger.fileEstimates.get('FILE-A')).toBeUndefined();
    });

    it('keeps the first estimate: a later record of the same file changes nothing', async () => {
      await opened.ledger.fileEstimates.record(estimate('file-a', 'acme'));
      await opened.ledger.fileEstimates.record(estimate('file-a', 'beta', { lines: 99 }));
      expect(await opened.ledger.fileEstimates.get('file-a')).toMatchObject({ companyId: 'acme', lines: 3 });
    });

    it('a lookup made after a record in the same turn sees it', async () => {
      const recorded = opened.ledger.fileEstimates.record(estimate('file-c', 'acme'));
      const got = opened.ledger.fileEstimates.get('file-c');
      await recorded;
      expect((await got)?.companyId).toBe('acme');
    });
  });
}
