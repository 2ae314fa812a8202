import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertService } from '../src/alerts/alerts.js';
import type { AlertsConfig } from '../src/config/schema.js';
import type { AlertRecord, AlertStore, QuotaCheck } from '../src/ledger/port.js';
import { openSqliteLedger, type SqliteLedger } from '../src/ledger/sqlite/index.js';
import { createLogger } from '../src/log.js';

/**
 * A condition that stays true (a minute over the spike multiple, a quota past its threshold) fires
 * its alert once and writes to the ledger once — not once per settle, as it did: the settles after
 * the first cost no ledger write.
 */
const config: AlertsConfig = {
  quotaThresholds: [0.8, 0.95],
  lowBalanceThresholds: [0.1, 0.05],
  spike: { multiple: 5, windowMinutes: 10, minTokens: 100, minHistoryMinutes: 2 },
} as AlertsConfig;

const dirs: string[] = [];
const ledgers: SqliteLedger[] = [];
afterEach(async () => {
  for (const l of ledgers.splice(0)) await l.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A real SQLite ledger's alert store, counting the writes it is asked for. */
function countingStore(): { ledger: SqliteLedger; store: AlertStore; writes: AlertRecord[] } {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-alerts-'));
  dirs.push(dir);
  const ledger = openSqliteLedger({ path: join(dir, 'ledger.db') });
  ledgers.push(ledger);
  const writes: AlertRecord[] = [];
  const store: AlertStore = {
    record: (a) => (writes.push(a), ledger.alerts.record(a)),
    attempted: (k, d) => ledger.alerts.attempted(k, d),
  };
  return { ledger, store, writes };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('alerts remember what has fired', () => {
  it('a spiking minute writes its alert once however many settles follow', async () => {
    const { ledger, store, writes } = countingStore();
    let now = new Date('2026-11-30T10:00:00Z');
    const alerts = new AlertService(store, config, createLogger('silent'), undefined, () => now);
    const settle = (tokens: number) =>
      alerts.afterSettle({
        companyId: 'acme',
        subject: 'acme/ann',
        quotas: [],
        settled: { grants: [], counters: [] },
        tokens,
      });
    for (let minute = 0; minute < 3; minute++) {
      now = new Date(Date.UTC(2026, 10, 30, 10, minute));
      settle(50); // a quiet history: 50 tokens a minute
    }
    now = new Date(Date.UTC(2026, 10, 30, 10, 3, 30));
    for (let i = 0; i < 200; i++) settle(50); // 10,000 tokens in one minute: far over 5 × 50
    await flush();
    expect(writes.map((w) => w.kind)).toEqual(['usage_spike']);
    const stored = await ledger.reader.recentAlerts('acme', 10);
    expect(stored.map((a) => a.kind)).toEqual(['usage_spike']);
  });

  it('a quota past both thresholds writes each alert once, and a new window fires again', async () => {
    const { ledger, store, writes } = countingStore();
    const now = new Date('2026-11-30T10:00:00Z');
    const alerts = new AlertService(store, config, createLogger('silent'), undefined, () => now);
    const quota = (windowKey: string): QuotaCheck => ({
      counterId: `user:acme/ann:daily:${windowKey}`,
      scope: 'user',
      scopeId: 'acme/ann',
      window: 'daily',
      windowKey,
      limitTokens: 1000,
      resetsAt: null,
    });
    const settle = (q: QuotaCheck, spent: number) =>
      alerts.afterSettle({
        companyId: 'acme',
        subject: 'acme/ann',
        quotas: [q],
        settled: {
          grants: [],
          counters: [{ id: q.counterId, spentTokens: spent, heldTokens: 0, spentMicroUsd: 0, heldMicroUsd: 0 }],
        },
        tokens: 10,
      });
    const today = quota('2026-11-30');
    for (let spent = 960; spent < 1000; spent++) settle(today, spent);
    await flush();
    expect(writes.map((w) => w.key).sort()).toEqual([`quota:${today.counterId}:0.8`, `quota:${today.counterId}:0.95`]);
    const tomorrow = quota('2026-12-01');
    settle(tomorrow, 990);
    settle(tomorrow, 995);
    await flush();
    expect(writes).toHaveLength(4);
    expect(await ledger.reader.recentAlerts('acme', 10)).toHaveLength(4);
  });
});
