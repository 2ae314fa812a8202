import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertService } from '../src/alerts/alerts.js';
import type { AlertsConfig } from '../src/config/schema.js';
import type { AlertStore, SpikeStore } from '../src/ledger/port.js';
import { openPgLedger, type PgLedger } from '../src/ledger/postgres/index.js';
import { createLogger } from '../src/log.js';
import { createDatabase, dropDatabase } from './support/postgres.js';

/**
 * The usage-spike alert across two replicas on one Postgres ledger: the per-minute windows are
 * shared through the ledger (`Ledger.spikes`), so a spike split across both replicas — too small
 * in either alone — fires, and fires once; the settles cost the store one batch, not one write each.
 * Each "replica" is a ledger instance of its own (its own pool and instance) with its own alerts.
 */
const config = {
  quotaThresholds: [0.8, 0.95],
  lowBalanceThresholds: [0.1, 0.05],
  spike: { multiple: 5, windowMinutes: 10, minTokens: 100, minHistoryMinutes: 2 },
} as AlertsConfig;

let db: { name: string; url: string };
const ledgers: PgLedger[] = [];
beforeAll(async () => {
  db = await createDatabase();
  for (let i = 0; i < 2; i++) {
    const l = openPgLedger({ url: db.url, poolSize: 2 });
    await l.ping();
    ledgers.push(l);
  }
});
afterAll(async () => {
  for (const l of ledgers.splice(0)) await l.close();
  if (db) await dropDatabase(db.name);
});

/** A replica's alert service over its ledger, counting new alerts recorded and batches added to the shared windows. */
function replica(ledger: PgLedger, clock: () => Date, spikes: boolean) {
  const inserted: string[] = [];
  const recorded: Promise<unknown>[] = [];
  let batches = 0;
  const store: AlertStore = {
    record: (a) => {
      const p = ledger.alerts.record(a).then((isNew) => {
        if (isNew) inserted.push(a.key);
        return isNew;
      });
      recorded.push(p);
      return p;
    },
    attempted: (k, d) => ledger.alerts.attempted(k, d),
  };
  const spikeStore: SpikeStore = {
    add: (deltas, from) => (batches++, ledger.spikes.add(deltas, from)),
    forget: (before) => ledger.spikes.forget(before),
  };
  const alerts = new AlertService(
    store,
    config,
    createLogger('silent'),
    undefined,
    clock,
    spikes ? spikeStore : undefined,
  );
  const settle = (subject: string, tokens: number) =>
    alerts.afterSettle({ companyId: 'acme', subject, quotas: [], settled: { grants: [], counters: [] }, tokens });
  return { alerts, settle, inserted, recorded, batches: () => batches };
}

/** Spike alerts stored for `subject`. */
const spikeRows = async (subject: string) =>
  (await ledgers[0]!.reader.recentAlerts('acme', 100)).filter(
    (a) => a.kind === 'usage_spike' && JSON.stringify(a).includes(subject),
  ).length;

describe('spike windows shared by two replicas', () => {
  it('a spike split across both replicas fires once; each settle costs no write, each second one batch', async () => {
    let now = new Date(Date.UTC(2026, 10, 30, 10, 0));
    const [a, b] = [replica(ledgers[0]!, () => now, true), replica(ledgers[1]!, () => now, true)];
    const subject = 'acme/split';
    for (let minute = 0; minute < 3; minute++) {
      now = new Date(Date.UTC(2026, 10, 30, 10, minute, 10));
      a.settle(subject, 10); // a quiet history: 20 tokens a minute over both replicas
      b.settle(subject, 10);
      await Promise.all([a.alerts.close(), b.alerts.close()]);
    }
    expect(a.batches() + b.batches()).toBe(6);
    now = new Date(Date.UTC(2026, 10, 30, 10, 3, 30));
    // 60 tokens in this minute on each replica: under minTokens (100) for either alone, 120 shared: over 5 × the average.
    for (let i = 0; i < 30; i++) {
      a.settle(subject, 2);
      b.settle(subject, 2);
    }
    expect(a.batches() + b.batches()).toBe(6); // 60 settles, no write yet
    await Promise.all([a.alerts.close(), b.alerts.close()]);
    // Both replicas see the spike; the second one's record finds the key taken.
    a.settle(subject, 2);
    b.settle(subject, 2);
    await Promise.all([a.alerts.close(), b.alerts.close()]);
    await Promise.all([...a.recorded, ...b.recorded]);
    expect(a.batches() + b.batches()).toBe(10);
    expect([...a.inserted, ...b.inserted]).toEqual([`spike:${subject}:2026-11-30T10:03:00.000Z`]);
    expect(a.recorded.length + b.recorded.length).toBe(2);
    expect(await spikeRows(subject)).toBe(1);
  });

  it('the same split in each process memory (no shared store) fires nothing: neither replica sees the whole minute', async () => {
    let now = new Date(Date.UTC(2026, 10, 30, 11, 0));
    const [a, b] = [replica(ledgers[0]!, () => now, false), replica(ledgers[1]!, () => now, false)];
    const subject = 'acme/unshared';
    for (let minute = 0; minute < 3; minute++) {
      now = new Date(Date.UTC(2026, 10, 30, 11, minute, 10));
      a.settle(subject, 10);
      b.settle(subject, 10);
    }
    now = new Date(Date.UTC(2026, 10, 30, 11, 3, 30));
    for (let i = 0; i < 31; i++) {
      a.settle(subject, 2);
      b.settle(subject, 2);
    }
    await Promise.all([...a.recorded, ...b.recorded]);
    expect(a.recorded.length + b.recorded.length).toBe(0);
    expect(await spikeRows(subject)).toBe(0);
  });

  it('minutes older than the window are forgotten as they age out', async () => {
    const subject = 'acme/old';
    await ledgers[0]!.spikes.add([{ subject, minute: 100, tokens: 5 }], 0);
    await ledgers[1]!.spikes.add(
      [
        { subject, minute: 100, tokens: 7 },
        { subject, minute: 120, tokens: 1 },
      ],
      0,
    );
    expect(await ledgers[0]!.spikes.add([{ subject, minute: 121, tokens: 1 }], 0)).toEqual(
      expect.arrayContaining([
        { subject, minute: 100, tokens: 12 },
        { subject, minute: 120, tokens: 1 },
        { subject, minute: 121, tokens: 1 },
      ]),
    );
    await ledgers[1]!.spikes.forget(110);
    const left = await ledgers[0]!.spikes.add([{ subject, minute: 122, tokens: 1 }], 0);
    expect(left.map((r) => r.minute).sort()).toEqual([120, 121, 122]);
  });
});

describe('alert keys across two replicas', () => {
  it('the same alert recorded by both replicas at once is new for exactly one of them', async () => {
    const alert = {
      key: 'quota:user:acme/ann:daily:2026-11-30:0.8',
      kind: 'quota_warning' as const,
      companyId: 'acme',
      firedAt: '2026-11-30T10:00:00.000Z',
      payload: '{}',
    };
    for (let round = 0; round < 5; round++) {
      const a = { ...alert, key: `${alert.key}:${round}` };
      const results = await Promise.all([ledgers[0]!.alerts.record(a), ledgers[1]!.alerts.record(a)]);
      expect(results.filter(Boolean)).toHaveLength(1);
    }
  });
});
