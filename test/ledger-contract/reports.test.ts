import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestFilter, UsageRow } from '../../src/ledger/port.js';
import { balanceReport, exportCsv, historyReport, resolveWindow, succeeded } from '../../src/reports/index.js';
import { ADAPTERS, type OpenedLedger } from './adapters.js';
import { CHAT, DAVE, NOW, seedLedger } from './report-fixture.js';

/** The report queries of the ledger port (balance, usage, the request log, history) on a seeded ledger, for each adapter. */
describe.each(ADAPTERS)('report queries ($name)', (adapter) => {
  let opened: OpenedLedger;
  let ledger: OpenedLedger['ledger'];
  beforeAll(async () => {
    opened = await adapter.open();
    ledger = opened.ledger;
    await seedLedger(ledger);
  });
  afterAll(() => opened?.close());

  describe('balance', () => {
    it('reports per company, per grant (with purchase), per model scope and the unlimited models', async () => {
      const [acme, globex, ...rest] = await balanceReport(ledger, NOW);
      expect(rest).toEqual([]);
      expect(acme).toMatchObject({
        companyId: 'acme',
        tokens: 992_735 + 46_000,
        microUsd: 9_999_250,
        unlimitedModels: ['gpt-5-nano'],
      });
      const grant = (id: string) => acme!.grants.find((g) => g.id === id);
      expect(grant('acme-main')).toEqual({
        id: 'acme-main',
        unit: 'tokens',
        priority: 1,
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
      expect(grant('acme-usd')).toMatchObject({
        unit: 'micro_usd',
        amount: 10_000_000,
        spent: 750,
        held: 0,
        remaining: 9_999_250,
        active: true,
        purchase: null,
      });
      expect(grant('acme-nano')).toMatchObject({ unlimited: true, spent: 1000, remaining: null, active: true });
      expect(grant('acme-expired')).toMatchObject({ remaining: 1000, active: false });
      // Burn order: the USD and unlimited grants expire, so they burn before acme-main.
      expect(acme!.grants.map((g) => g.id)).toEqual([
        'acme-expired',
        'acme-usd',
        'acme-nano',
        'acme-embed',
        'acme-main',
      ]);
      expect(acme!.byModel).toEqual([
        { models: null, tokens: 992_735, microUsd: 0, unlimited: false, grantIds: ['acme-main'], expiresAt: null },
        {
          models: ['gpt-4o'],
          tokens: 0,
          microUsd: 9_999_250,
          unlimited: false,
          grantIds: ['acme-usd'],
          expiresAt: '2099-06-30T00:00:00.000Z',
        },
        {
          models: ['gpt-5-nano'],
          tokens: 0,
          microUsd: 0,
          unlimited: true,
          grantIds: ['acme-nano'],
          expiresAt: '2099-12-31T00:00:00.000Z',
        },
        {
          models: ['text-embedding-3-small'],
          tokens: 46_000,
          microUsd: 0,
          unlimited: false,
          grantIds: ['acme-embed'],
          expiresAt: null,
        },
      ]);
      expect(globex).toMatchObject({ companyId: 'globex', tokens: 198_930, microUsd: 0, unlimitedModels: [] });
      expect(globex!.grants.find((g) => g.id === 'globex-next')).toMatchObject({ remaining: 5000, active: false });
      expect(globex!.byModel).toEqual([
        { models: null, tokens: 198_930, microUsd: 0, unlimited: false, grantIds: ['globex-main'], expiresAt: null },
      ]);
      expect(await balanceReport(ledger, NOW, 'globex')).toEqual([globex]);
    });
  });

  describe('usage', () => {
    const zero = {
      inputTokens: 0,
      cachedInputTokens: 0,
      outputTokens: 0,
      reasoningTokens: 0,
      totalTokens: 0,
      costMicroUsd: 0,
      errors: 0,
    };

    it('sums every finished request, leaving out the one still held', async () => {
      expect(await ledger.reader.usage({}, 'none')).toEqual([
        {
          key: null,
          companyId: null,
          requests: 10,
          inputTokens: 8460,
          cachedInputTokens: 300,
          outputTokens: 3025,
          reasoningTokens: 600,
          totalTokens: 11_485,
          costMicroUsd: 3190,
          errors: 1,
          avgLatencyMs: 345,
        },
      ]);
      expect(await ledger.reader.usage({ companyId: 'nobody' }, 'none')).toEqual([
        { key: null, companyId: null, requests: 0, ...zero, avgLatencyMs: null },
      ]);
    });

    it('groups by user within each company', async () => {
      expect(await ledger.reader.usage({ companyId: 'acme' }, 'user')).toEqual([
        {
          key: 'alice',
          companyId: 'acme',
          requests: 4,
          inputTokens: 3500,
          cachedInputTokens: 200,
          outputTokens: 1750,
          reasoningTokens: 0,
          totalTokens: 5250,
          costMicroUsd: 1575,
          errors: 1,
          avgLatencyMs: 112.6,
        },
        {
          key: 'bob',
          companyId: 'acme',
          requests: 2,
          inputTokens: 4100,
          cachedInputTokens: 0,
          outputTokens: 50,
          reasoningTokens: 0,
          totalTokens: 4150,
          costMicroUsd: 830,
          errors: 0,
          avgLatencyMs: 425,
        },
        {
          key: 'carol',
          companyId: 'acme',
          requests: 1,
          inputTokens: 300,
          cachedInputTokens: 0,
          outputTokens: 700,
          reasoningTokens: 600,
          totalTokens: 1000,
          costMicroUsd: 290,
          errors: 0,
          avgLatencyMs: 1500,
        },
        {
          key: DAVE,
          companyId: 'acme',
          requests: 1,
          inputTokens: 10,
          cachedInputTokens: 0,
          outputTokens: 5,
          reasoningTokens: 0,
          totalTokens: 15,
          costMicroUsd: 5,
          errors: 0,
          avgLatencyMs: 99.5,
        },
      ]);
    });

    it('groups by model, endpoint and company', async () => {
      const brief = (rows: UsageRow[]) => rows.map((r) => [r.key, r.requests, r.totalTokens, r.costMicroUsd]);
      expect(brief(await ledger.reader.usage({}, 'model'))).toEqual([
        ['gpt-3.5-turbo-instruct', 1, 70, 115],
        ['gpt-4o', 1, 150, 750],
        ['gpt-4o-mini', 6, 1500 + 750 + 3000 + 1000 + 15, 450 + 225 + 900 + 375 + 5],
        ['gpt-5-nano', 1, 1000, 290],
        ['text-embedding-3-small', 1, 4000, 80],
      ]);
      expect(brief(await ledger.reader.usage({ companyId: 'acme' }, 'endpoint'))).toEqual([
        [CHAT, 6, 1500 + 750 + 3000 + 150 + 15, 450 + 225 + 900 + 750 + 5],
        ['/v1/embeddings', 1, 4000, 80],
        ['/v1/responses', 1, 1000, 290],
      ]);
      expect(brief(await ledger.reader.usage({}, 'company'))).toEqual([
        ['acme', 8, 10_415, 2700],
        ['globex', 2, 1070, 490],
      ]);
    });

    it('cuts the 7-day period at now minus 7 × 24 h and groups by UTC day', async () => {
      const rows = await ledger.reader.usage(resolveWindow({ period: '7d' }, NOW), 'day');
      expect(rows.map((r) => [r.key, r.requests, r.totalTokens, r.costMicroUsd, r.errors])).toEqual([
        ['2026-10-24', 1, 4000, 80, 0], // r03 at the cut-off; r02 one millisecond earlier is out
        ['2026-10-25', 1, 1000, 375, 0],
        ['2026-10-28', 1, 70, 115, 0],
        ['2026-10-29', 3, 1150, 1040, 1],
        ['2026-10-31', 1, 15, 5, 0],
      ]);
    });

    it('groups by UTC hour within since/until', async () => {
      const rows = await ledger.reader.usage(
        { companyId: 'acme', since: '2026-10-29T00:00:00.000Z', until: '2026-10-29T09:10:00.000Z' },
        'hour',
      );
      expect(rows.map((r) => [r.key, r.requests, r.totalTokens])).toEqual([['2026-10-29T08:00Z', 2, 1150]]);
    });

    it('filters by user, key, model, endpoint and feature', async () => {
      const count = async (f: RequestFilter) => (await ledger.reader.usage(f, 'none'))[0]!.requests;
      expect(await count({ userId: 'erin' })).toBe(2);
      expect(await count({ userId: 'alice' })).toBe(4);
      expect(await count({ keyId: 'acme-batch' })).toBe(1);
      expect(await count({ model: 'gpt-4o-mini' })).toBe(6);
      expect(await count({ model: 'gpt-4o-mini', companyId: 'globex' })).toBe(1);
      expect(await count({ endpoint: '/v1/embeddings' })).toBe(1);
      expect(await count({ feature: 'summary' })).toBe(1);
      expect(await count({ until: '2026-10-24T12:00:00.000Z' })).toBe(3);
    });
  });

  describe('export', () => {
    const HEADER =
      'Date,User ID,Endpoint,Model,Input Tokens,Output Tokens,Total Tokens,Total Cost (USD),Success,Response Time (ms),Company,Request ID,End User,Tags\r\n';

    it('writes the usage-log columns, then Company, Request ID, End User and Tags, quoting a user id with a comma and quotes', async () => {
      expect(exportCsv(await ledger.reader.rows({ userId: DAVE }))).toBe(
        HEADER +
          '2026-10-31T11:00:00.000Z,"dave, ""the boss""",/v1/chat/completions,gpt-4o-mini,10,5,15,0.000005,true,100,acme,r07,,\r\n',
      );
    });

    it('exports oldest first, a voided request as Success false, never a held one', async () => {
      expect(exportCsv(await ledger.reader.rows({ companyId: 'globex' }))).toBe(
        HEADER +
          '2026-10-25T14:00:00.000Z,erin,/v1/chat/completions,gpt-4o-mini,500,500,1000,0.000375,true,300,globex,g01,,\r\n' +
          '2026-10-28T23:59:59.999Z,erin,/v1/completions,gpt-3.5-turbo-instruct,50,20,70,0.000115,true,250,globex,g02,,\r\n',
      );
      const acme = await ledger.reader.rows({ companyId: 'acme', userId: 'alice' });
      expect(acme.map((r) => [r.id, succeeded(r)])).toEqual([
        ['r01', true],
        ['r09', true],
        ['r02', true],
        ['r06', false],
      ]);
      expect(exportCsv(acme).split('\r\n')[4]).toBe(
        '2026-10-29T09:10:00.000Z,alice,/v1/chat/completions,gpt-4o-mini,0,0,0,0.000000,false,30,acme,r06,,',
      );
    });
  });

  describe('history', () => {
    it('lists the last requests newest first with the tokens remaining after each', async () => {
      const rows = await historyReport(ledger.reader, NOW, { companyId: 'acme' });
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
      expect(rows[0]).toEqual({
        requestId: 'r07',
        createdAt: '2026-10-31T11:00:00.000Z',
        companyId: 'acme',
        userId: DAVE,
        endpoint: CHAT,
        model: 'gpt-4o-mini',
        feature: 'chat',
        endUser: null,
        tags: [],
        status: 'settled',
        tokensUsed: 15,
        costMicroUsd: 5,
        remainingTokens: 1_038_735,
      });
    });

    it('limits to the last N across companies, each row against its own company', async () => {
      const rows = await historyReport(ledger.reader, NOW, { limit: 5 });
      expect(rows.map((r) => [r.requestId, r.remainingTokens])).toEqual([
        ['r07', 1_038_735],
        ['r06', 1_038_750],
        ['r05', 1_038_750],
        ['r04', 1_038_750],
        ['g02', 198_930],
      ]);
    });
  });
});
