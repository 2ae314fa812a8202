import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClientSecretRecord } from '../../src/ledger/port.js';
import { ADAPTERS, type OpenedLedger } from './adapters.js';

/** The `clientSecrets` store of the port, for each adapter: round trip, single use (also across processes), expiry, purge. */
const secret = (hash: string, extra: Partial<ClientSecretRecord> = {}): ClientSecretRecord => ({
  hash,
  companyId: 'acme',
  keyId: 'acme-key',
  userId: null,
  role: 'member',
  jwtSessionId: null,
  model: 'gpt-realtime',
  session: '{"type":"realtime","model":"gpt-realtime","instructions":"Be brief."}',
  createdAt: '2026-11-30T10:00:00.000Z',
  expiresAt: '2026-11-30T10:10:00.000Z',
  ...extra,
});
const at = (iso: string) => new Date(iso);

for (const adapter of ADAPTERS) {
  describe(`${adapter.name}: realtime client secrets`, () => {
    let opened: OpenedLedger;
    beforeEach(async () => {
      opened = await adapter.open();
    });
    afterEach(async () => {
      await opened.close();
    });

    it('redeems a secret once, exactly as added; a second redeem, an unknown hash and an expired secret are refused', async () => {
      const store = opened.ledger.clientSecrets;
      await store.add(secret('a'.repeat(64)));
      await store.add(secret('b'.repeat(64), { keyId: null, userId: 'u1', role: 'admin', jwtSessionId: 'sid-1' }));
      expect(await store.redeem('a'.repeat(64), at('2026-11-30T10:05:00.000Z'))).toEqual(secret('a'.repeat(64)));
      expect(await store.redeem('a'.repeat(64), at('2026-11-30T10:05:01.000Z'))).toBe('used');
      expect(await store.redeem('c'.repeat(64), at('2026-11-30T10:05:00.000Z'))).toBe('unknown');
      // At its expiry instant a secret opens nothing, and stays unused.
      expect(await store.redeem('b'.repeat(64), at('2026-11-30T10:10:00.000Z'))).toBe('expired');
      expect(await store.redeem('b'.repeat(64), at('2026-11-30T10:10:00.000Z'))).toBe('expired');
      expect(await store.redeem('b'.repeat(64), at('2026-11-30T10:09:59.999Z'))).toMatchObject({
        userId: 'u1',
        role: 'admin',
        jwtSessionId: 'sid-1',
      });
    });

    it('lets exactly one of many concurrent redeems win', async () => {
      const store = opened.ledger.clientSecrets;
      await store.add(secret('d'.repeat(64)));
      const results = await Promise.all(
        Array.from({ length: 20 }, () => store.redeem('d'.repeat(64), at('2026-11-30T10:01:00.000Z'))),
      );
      expect(results.filter((r) => typeof r === 'object')).toHaveLength(1);
      expect(results.filter((r) => r === 'used')).toHaveLength(19);
    });

    it('purges the secrets expired before an instant, used or not', async () => {
      const store = opened.ledger.clientSecrets;
      await store.add(secret('e'.repeat(64), { expiresAt: '2026-11-30T09:00:00.000Z' }));
      await store.add(secret('f'.repeat(64), { expiresAt: '2026-11-30T09:30:00.000Z' }));
      await store.add(secret('0'.repeat(64)));
      expect(await store.redeem('f'.repeat(64), at('2026-11-30T09:00:00.000Z'))).toMatchObject({ companyId: 'acme' });
      expect(await store.purge(at('2026-11-30T10:00:00.000Z'))).toBe(2);
      expect(await store.redeem('e'.repeat(64), at('2026-11-30T08:00:00.000Z'))).toBe('unknown');
      expect(await store.redeem('0'.repeat(64), at('2026-11-30T10:00:00.000Z'))).toMatchObject({ companyId: 'acme' });
    });
  });
}
