import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintKey } from '../src/auth/api-key.js';
import { parseConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { createLogger } from '../src/log.js';
import { startServer, type RunningServer } from '../src/server.js';
import { startTollgate, TEST_PRICES, UPSTREAM_KEY, type Tollgate } from './support/harness.js';
import { createDatabase, dropDatabase } from './support/postgres.js';
import type { ScriptedUpstream } from './support/scripted-upstream.js';
import { chatOf, maxTokensUpstream } from './support/usage-upstream.js';
import { waitUntil } from './support/wait.js';

/**
 * Recurring allocations across a month boundary, on a clock the test moves: each period's grant is
 * created exactly once — by two replicas renewing at the same instant, and by a replica started
 * after tollgate was down at the boundary — and what the last period left rolls over, capped.
 */

const MONTHLY = { id: 'monthly', tokens: 1000, every: 'month', rollover: { max: 300 } };

let upstream: ScriptedUpstream;
beforeAll(async () => {
  upstream = await maxTokensUpstream();
});
afterAll(() => upstream.close());

/** A request metered `tokens` tokens (5 of prompt). */
const spend = (client: OpenAI, tokens: number) => client.chat.completions.create(chatOf(tokens - 5));

describe('on Postgres, two replicas and a restart', () => {
  let db: { name: string; url: string };
  let reader: pg.Client;
  let config: Config;
  let key: string;
  const servers: RunningServer[] = [];
  let now = new Date('2026-11-30T23:50:00Z');
  const clock = () => now;
  const start = async () => {
    const s = await startServer(structuredClone(config), {
      upstreamKey: UPSTREAM_KEY,
      log: createLogger('silent'),
      clock,
    });
    servers.push(s);
    return new OpenAI({ baseURL: `${s.url}/v1`, apiKey: key, maxRetries: 0 });
  };
  const grants = async () =>
    (
      await reader.query(
        'SELECT id, amount, spent, held, removed_at IS NOT NULL AS removed, starts_at, expires_at FROM grants ORDER BY id',
      )
    ).rows.map((r) => ({ ...r, amount: Number(r.amount), spent: Number(r.spent), held: Number(r.held) }));

  beforeAll(async () => {
    db = await createDatabase();
    const minted = mintKey();
    key = minted.key;
    config = parseConfig({
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { baseUrl: upstream.url },
      ledger: { url: db.url },
      companies: {
        acme: {
          name: 'acme',
          timeZone: 'UTC',
          allocations: [MONTHLY],
          keys: [{ id: 'acme-key', sha256: minted.sha256, prefix: minted.prefix }],
        },
      },
      prices: TEST_PRICES,
    });
    reader = new pg.Client({ connectionString: db.url });
    await reader.connect();
  });
  afterAll(async () => {
    await reader.end();
    for (const s of servers) await s.close(200);
    await dropDatabase(db.name);
  });

  it('renews once when both replicas cross the boundary, and once more for a replica started after one', async () => {
    const a = await start();
    const b = await start();
    for (let i = 0; i < 4; i++) await spend(i % 2 ? a : b, 100); // November: 400 of 1000 spent
    expect(await grants()).toEqual([expect.objectContaining({ id: 'monthly@2026-11', spent: 400, removed: false })]);

    // One second past the boundary, both replicas get requests at once: each renews on its first one.
    now = new Date('2026-12-01T00:00:01Z');
    const december = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => spend(i % 2 ? a : b, 50)));
    expect(december.every((r) => r.status === 'fulfilled')).toBe(true);
    const dec = await grants();
    expect(dec.map((g) => g.id)).toEqual(['monthly@2026-11', 'monthly@2026-12', 'monthly@2026-12.rollover']);
    expect(dec[0]).toMatchObject({ spent: 400, removed: true }); // retired, history kept
    expect(dec[1]).toMatchObject({ amount: 1000, spent: 500, starts_at: new Date('2026-12-01T00:00:00Z') });
    expect(dec[2]).toMatchObject({ amount: 300, spent: 0 }); // 600 left, capped at 300
    const debits = await reader.query('SELECT grant_id, count(*)::int AS n FROM debits GROUP BY grant_id ORDER BY 1');
    expect(debits.rows).toEqual([
      { grant_id: 'monthly@2026-11', n: 4 },
      { grant_id: 'monthly@2026-12', n: 10 },
    ]);

    // tollgate down across the next boundary: a replica started on January 5th renews at start.
    for (const s of servers.splice(0)) await s.close(200);
    now = new Date('2027-01-05T09:00:00Z');
    const c = await start();
    const jan = await grants();
    expect(jan.filter((g) => !g.removed).map((g) => [g.id, g.amount])).toEqual([
      ['monthly@2027-01', 1000],
      ['monthly@2027-01.rollover', 300], // December left 500 + its 300 carried: capped at 300
    ]);
    await spend(c, 100);
    expect((await grants()).find((g) => g.id === 'monthly@2027-01')).toMatchObject({ spent: 100 });
    // A second replica started in the same period changes nothing.
    const before = await grants();
    await start();
    expect(await grants()).toEqual(before);
    expect(before).toHaveLength(5);
  });
});

describe('on SQLite, the first request past the boundary and a restart', () => {
  it('renews on the first admission of the new period, and at start after a stop across the boundary', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-renewal-'));
    let now = new Date('2026-11-30T23:59:59Z');
    const open = () =>
      startTollgate({
        upstreamUrl: upstream.url,
        clock: () => now,
        ledgerPath: join(dir, 'ledger.db'),
        companies: { acme: { allocations: [{ ...MONTHLY, rollover: { max: 250 } }], timeZone: 'Europe/Berlin' } },
      });
    const grants = (t: Tollgate) =>
      t.query('SELECT id, amount, spent, removed_at IS NOT NULL AS removed FROM grants ORDER BY id');
    let t = await open();
    try {
      // Berlin is an hour ahead: 23:59:59 UTC on November 30th is already December there.
      expect(grants(t).map((g) => g.id)).toEqual(['monthly@2026-12']);
      await spend(t.client(), 900);
      now = new Date('2026-12-31T23:00:00Z'); // midnight in Berlin: January
      await spend(t.client(), 10);
      expect(grants(t)).toEqual([
        { id: 'monthly@2026-12', amount: 1000, spent: 900, removed: 1 },
        { id: 'monthly@2027-01', amount: 1000, spent: 10, removed: 0 },
        { id: 'monthly@2027-01.rollover', amount: 100, spent: 0, removed: 0 },
      ]);
      await t.close();
      now = new Date('2027-02-10T12:00:00Z'); // down across February's boundary
      t = await open();
      expect(grants(t).filter((g) => g.removed === 0)).toEqual([
        { id: 'monthly@2027-02', amount: 1000, spent: 0, removed: 0 },
        { id: 'monthly@2027-02.rollover', amount: 250, spent: 0, removed: 0 },
      ]);
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('renews an idle tollgate at the boundary, on its timer', async () => {
    let now = new Date('2026-11-30T23:59:59.700Z');
    const t = await startTollgate({
      upstreamUrl: upstream.url,
      clock: () => now,
      companies: { acme: { allocations: [{ id: 'daily', tokens: 50, every: 'day' }] } },
    });
    try {
      now = new Date('2026-12-01T00:00:00.500Z'); // the timer, armed for the boundary, wakes after it
      await waitUntil(() => t.query("SELECT id FROM grants WHERE id = 'daily@2026-12-01'").length === 1, {
        what: "the timer's renewal",
      });
      expect(t.query('SELECT id, removed_at IS NOT NULL AS removed FROM grants ORDER BY id')).toEqual([
        { id: 'daily@2026-11-30', removed: 1 },
        { id: 'daily@2026-12-01', removed: 0 },
      ]);
    } finally {
      await t.close();
    }
  });
});
