import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { openLedgerDb } from '../src/ledger/sqlite/db.js';
import { priceBook } from '../src/pricing/price.js';

/** `tollgate prices`, `prices list`, `prices show` and `prices check`, run as child processes on a real ledger file. */
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli.ts')];
const NOW = '2026-11-30T12:00:00Z';
/** The installed price source's version, read from its own package.json. */
const SOURCE_VERSION = (
  JSON.parse(
    readFileSync(
      join(dirname(createRequire(import.meta.url).resolve('@pydantic/genai-prices')), '..', 'package.json'),
      'utf8',
    ),
  ) as { version: string }
).version;

function tollgate(args: string[]) {
  return spawnSync(process.execPath, [...CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, LOG_LEVEL: 'silent' },
    timeout: 30_000,
  });
}

let dir: string;
let configFile: string;
let ledgerFile: string;
const configJson = (ledger: string) => ({
  ledger: { path: ledger },
  companies: {
    acme: {
      name: 'Acme',
      allocations: [{ id: 'g', tokens: 1000, models: ['gpt-4o', 'gpt-9-preview', 'house-llm'] }],
      fallbackPrices: [
        {
          models: ['house-*', 'acme-router'],
          price: { input: 1, output: 2, source: 'contract 42', date: '2026-11-01' },
        },
      ],
    },
  },
  prices: { 'gpt-3.5-turbo': { input: 0.5, output: 1.5, source: 'https://example.com/old', date: '2025-01-01' } },
});

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-prices-'));
  ledgerFile = join(dir, 'ledger.db');
  configFile = join(dir, 'proxy.config.json');
  const json = configJson(ledgerFile);
  writeFileSync(configFile, JSON.stringify(json));
  const book = priceBook(parseConfig(json));
  const now = new Date(NOW);
  // Settled rows as the proxy writes them.
  const { sqlite } = openLedgerDb(ledgerFile);
  const insert =
    sqlite.prepare(`INSERT INTO requests (id, created_at, company_id, endpoint, requested_model, stream, status, hold_tokens, price_version)
                                 VALUES (?, ?, 'acme', '/v1/chat/completions', ?, 0, 'settled', 0, ?)`);
  insert.run('req_1', '2026-11-20T10:00:00.000Z', 'gpt-4o', book.find('gpt-4o', now)!.version);
  insert.run('req_2', '2026-11-21T10:00:00.000Z', 'gpt-4o-2024-08-06', `${book.find('gpt-4o', now)!.version}/priority`);
  // Billed under another gpt-5.1 price than today's.
  insert.run('req_3', '2026-11-25T10:00:00.000Z', 'gpt-5.1', 'gpt-5.1@genai-prices-0.1.7#000000000000');
  insert.run('req_4', '2026-11-25T11:00:00.000Z', 'gpt-5.1', 'gpt-5.1@genai-prices-0.1.7#000000000000');
  // No fine-tuned rates for gpt-5.4-mini anywhere (billed at a fallback price the config no longer has).
  insert.run(
    'req_5',
    '2026-11-26T10:00:00.000Z',
    'ft:gpt-5.4-mini-2026-03-17:acme::abc',
    'x@fallback-2026-01-01#0123456789ab',
  );
  // Run at priority on a model with no priority price: billed at standard prices, and still none.
  const nano = `${book.find('gpt-5.4-nano', now)!.version}/priority-at-standard`;
  insert.run('req_9', '2026-11-26T11:00:00.000Z', 'gpt-5.4-nano', nano);
  insert.run('req_10', '2026-11-26T12:00:00.000Z', 'gpt-5.4-nano-2026-03-17', nano);
  // A row written before versions carried a content hash: not compared.
  insert.run('req_6', '2026-11-27T10:00:00.000Z', 'gpt-4o', 'gpt-4o@2025-08-07');
  // A fallback-priced model, billed at today's fallback price.
  insert.run('req_7', '2026-11-28T10:00:00.000Z', 'house-llm', book.find('house-llm', now, 'acme')!.version);
  // Outside the window.
  insert.run('req_8', '2026-09-01T10:00:00.000Z', 'model-from-long-ago', null);
  sqlite.close();
});

// Each case spawns the CLI (through tsx) several times: seconds each on a busy machine.
describe('tollgate prices', { timeout: 120_000 }, () => {
  it('prints the price source and its installed version', () => {
    const run = tollgate(['prices', '-c', configFile]);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`Prices from @pydantic/genai-prices ${SOURCE_VERSION}:`);
    const json = JSON.parse(tollgate(['prices', '-c', configFile, '--json']).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ source: '@pydantic/genai-prices', version: SOURCE_VERSION, configEntries: 1 });
    expect(json.openaiModels).toBeGreaterThanOrEqual(80);
  });

  it('shows the prices one id gets, who answered and what it resolved to', () => {
    const snapshot = tollgate(['prices', 'show', 'gpt-5.4-2026-03-05', '-c', configFile]);
    expect(snapshot.status).toBe(0);
    expect(snapshot.stdout).toContain('gpt-5.4-2026-03-05 → gpt-5.4 (genai-prices)');
    expect(snapshot.stdout).toMatch(/from 272000 input tokens: input 5, cachedInput 0\.5, output 22\.5/);
    const alias = JSON.parse(tollgate(['prices', 'show', 'codex-mini-latest', '-c', configFile, '--json']).stdout);
    expect(alias).toMatchObject({ priced: { resolvedAs: 'codex-mini', source: 'genai-prices' } });
    const priority = tollgate(['prices', 'show', 'gpt-5.4', '-c', configFile]);
    expect(priority.stdout).toContain('priority 5/0.5/30');
    const noPriority = tollgate(['prices', 'show', 'gpt-5.4-nano', '-c', configFile]);
    expect(noPriority.stdout).toContain(
      'priority: no price known; a request run at priority is billed at standard prices',
    );
    const fineTuned = tollgate(['prices', 'show', 'ft:gpt-4.1-mini-2025-04-14:acme::abc', '-c', configFile]);
    expect(fineTuned.stdout).toContain('ft:gpt-4.1-mini-2025-04-14:acme::abc → ft:gpt-4.1-mini (tollgate)');
    expect(fineTuned.stdout).toContain('Batch and flex: 50% off');
    const own = JSON.parse(tollgate(['prices', 'show', 'sora-2-pro', '-c', configFile, '--json']).stdout);
    expect(own.priced).toMatchObject({ source: 'tollgate', price: { date: '2026-11-30' } });
    const fallback = tollgate(['prices', 'show', 'house-llm', '-c', configFile, '--company', 'acme']);
    expect(fallback.stdout).toContain('house-llm → house-llm (fallback)');
    const none = tollgate(['prices', 'show', 'house-llm', '-c', configFile]);
    expect(none.status).toBe(1);
    expect(none.stdout).toContain('house-llm: no price');
  });

  it('lists every entry in reach with its origin', () => {
    const run = tollgate(['prices', 'list', '-c', configFile, '--json']);
    expect(run.status).toBe(0);
    const rows = JSON.parse(run.stdout) as { model: string; origin: string; price: { source: string } }[];
    expect(rows[0]).toMatchObject({ model: 'gpt-3.5-turbo', origin: 'config' });
    expect(rows.find((r) => r.model === 'house-* acme-router')).toMatchObject({ origin: 'fallback', company: 'acme' });
    expect(rows.find((r) => r.model === 'dall-e-3')).toMatchObject({ origin: 'tollgate' });
    expect(rows.find((r) => r.model === 'gpt-5.5' && r.origin === 'genai-prices')).toBeDefined();
    expect(rows.find((r) => r.model === 'gpt-5.5' && r.origin === 'tollgate')).toMatchObject({
      price: { priority: { input: 12.5, cachedInput: 1.25, output: 75 } },
    });
  });

  it('names the models with no price, a changed price or a stale one, and exits 1', () => {
    const run = tollgate(['prices', 'check', '-c', configFile, '--now', NOW, '--json']);
    expect(run.status).toBe(1);
    const report = JSON.parse(run.stdout) as { models: number; uncompared: number; findings: unknown[] };
    // The config's names are looked up for the company naming them: acme's `house-llm` and
    // `acme-router` are priced by its fallback, `gpt-9-preview` by nothing.
    expect(report).toMatchObject({ models: 7, uncompared: 1 });
    expect(report.findings).toEqual([
      {
        model: 'gpt-5.1',
        problem: 'changed',
        requests: 2,
        billed: 'gpt-5.1@genai-prices-0.1.7#000000000000',
        current: expect.stringMatching(/^gpt-5\.1@genai-prices-.*\+tollgate-2026-11-30#[0-9a-f]{12}$/),
      },
      {
        model: 'gpt-5.4-nano',
        problem: 'priority_unpriced',
        requests: 1,
        current: expect.stringMatching(/^gpt-5\.4-nano@genai-prices-/),
      },
      {
        model: 'gpt-5.4-nano-2026-03-17',
        problem: 'priority_unpriced',
        requests: 1,
        current: expect.stringMatching(/^gpt-5\.4-nano@genai-prices-/),
      },
      {
        model: 'gpt-3.5-turbo',
        problem: 'stale',
        requests: 0,
        current: expect.stringMatching(/^gpt-3\.5-turbo@2025-01-01#/),
        readOn: '2025-01-01',
        ageDays: 698,
      },
      { model: 'ft:gpt-5.4-mini-2026-03-17:acme::abc', problem: 'unpriced', requests: 1 },
      { model: 'gpt-9-preview', problem: 'unpriced', requests: 0 },
    ]);
  });

  it('passes a ledger billed at today’s prices', () => {
    const clean = configJson(ledgerFile);
    clean.companies.acme.allocations[0]!.models = ['gpt-4o'];
    clean.prices = {} as never;
    const file = join(dir, 'clean.config.json');
    writeFileSync(file, JSON.stringify(clean));
    const run = tollgate(['prices', 'check', '-c', file, '--now', NOW, '--days', '3']);
    expect(run.stdout).toContain('priced, unchanged');
    expect(run.status).toBe(0);
  });

  it('refuses a bad option with exit 2', () => {
    const run = tollgate(['prices', 'check', '-c', configFile, '--days', 'soon']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--days expects a positive whole number of days');
  });
});
