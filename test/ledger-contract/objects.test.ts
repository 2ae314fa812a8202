import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OwnedObject } from '../../src/ledger/port.js';
import { ADAPTERS, type OpenedLedger } from './adapters.js';

/** The `objects` store of the port, for each adapter: first writer wins, lookups see earlier records. */
const AT = '2026-11-22T10:00:00.000Z';
const owned = (id: string, companyId: string, extra: Partial<OwnedObject> = {}): OwnedObject => ({
  id,
  kind: 'file',
  companyId,
  keyId: `${companyId}-key`,
  userId: null,
  requestId: 'req_1',
  createdAt: AT,
  ...extra,
});

for (const adapter of ADAPTERS) {
  describe(`${adapter.name}: object owners`, () => {
    let opened: OpenedLedger;
    beforeEach(async () => {
      opened = await adapter.open();
    });
    afterEach(async () => {
      await opened.close();
    });

    it('records owners and finds them; unknown ids are absent', async () => {
      await opened.ledger.objects.record([
        owned('file-a', 'acme'),
        owned('ft:gpt-4o-mini:o::1', 'acme', { kind: 'model', keyId: null, userId: 'ann' }),
      ]);
      const owners = await opened.ledger.objects.owners(['file-a', 'ft:gpt-4o-mini:o::1', 'file-none']);
      expect(owners.get('file-a')).toEqual({ kind: 'file', companyId: 'acme', keyId: 'acme-key', userId: null });
      expect(owners.get('ft:gpt-4o-mini:o::1')).toEqual({
        kind: 'model',
        companyId: 'acme',
        keyId: null,
        userId: 'ann',
      });
      expect(owners.has('file-none')).toBe(false);
    });

    it('keeps the first owner: a later record of the same id changes nothing', async () => {
      await opened.ledger.objects.record([owned('file-a', 'acme')]);
      await opened.ledger.objects.record([owned('file-a', 'beta')]);
      expect((await opened.ledger.objects.owners(['file-a'])).get('file-a')?.companyId).toBe('acme');
    });

    it('a lookup made after a record in the same turn sees it', async () => {
      const recorded = opened.ledger.objects.record([owned('file-b', 'acme')]);
      const owners = opened.ledger.objects.owners(['file-b']);
      await recorded;
      expect((await owners).get('file-b')?.companyId).toBe('acme');
    });

    it('looks up more ids than one statement binds', async () => {
      const many = Array.from({ length: 1200 }, (_, i) => owned(`file-${i}`, i % 2 ? 'acme' : 'beta'));
      await opened.ledger.objects.record(many);
      const owners = await opened.ledger.objects.owners(many.map((o) => o.id));
      expect(owners.size).toBe(1200);
      expect(owners.get('file-1')?.companyId).toBe('acme');
    });
  });
}
