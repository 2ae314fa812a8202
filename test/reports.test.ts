import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { openLedgerDb } from '../src/ledger/sqlite/db.js';
import { Ledger } from '../src/ledger/sqlite/ledger.js';
import {
  balanceReport,
  csvField,
  exportCsv,
  exportRows,
  formatMicroUsd,
  historyReport,
  openLedgerReadOnly,
  parseInstant,
  resolveWindow,
  usageReport,
  type ReadOnlyLedger,
} from '../src/reports/index.js';

/**
 * Reports over a ledger seeded through `Ledger` (admit, settle, void at fixed instants): the query
 * functions, the CLI commands run as child processes, and the SQL views of migration 0002.
 */

const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli.ts')];
/** The fixed "now" of every report: 7 days back is 2026-10-24T12:00:00.000Z. */
const NOW = new Date('2026-10-31T12:00:00.000Z');
const SYNC_AT = new Date('2026-10-01T00:00:00.000Z');
const SOURCE = { source: 'https://platform.openai.com/docs/pricing', date: '2025-08-07' };
/** $10 per 1M tokens, in pico-USD per token: the hold price used for every seeded request. */
const PICO_PER_TOKEN = 10_000_000;
const DAVE = 'dave, "the boss"';

const config = parseConfig({
  ledger: { path: 'unused.db' },
  companies: {
    acme: {
      name: 'Acme',
      allocations: [
        { id: 'acme-main', tokens: 1_000_000, startsAt: '2026-10-01T00:00:00Z', purchase: 'openai-2026-10' },
        { id: 'acme-embed', tokens: 50_000, models: ['text-embedding-3-small'] },
        { id: 'acme-usd', usd: 10, models: ['gpt-4o'], expiresAt: '2099-06-30T00:00:00Z' },
        { id: 'acme-nano', unlimited: true, models: ['gpt-5-nano'], expiresAt: '2099-12-31T00:00:00Z' },
        { id: 'acme-expired', tokens: 1000, expiresAt: '2026-01-01T00:00:00Z' },
      ],
    },
    globex: {
      name: 'Globex',
      allocations: [
        { id: 'globex-main', tokens: 200_000 },
        { id: 'globex-next', tokens: 5000, startsAt: '2099-01-01T00:00:00Z' },
      ],
    },
  },
  purchases: { 'openai-2026-10': { date: '2026-10-01', totalTokens: 5_000_000, costPerTokenUsd: 0.000002, provider: 'openai' } },
  prices: {
    'gpt-4o': { input: 2.5, output: 10, ...SOURCE },
    'gpt-4o-mini': { input: 0.15, output: 0.6, ...SOURCE },
  },
});

interface Seed {
  id: string;
  at: string;
  company: string;
  key: string;
  user: string;
  endpoint: string;
  model: string;
  feature?: string;
  /** input, cached, output, reasoning, total tokens; cost micro-USD; latency ms. Absent: voided with HTTP 500. */
  usage?: [number, number, number, number, number, number, number];
  latencyMs: number;
  /** Left held (in flight), never settled. */
  held?: boolean;
}

const CHAT = '/v1/chat/completions';
const SEEDS: Seed[] = [
  { id: 'r01', at: '2026-10-10T09:15:00.000Z', company: 'acme', key: 'acme-web', user: 'alice', endpoint: CHAT, model: 'gpt-4o-mini', usage: [1000, 200, 500, 0, 1500, 450, 0], latencyMs: 120.4 },
  { id: 'r09', at: '2026-10-24T09:00:00.000Z', company: 'acme', key: 'acme-web', user: 'alice', endpoint: CHAT, model: 'gpt-4o-mini', usage: [500, 0, 250, 0, 750, 225, 0], latencyMs: 100 },
  // One millisecond before the 7-day cut-off, then exactly at it (since is inclusive).
  { id: 'r02', at: '2026-10-24T11:59:59.999Z', company: 'acme', key: 'acme-web', user: 'alice', endpoint: CHAT, model: 'gpt-4o-mini', usage: [2000, 0, 1000, 0, 3000, 900, 0], latencyMs: 200 },
  { id: 'r03', at: '2026-10-24T12:00:00.000Z', company: 'acme', key: 'acme-web', user: 'bob', endpoint: '/v1/embeddings', model: 'text-embedding-3-small', usage: [4000, 0, 0, 0, 4000, 80, 0], latencyMs: 50 },
  { id: 'g01', at: '2026-10-25T14:00:00.000Z', company: 'globex', key: 'globex-key', user: 'erin', endpoint: CHAT, model: 'gpt-4o-mini', feature: 'summary', usage: [500, 100, 500, 0, 1000, 375, 0], latencyMs: 300 },
  { id: 'g02', at: '2026-10-28T23:59:59.999Z', company: 'globex', key: 'globex-key', user: 'erin', endpoint: '/v1/completions', model: 'gpt-3.5-turbo-instruct', usage: [50, 0, 20, 0, 70, 115, 0], latencyMs: 250 },
  { id: 'r04', at: '2026-10-29T08:00:00.000Z', company: 'acme', key: 'acme-web', user: 'bob', endpoint: CHAT, model: 'gpt-4o', usage: [100, 0, 50, 0, 150, 750, 0], latencyMs: 800 },
  { id: 'r05', at: '2026-10-29T08:30:00.000Z', company: 'acme', key: 'acme-web', user: 'carol', endpoint: '/v1/responses', model: 'gpt-5-nano', usage: [300, 0, 700, 600, 1000, 290, 0], latencyMs: 1500 },
  { id: 'r06', at: '2026-10-29T09:10:00.000Z', company: 'acme', key: 'acme-web', user: 'alice', endpoint: CHAT, model: 'gpt-4o-mini', latencyMs: 30 },
  { id: 'r07', at: '2026-10-31T11:00:00.000Z', company: 'acme', key: 'acme-batch', user: DAVE, endpoint: CHAT, model: 'gpt-4o-mini', feature: 'chat', usage: [10, 0, 5, 0, 15, 5, 0], latencyMs: 99.5 },
  { id: 'r08', at: '2026-10-31T11:30:00.000Z', company: 'acme', key: 'acme-web', user: 'alice', endpoint: CHAT, model: 'gpt-4o-mini', latencyMs: 0, held: true },
];

let dir: string;
let file: string;
let reader: ReadOnlyLedger;

function seed(path: string): void {
  const { db, sqlite } = openLedgerDb(path);
  const ledger = new Ledger(db);
  ledger.syncGrants(config, SYNC_AT);
  for (const s of SEEDS) {
    const at = new Date(s.at);
    const total = s.usage?.[4] ?? 0;
    const admitted = ledger.admit(
      { id: s.id, companyId: s.company, keyId: s.key, userId: s.user, feature: s.feature ?? null, endpoint: s.endpoint, requestedModel: s.model, stream: false, estimatedPromptTokens: 100 },
      { minTokens: 100, maxTokens: s.held ? 2000 : total + 100, clamp: false, maxPicoPerToken: PICO_PER_TOKEN },
      at,
    );
    if (!admitted.ok) throw new Error(`seed ${s.id} refused`);
    if (s.held) continue;
    const end = new Date(at.getTime() + Math.ceil(s.latencyMs));
    if (!s.usage) {
      ledger.void(s.id, { httpStatus: 500, usageSource: 'none', latencyMs: s.latencyMs, errorCode: 'server_error' }, end);
      continue;
    }
    const [inputTokens, cachedInputTokens, outputTokens, reasoningTokens, totalTokens, cost] = s.usage;
    ledger.settle(
      s.id,
      { httpStatus: 200, usage: { inputTokens, cachedInputTokens, outputTokens, reasoningTokens, totalTokens }, usageSource: 'upstream', meteredTokens: totalTokens, costMicroUsd: cost, latencyMs: s.latencyMs },
      end,
    );
  }
  sqlite.close();
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-reports-'));
  file = join(dir, 'ledger.db');
  seed(file);
  reader = openLedgerReadOnly(file);
});
afterAll(() => {
  reader?.close();
  rmSync(dir, { recursive: true, force: true });
});

function tollgate(args: string[]) {
  return spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8', env: { ...process.env, LOG_LEVEL: 'silent' }, timeout: 20_000 });
}

describe('money and CSV formatting', () => {
  it('formats micro-USD from the integer, without float drift', () => {
    expect(formatMicroUsd(0)).toBe('0.000000');
    expect(formatMicroUsd(450)).toBe('0.000450');
    expect(formatMicroUsd(1_234_567_890)).toBe('1234.567890');
    expect(formatMicroUsd(-5)).toBe('-0.000005');
    // Number.MAX_SAFE_INTEGER / 1e6 in floating point prints 9007199254.740992.
    expect(formatMicroUsd(Number.MAX_SAFE_INTEGER)).toBe('9007199254.740991');
    expect(() => formatMicroUsd(1.5)).toThrow(RangeError);
  });

  it('quotes CSV fields per RFC 4180', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r')).toBe('"cr\r"');
    expect(csvField(null)).toBe('');
    expect(csvField(false)).toBe('false');
  });

  it('parses windows: periods back from now, explicit bounds, refusals', () => {
    expect(resolveWindow({ period: '7d' }, NOW)).toEqual({ since: '2026-10-24T12:00:00.000Z' });
    expect(resolveWindow({ period: '90d' }, NOW)).toEqual({ since: '2026-08-02T12:00:00.000Z' });
    expect(resolveWindow({ since: '2026-10-24', until: '2026-10-25T02:00:00+02:00' }, NOW)).toEqual({ since: '2026-10-24T00:00:00.000Z', until: '2026-10-25T00:00:00.000Z' });
    expect(() => resolveWindow({ period: '7d', since: '2026-10-01' }, NOW)).toThrow('either a period or since/until');
    expect(() => parseInstant('2026-10-24T00:00', 'since')).toThrow('since: expected an ISO 8601 instant');
  });
});

describe('balance', () => {
  it('reports per company, per grant (with purchase), per model scope and the unlimited models', () => {
    const [acme, globex, ...rest] = balanceReport(reader.db, NOW);
    expect(rest).toEqual([]);
    expect(acme).toMatchObject({ companyId: 'acme', tokens: 992_735 + 46_000, microUsd: 9_999_250, unlimitedModels: ['gpt-5-nano'] });
    const grant = (id: string) => acme!.grants.find((g) => g.id === id);
    expect(grant('acme-main')).toEqual({
      id: 'acme-main',
      unit: 'tokens',
      unlimited: false,
      models: null,
      amount: 1_000_000,
      spent: 1500 + 750 + 3000 + 15,
      held: 2000,
      remaining: 992_735,
      active: true,
      startsAt: '2026-10-01T00:00:00.000Z',
      expiresAt: null,
      purchaseId: 'openai-2026-10',
      purchase: { id: 'openai-2026-10', provider: 'openai', date: '2026-10-01' },
    });
    expect(grant('acme-usd')).toMatchObject({ unit: 'micro_usd', amount: 10_000_000, spent: 750, held: 0, remaining: 9_999_250, active: true, purchase: null });
    expect(grant('acme-nano')).toMatchObject({ unlimited: true, spent: 1000, remaining: null, active: true });
    expect(grant('acme-expired')).toMatchObject({ remaining: 1000, active: false });
    // Burn order: the USD and unlimited grants expire, so they burn before acme-main.
    expect(acme!.grants.map((g) => g.id)).toEqual(['acme-expired', 'acme-usd', 'acme-nano', 'acme-embed', 'acme-main']);
    expect(acme!.byModel).toEqual([
      { models: null, tokens: 992_735, microUsd: 0, unlimited: false, grantIds: ['acme-main'], expiresAt: null },
      { models: ['gpt-4o'], tokens: 0, microUsd: 9_999_250, unlimited: false, grantIds: ['acme-usd'], expiresAt: '2099-06-30T00:00:00.000Z' },
      { models: ['gpt-5-nano'], tokens: 0, microUsd: 0, unlimited: true, grantIds: ['acme-nano'], expiresAt: '2099-12-31T00:00:00.000Z' },
      { models: ['text-embedding-3-small'], tokens: 46_000, microUsd: 0, unlimited: false, grantIds: ['acme-embed'], expiresAt: null },
    ]);
    expect(globex).toMatchObject({ companyId: 'globex', tokens: 198_930, microUsd: 0, unlimitedModels: [] });
    expect(globex!.grants.find((g) => g.id === 'globex-next')).toMatchObject({ remaining: 5000, active: false });
    expect(globex!.byModel).toEqual([{ models: null, tokens: 198_930, microUsd: 0, unlimited: false, grantIds: ['globex-main'], expiresAt: null }]);
    expect(balanceReport(reader.db, NOW, 'globex')).toEqual([globex]);
  });
});

describe('usage', () => {
  const zero = { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0, totalTokens: 0, costMicroUsd: 0, errors: 0 };

  it('sums every finished request, leaving out the one still held', () => {
    expect(usageReport(reader.db, {})).toEqual([
      { key: null, companyId: null, requests: 10, inputTokens: 8460, cachedInputTokens: 300, outputTokens: 3025, reasoningTokens: 600, totalTokens: 11_485, costMicroUsd: 3190, errors: 1, avgLatencyMs: 345 },
    ]);
    expect(usageReport(reader.db, { companyId: 'nobody' })).toEqual([{ key: null, companyId: null, requests: 0, ...zero, avgLatencyMs: null }]);
  });

  it('groups by user within each company', () => {
    expect(usageReport(reader.db, { companyId: 'acme' }, 'user')).toEqual([
      { key: 'alice', companyId: 'acme', requests: 4, inputTokens: 3500, cachedInputTokens: 200, outputTokens: 1750, reasoningTokens: 0, totalTokens: 5250, costMicroUsd: 1575, errors: 1, avgLatencyMs: 112.6 },
      { key: 'bob', companyId: 'acme', requests: 2, inputTokens: 4100, cachedInputTokens: 0, outputTokens: 50, reasoningTokens: 0, totalTokens: 4150, costMicroUsd: 830, errors: 0, avgLatencyMs: 425 },
      { key: 'carol', companyId: 'acme', requests: 1, inputTokens: 300, cachedInputTokens: 0, outputTokens: 700, reasoningTokens: 600, totalTokens: 1000, costMicroUsd: 290, errors: 0, avgLatencyMs: 1500 },
      { key: DAVE, companyId: 'acme', requests: 1, inputTokens: 10, cachedInputTokens: 0, outputTokens: 5, reasoningTokens: 0, totalTokens: 15, costMicroUsd: 5, errors: 0, avgLatencyMs: 99.5 },
    ]);
  });

  it('groups by model, endpoint and company', () => {
    const brief = (rows: ReturnType<typeof usageReport>) => rows.map((r) => [r.key, r.requests, r.totalTokens, r.costMicroUsd]);
    expect(brief(usageReport(reader.db, {}, 'model'))).toEqual([
      ['gpt-3.5-turbo-instruct', 1, 70, 115],
      ['gpt-4o', 1, 150, 750],
      ['gpt-4o-mini', 6, 1500 + 750 + 3000 + 1000 + 15, 450 + 225 + 900 + 375 + 5],
      ['gpt-5-nano', 1, 1000, 290],
      ['text-embedding-3-small', 1, 4000, 80],
    ]);
    expect(brief(usageReport(reader.db, { companyId: 'acme' }, 'endpoint'))).toEqual([
      [CHAT, 6, 1500 + 750 + 3000 + 150 + 15, 450 + 225 + 900 + 750 + 5],
      ['/v1/embeddings', 1, 4000, 80],
      ['/v1/responses', 1, 1000, 290],
    ]);
    expect(brief(usageReport(reader.db, {}, 'company'))).toEqual([
      ['acme', 8, 10_415, 2700],
      ['globex', 2, 1070, 490],
    ]);
  });

  it('cuts the 7-day period at now minus 7 × 24 h and groups by UTC day', () => {
    const rows = usageReport(reader.db, resolveWindow({ period: '7d' }, NOW), 'day');
    expect(rows.map((r) => [r.key, r.requests, r.totalTokens, r.costMicroUsd, r.errors])).toEqual([
      ['2026-10-24', 1, 4000, 80, 0], // r03 at the cut-off; r02 one millisecond earlier is out
      ['2026-10-25', 1, 1000, 375, 0],
      ['2026-10-28', 1, 70, 115, 0],
      ['2026-10-29', 3, 1150, 1040, 1],
      ['2026-10-31', 1, 15, 5, 0],
    ]);
  });

  it('groups by UTC hour within since/until', () => {
    const rows = usageReport(reader.db, { companyId: 'acme', since: '2026-10-29T00:00:00.000Z', until: '2026-10-29T09:10:00.000Z' }, 'hour');
    expect(rows.map((r) => [r.key, r.requests, r.totalTokens])).toEqual([['2026-10-29T08:00Z', 2, 1150]]);
  });

  it('filters by user, key, model, endpoint and feature', () => {
    const count = (f: Parameters<typeof usageReport>[1]) => usageReport(reader.db, f)[0]!.requests;
    expect(count({ userId: 'erin' })).toBe(2);
    expect(count({ userId: 'alice' })).toBe(4);
    expect(count({ keyId: 'acme-batch' })).toBe(1);
    expect(count({ model: 'gpt-4o-mini' })).toBe(6);
    expect(count({ model: 'gpt-4o-mini', companyId: 'globex' })).toBe(1);
    expect(count({ endpoint: '/v1/embeddings' })).toBe(1);
    expect(count({ feature: 'summary' })).toBe(1);
    expect(count({ until: '2026-10-24T12:00:00.000Z' })).toBe(3);
  });
});

describe('export', () => {
  const HEADER = 'Date,User ID,Endpoint,Model,Input Tokens,Output Tokens,Total Tokens,Total Cost (USD),Success,Response Time (ms),Company,Request ID\r\n';

  it("writes seed 003's columns, then Company and Request ID, quoting a user id with a comma and quotes", () => {
    expect(exportCsv(exportRows(reader.db, { userId: DAVE }))).toBe(HEADER + '2026-10-31T11:00:00.000Z,"dave, ""the boss""",/v1/chat/completions,gpt-4o-mini,10,5,15,0.000005,true,100,acme,r07\r\n');
  });

  it('exports oldest first, a voided request as Success false, never a held one', () => {
    expect(exportCsv(exportRows(reader.db, { companyId: 'globex' }))).toBe(
      HEADER +
        '2026-10-25T14:00:00.000Z,erin,/v1/chat/completions,gpt-4o-mini,500,500,1000,0.000375,true,300,globex,g01\r\n' +
        '2026-10-28T23:59:59.999Z,erin,/v1/completions,gpt-3.5-turbo-instruct,50,20,70,0.000115,true,250,globex,g02\r\n',
    );
    const acme = exportRows(reader.db, { companyId: 'acme', userId: 'alice' });
    expect(acme.map((r) => [r.id, r.success])).toEqual([
      ['r01', true],
      ['r09', true],
      ['r02', true],
      ['r06', false],
    ]);
    expect(exportCsv(acme).split('\r\n')[4]).toBe('2026-10-29T09:10:00.000Z,alice,/v1/chat/completions,gpt-4o-mini,0,0,0,0.000000,false,30,acme,r06');
  });
});

describe('history', () => {
  it('lists the last requests newest first with the tokens remaining after each', () => {
    const rows = historyReport(reader.db, NOW, { companyId: 'acme' });
    // Now: acme-main 992,735 + acme-embed 46,000. Going back, each row adds back what the newer ones
    // debited from those grants (the USD and unlimited grants do not count).
    expect(rows.map((r) => [r.requestId, r.model, r.tokensUsed, r.remainingTokens])).toEqual([
      ['r07', 'gpt-4o-mini', 15, 1_038_735],
      ['r06', 'gpt-4o-mini', 0, 1_038_750],
      ['r05', 'gpt-5-nano', 1000, 1_038_750],
      ['r04', 'gpt-4o', 150, 1_038_750],
      ['r03', 'text-embedding-3-small', 4000, 1_038_750],
      ['r02', 'gpt-4o-mini', 3000, 1_042_750],
      ['r09', 'gpt-4o-mini', 750, 1_045_750],
      // Before anything: 1,050,000 granted, minus r01's 1,500 and the 2,000 r08 holds now.
      ['r01', 'gpt-4o-mini', 1500, 1_046_500],
    ]);
    expect(rows[0]).toEqual({ requestId: 'r07', createdAt: '2026-10-31T11:00:00.000Z', companyId: 'acme', userId: DAVE, endpoint: CHAT, model: 'gpt-4o-mini', feature: 'chat', status: 'settled', tokensUsed: 15, costMicroUsd: 5, remainingTokens: 1_038_735 });
  });

  it('limits to the last N across companies, each row against its own company', () => {
    const rows = historyReport(reader.db, NOW, { limit: 5 });
    expect(rows.map((r) => [r.requestId, r.remainingTokens])).toEqual([
      ['r07', 1_038_735],
      ['r06', 1_038_750],
      ['r05', 1_038_750],
      ['r04', 1_038_750],
      ['g02', 198_930],
    ]);
  });
});

describe('operator views (migration 0002)', () => {
  it('apply to a fresh ledger and are empty there', () => {
    const fresh = openLedgerDb(join(dir, 'fresh', 'ledger.db'));
    for (const view of ['daily_usage', 'grant_balances', 'open_holds']) expect(fresh.sqlite.prepare(`SELECT * FROM ${view}`).all()).toEqual([]);
    fresh.sqlite.close();
  });

  it('daily_usage sums per UTC day, company, user and model, without held rows', () => {
    const rows = reader.sqlite.prepare('SELECT * FROM daily_usage ORDER BY day, company_id, user_id, requested_model').all();
    const row = (day: string, company: string, user: string, model: string, n: number, input: number, cached: number, output: number, total: number, cost: number) => ({
      day,
      company_id: company,
      user_id: user,
      requested_model: model,
      requests: n,
      input_tokens: input,
      cached_input_tokens: cached,
      output_tokens: output,
      total_tokens: total,
      cost_micro_usd: cost,
    });
    expect(rows).toEqual([
      row('2026-10-10', 'acme', 'alice', 'gpt-4o-mini', 1, 1000, 200, 500, 1500, 450),
      row('2026-10-24', 'acme', 'alice', 'gpt-4o-mini', 2, 2500, 0, 1250, 3750, 1125),
      row('2026-10-24', 'acme', 'bob', 'text-embedding-3-small', 1, 4000, 0, 0, 4000, 80),
      row('2026-10-25', 'globex', 'erin', 'gpt-4o-mini', 1, 500, 100, 500, 1000, 375),
      row('2026-10-28', 'globex', 'erin', 'gpt-3.5-turbo-instruct', 1, 50, 0, 20, 70, 115),
      row('2026-10-29', 'acme', 'alice', 'gpt-4o-mini', 1, 0, 0, 0, 0, 0),
      row('2026-10-29', 'acme', 'bob', 'gpt-4o', 1, 100, 0, 50, 150, 750),
      row('2026-10-29', 'acme', 'carol', 'gpt-5-nano', 1, 300, 0, 700, 1000, 290),
      row('2026-10-31', 'acme', DAVE, 'gpt-4o-mini', 1, 10, 0, 5, 15, 5),
    ]);
  });

  it('grant_balances shows each grant with remaining and active against the clock', () => {
    const rows = reader.sqlite.prepare('SELECT grant_id, company_id, unit, unlimited, amount, spent, held, remaining, active, expires_at FROM grant_balances ORDER BY grant_id').all();
    // The grants' dates are far enough from today (2026-01-01, 2099) for `active` not to depend on the day the test runs.
    expect(rows).toEqual([
      { grant_id: 'acme-embed', company_id: 'acme', unit: 'tokens', unlimited: 0, amount: 50_000, spent: 4000, held: 0, remaining: 46_000, active: 1, expires_at: null },
      { grant_id: 'acme-expired', company_id: 'acme', unit: 'tokens', unlimited: 0, amount: 1000, spent: 0, held: 0, remaining: 1000, active: 0, expires_at: '2026-01-01T00:00:00.000Z' },
      { grant_id: 'acme-main', company_id: 'acme', unit: 'tokens', unlimited: 0, amount: 1_000_000, spent: 5265, held: 2000, remaining: 992_735, active: 1, expires_at: null },
      { grant_id: 'acme-nano', company_id: 'acme', unit: 'tokens', unlimited: 1, amount: 0, spent: 1000, held: 0, remaining: null, active: 1, expires_at: '2099-12-31T00:00:00.000Z' },
      { grant_id: 'acme-usd', company_id: 'acme', unit: 'micro_usd', unlimited: 0, amount: 10_000_000, spent: 750, held: 0, remaining: 9_999_250, active: 1, expires_at: '2099-06-30T00:00:00.000Z' },
      { grant_id: 'globex-main', company_id: 'globex', unit: 'tokens', unlimited: 0, amount: 200_000, spent: 1070, held: 0, remaining: 198_930, active: 1, expires_at: null },
      { grant_id: 'globex-next', company_id: 'globex', unit: 'tokens', unlimited: 0, amount: 5000, spent: 0, held: 0, remaining: 5000, active: 0, expires_at: null },
    ]);
  });

  it('open_holds lists the request still held, its hold and its age', () => {
    const before = Date.now();
    const rows = reader.sqlite.prepare('SELECT * FROM open_holds').all() as Record<string, unknown>[];
    const after = Date.now();
    expect(rows).toHaveLength(1);
    const { age_seconds: age, ...rest } = rows[0]!;
    expect(rest).toEqual({ request_id: 'r08', company_id: 'acme', created_at: '2026-10-31T11:30:00.000Z', hold_tokens: 2000, grant_id: 'acme-main', unit: 'tokens', amount: 2000 });
    const created = Date.parse('2026-10-31T11:30:00.000Z');
    expect(age).toBeGreaterThanOrEqual(Math.floor((before - created) / 1000) - 1);
    expect(age).toBeLessThanOrEqual(Math.ceil((after - created) / 1000) + 1);
  });
});

describe('report commands', () => {
  const at = ['--ledger', '', '--now', NOW.toISOString()];
  const args = (...rest: string[]) => [...rest, ...at.map((a) => a || file)];

  it('balance: a table, --json and --csv', () => {
    const table = tollgate(args('balance', '--company', 'acme'));
    expect(table.stderr).toBe('');
    expect(table.status).toBe(0);
    expect(table.stdout).toContain('acme: 1,038,735 tokens and 9.999250 USD left on active grants; unlimited: gpt-5-nano\n');
    expect(table.stdout).toMatch(/^acme-main\s+tokens\s+all\s+1,000,000\s+5,265\s+2,000\s+992,735\s+yes\s+never\s+openai-2026-10 \(openai, 2026-10-01\)$/m);
    expect(table.stdout).toMatch(/^acme-usd\s+USD\s+gpt-4o\s+10\.000000\s+0\.000750\s+0\.000000\s+9\.999250\s+yes\s+2099-06-30T00:00:00\.000Z\s+-$/m);
    expect(table.stdout).toMatch(/^gpt-5-nano\s+0\s+0\.000000\s+yes\s+2099-12-31T00:00:00\.000Z\s+acme-nano$/m);

    const json = tollgate(args('balance', '--json'));
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(balanceReport(reader.db, NOW));

    const csv = tollgate(args('balance', '--company', 'globex', '--csv'));
    expect(csv.stdout).toBe(
      'company,grant,unit,unlimited,models,amount,spent,held,remaining,active,starts_at,expires_at,purchase\r\n' +
        'globex,globex-main,tokens,false,,200000,1070,0,198930,true,,,\r\n' +
        'globex,globex-next,tokens,false,,5000,0,0,5000,false,2099-01-01T00:00:00.000Z,,\r\n',
    );
  });

  it('usage: a table, --csv grouped by user, --json over a 7-day period', () => {
    const table = tollgate(args('usage', '--company', 'globex', '--group-by', 'model'));
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/^model\s+requests\s+input\s+cached\s+output\s+reasoning\s+total\s+cost USD\s+errors\s+avg ms$/m);
    expect(table.stdout).toMatch(/^gpt-4o-mini\s+1\s+500\s+100\s+500\s+0\s+1,000\s+0\.000375\s+0\s+300\.0$/m);

    const csv = tollgate(args('usage', '--company', 'acme', '--group-by', 'user', '--model', 'gpt-4o-mini', '--csv'));
    expect(csv.stdout).toBe(
      'company,user,requests,input_tokens,cached_input_tokens,output_tokens,reasoning_tokens,total_tokens,cost_micro_usd,cost_usd,errors,avg_latency_ms\r\n' +
        'acme,alice,4,3500,200,1750,0,5250,1575,0.001575,1,112.6\r\n' +
        'acme,"dave, ""the boss""",1,10,0,5,0,15,5,0.000005,0,99.5\r\n',
    );

    const json = tollgate(args('usage', '--period', '7d', '--group-by', 'day', '--json'));
    expect(JSON.parse(json.stdout)).toEqual(usageReport(reader.db, { since: '2026-10-24T12:00:00.000Z' }, 'day'));
    expect(JSON.parse(json.stdout)).toHaveLength(5);
  });

  it('export: CSV on stdout or into a file', () => {
    const csv = tollgate(args('export', '--user', DAVE));
    expect(csv.status).toBe(0);
    expect(csv.stdout).toBe(
      'Date,User ID,Endpoint,Model,Input Tokens,Output Tokens,Total Tokens,Total Cost (USD),Success,Response Time (ms),Company,Request ID\r\n' +
        '2026-10-31T11:00:00.000Z,"dave, ""the boss""",/v1/chat/completions,gpt-4o-mini,10,5,15,0.000005,true,100,acme,r07\r\n',
    );
    const out = join(dir, 'acme.csv');
    const toFile = tollgate(args('export', '--company', 'acme', '--period', '30d', '-o', out));
    expect(toFile.status).toBe(0);
    expect(toFile.stdout).toBe('');
    expect(toFile.stderr).toBe(`wrote 8 rows to ${out}\n`);
    expect(readFileSync(out, 'utf8')).toBe(exportCsv(exportRows(reader.db, { companyId: 'acme', since: '2026-10-01T12:00:00.000Z' })));
  });

  it('history: a table, --json, and the ledger named by the config', () => {
    const table = tollgate(args('history', '--company', 'acme', '-n', '2'));
    expect(table.status).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^date\s+company\s+user\s+model\s+endpoint\s+status\s+tokens used\s+remaining\s+cost USD$/);
    expect(lines.slice(2)).toHaveLength(2);
    expect(lines[2]).toMatch(/^2026-10-31T11:00:00\.000Z\s+acme\s+dave, "the boss"\s+gpt-4o-mini\s+\/v1\/chat\/completions\s+settled\s+15\s+1,038,735\s+0\.000005$/);
    expect(lines[3]).toMatch(/^2026-10-29T09:10:00\.000Z\s+acme\s+alice\s+gpt-4o-mini\s+\/v1\/chat\/completions\s+voided\s+0\s+1,038,750\s+0\.000000$/);

    const json = tollgate(args('history', '-n', '5', '--json'));
    expect(JSON.parse(json.stdout)).toEqual(historyReport(reader.db, NOW, { limit: 5 }));

    const cfg = join(dir, 'proxy.config.json');
    writeFileSync(cfg, JSON.stringify({ ledger: { path: './ledger.db' }, companies: { globex: { name: 'Globex', keys: [], allocations: [] } } }));
    const viaConfig = tollgate(['history', '-c', cfg, '--company', 'globex', '--csv', '--now', NOW.toISOString()]);
    expect(viaConfig.stdout).toBe(
      'date,company,user,model,endpoint,feature,status,tokens_used,remaining_tokens,cost_micro_usd,request_id\r\n' +
        '2026-10-28T23:59:59.999Z,globex,erin,gpt-3.5-turbo-instruct,/v1/completions,,settled,70,198930,115,g02\r\n' +
        '2026-10-25T14:00:00.000Z,globex,erin,gpt-4o-mini,/v1/chat/completions,summary,settled,1000,199000,375,g01\r\n',
    );
  });

  it('refuses bad input with exit 2 and a message, and has --help', () => {
    const badSince = tollgate(args('usage', '--since', 'yesterday'));
    expect(badSince.status).toBe(2);
    expect(badSince.stderr).toContain('since: expected an ISO 8601 instant');
    const missing = tollgate(['balance', '--ledger', join(dir, 'nope.db')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`cannot open the ledger ${join(dir, 'nope.db')}`);
    // An unknown company is refused, not reported as "0 tokens left": from the config, and from the ledger alone.
    const unknownViaLedger = tollgate(args('balance', '--company', 'initech'));
    expect(unknownViaLedger.status).toBe(2);
    expect(unknownViaLedger.stderr).toMatch(/^no company "initech" in the ledger .*\(companies: acme, globex\)\n$/);
    const cfgFile = join(dir, 'acme-only.json');
    writeFileSync(cfgFile, JSON.stringify({ ledger: { path: './ledger.db' }, companies: { acme: { name: 'Acme', keys: [], allocations: [] } } }));
    const unknownViaConfig = tollgate(['history', '-c', cfgFile, '--company', 'globex']);
    expect(unknownViaConfig.status).toBe(2);
    expect(unknownViaConfig.stderr).toBe(`no company "globex" in the config ${cfgFile} (companies: acme)\n`);
    const both = tollgate(args('usage', '--period', '7d', '--since', '2026-10-01'));
    expect(both.status).not.toBe(0);
    expect(both.stderr).toContain('cannot be used with');
    for (const cmd of ['balance', 'usage', 'export', 'history']) {
      const help = tollgate([cmd, '--help']);
      expect(help.status).toBe(0);
      expect(help.stdout).toContain(`Usage: tollgate ${cmd}`);
      expect(help.stdout).toContain('--ledger <file>');
    }
  });
});
