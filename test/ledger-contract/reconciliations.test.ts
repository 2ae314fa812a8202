import { afterEach, describe, expect, it } from 'vitest';
import type { LedgerDayUsage, Outcome, ReconciliationStart } from '../../src/ledger/port.js';
import { ADAPTERS, type OpenedLedger } from './adapters.js';
import { grantTerms, hold, openWithGrants, requestFacts, tokensUsed } from './fixtures.js';

/**
 * The `reconciliations` store of the port, for each adapter: the ledger's side of a reconciliation
 * summed per UTC day and model exactly (tokens, units, nano-USD), and the runs' records (one
 * `begin` of an id wins; stale and failed runs are taken over).
 */
const DAY1 = new Date('2026-11-20T23:59:59.999Z');
const DAY2 = new Date('2026-11-21T00:00:00.000Z');

const zero: Omit<LedgerDayUsage, 'day' | 'model'> = {
  requests: 0,
  inputTokens: 0,
  cachedInputTokens: 0,
  outputTokens: 0,
  audioInputTokens: 0,
  audioOutputTokens: 0,
  imageInputTokens: 0,
  imageOutputTokens: 0,
  images: 0,
  characters: 0,
  seconds: 0,
  costNanoUsd: 0,
  estimatedRows: 0,
};

const chat = (input: number, cached: number, output: number, nano: number, extra: Partial<Outcome> = {}): Outcome => ({
  ...tokensUsed(input + output),
  usage: {
    inputTokens: input,
    cachedInputTokens: cached,
    outputTokens: output,
    reasoningTokens: 0,
    totalTokens: input + output,
  },
  costMicroUsd: Math.round(nano / 1000),
  costNanoUsd: nano,
  ...extra,
});

const run = (id: string, startedAt: string): ReconciliationStart => ({
  id,
  trigger: 'schedule',
  startedAt,
  fromDay: '2026-11-14',
  toDay: '2026-11-20',
});

for (const adapter of ADAPTERS) {
  describe(`${adapter.name}: reconciliations`, () => {
    let opened: OpenedLedger;
    afterEach(async () => {
      await opened.close();
    });

    /** Admits a row at `now` and settles it with `outcome` (or leaves it held when outcome is null). */
    const row = async (now: Date, outcome: Outcome | null, facts = {}) => {
      const f = requestFacts(facts);
      const admitted = await opened.ledger.admit(f, hold(100), now, []);
      expect(admitted.ok).toBe(true);
      if (outcome) expect(await opened.ledger.settle(f.id, outcome, now)).not.toBe(false);
      return f.id;
    };

    it('sums finished rows per UTC day and model, to the token and the nano-USD', async () => {
      opened = await openWithGrants(adapter, [
        grantTerms({ amount: 1_000_000_000 }),
        grantTerms({ id: 'h', companyId: 'beta', amount: 1_000_000_000 }),
      ]);
      await row(DAY1, chat(100, 40, 20, 123_456_789, { returnedModel: 'gpt-4o-mini-2024-07-18' }));
      await row(DAY1, chat(7, 0, 3, 1, { returnedModel: 'gpt-4o-mini-2024-07-18' }), {
        companyId: 'beta',
        keyId: null,
      });
      // Audio in a Realtime-like row, estimated usage, and a DALL·E image (units beyond tokens).
      await row(
        DAY1,
        chat(50, 10, 30, 999, {
          returnedModel: 'gpt-4o-mini-2024-07-18',
          usageSource: 'estimated',
          usage: {
            inputTokens: 50,
            cachedInputTokens: 10,
            outputTokens: 30,
            reasoningTokens: 0,
            totalTokens: 80,
            audioInputTokens: 25,
            audioOutputTokens: 30,
            imageInputTokens: 5,
          },
        }),
      );
      await row(
        DAY2,
        chat(0, 0, 0, 40_000_000, {
          usage: {
            inputTokens: 0,
            cachedInputTokens: 0,
            outputTokens: 0,
            reasoningTokens: 0,
            totalTokens: 0,
            images: 1,
          },
        }),
        { requestedModel: 'dall-e-3', endpoint: '/v1/images/generations' },
      );
      // Left out: a row billed on another row, a held row (counted apart), a row the next day out of range.
      const billedOnce = { billedObject: { id: 'resp_1', kind: 'response' as const } };
      await row(DAY2, chat(10, 0, 10, 5, billedOnce));
      await row(DAY2, chat(10, 0, 10, 5, billedOnce));
      await row(DAY2, null);
      await row(new Date('2026-11-22T00:00:00.000Z'), chat(1, 0, 1, 1));
      // A failed request that metered nothing counts no request.
      await row(DAY2, chat(0, 0, 0, 0, { httpStatus: 400, usage: undefined, usageSource: 'none' }));

      const got = await opened.ledger.reconciliations.usage('2026-11-20T00:00:00.000Z', '2026-11-22T00:00:00.000Z');
      expect(got.days).toEqual([
        {
          ...zero,
          day: '2026-11-20',
          model: 'gpt-4o-mini-2024-07-18',
          requests: 3,
          inputTokens: 157,
          cachedInputTokens: 50,
          outputTokens: 53,
          audioInputTokens: 25,
          audioOutputTokens: 30,
          imageInputTokens: 5,
          costNanoUsd: 123_457_789,
          estimatedRows: 1,
        },
        { ...zero, day: '2026-11-21', model: 'dall-e-3', requests: 1, images: 1, costNanoUsd: 40_000_000 },
        {
          ...zero,
          day: '2026-11-21',
          model: 'gpt-4o-mini',
          requests: 1,
          inputTokens: 10,
          outputTokens: 10,
          costNanoUsd: 5,
        },
      ]);
      expect(got.held).toEqual([{ day: '2026-11-21', rows: 1 }]);
      expect(await opened.ledger.reconciliations.usage('2026-10-01T00:00:00.000Z', '2026-10-02T00:00:00.000Z')).toEqual(
        {
          days: [],
          held: [],
        },
      );
    });

    it('begins a run once per id; takes over a stale running run and a failed one; lists newest first', async () => {
      opened = await openWithGrants(adapter, [grantTerms()]);
      const store = opened.ledger.reconciliations;
      expect(await store.begin(run('daily:2026-11-21', '2026-11-21T06:00:00.000Z'), '2026-11-21T05:00:00.000Z')).toBe(
        true,
      );
      // Another replica, same day: the first is still running and fresh.
      expect(await store.begin(run('daily:2026-11-21', '2026-11-21T06:00:01.000Z'), '2026-11-21T05:00:01.000Z')).toBe(
        false,
      );
      // An hour later it is stale: taken over.
      expect(await store.begin(run('daily:2026-11-21', '2026-11-21T07:30:00.000Z'), '2026-11-21T06:30:00.000Z')).toBe(
        true,
      );
      await store.finish('daily:2026-11-21', {
        finishedAt: '2026-11-21T07:31:00.000Z',
        status: 'failed',
        report: null,
        error: 'OpenAI answered 500',
      });
      expect(await store.begin(run('daily:2026-11-21', '2026-11-21T07:40:00.000Z'), '2026-11-21T06:40:00.000Z')).toBe(
        false,
      );
      expect(await store.begin(run('daily:2026-11-21', '2026-11-21T08:40:00.000Z'), '2026-11-21T07:40:00.000Z')).toBe(
        true,
      );
      await store.finish('daily:2026-11-21', {
        finishedAt: '2026-11-21T08:41:00.000Z',
        status: 'drift',
        report: '{"object":"tollgate.reconciliation"}',
        error: null,
      });
      // A finished run is never run again, however old.
      expect(await store.begin(run('daily:2026-11-21', '2026-12-21T08:40:00.000Z'), '2026-12-21T07:40:00.000Z')).toBe(
        false,
      );
      expect(
        await store.begin({ ...run('rec_1', '2026-11-21T09:00:00.000Z'), trigger: 'cli' }, '2026-11-21T08:00:00.000Z'),
      ).toBe(true);

      expect(await store.recent(10)).toEqual([
        {
          id: 'rec_1',
          trigger: 'cli',
          startedAt: '2026-11-21T09:00:00.000Z',
          finishedAt: null,
          fromDay: '2026-11-14',
          toDay: '2026-11-20',
          status: 'running',
          report: null,
          error: null,
        },
        {
          id: 'daily:2026-11-21',
          trigger: 'schedule',
          startedAt: '2026-11-21T08:40:00.000Z',
          finishedAt: '2026-11-21T08:41:00.000Z',
          fromDay: '2026-11-14',
          toDay: '2026-11-20',
          status: 'drift',
          report: '{"object":"tollgate.reconciliation"}',
          error: null,
        },
      ]);
      expect((await store.recent(1)).map((r) => r.id)).toEqual(['rec_1']);
    });

    it('lets one of several concurrent begins of an id win', async () => {
      opened = await openWithGrants(adapter, [grantTerms()]);
      const store = opened.ledger.reconciliations;
      const wins = await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          store.begin(run('daily:2026-11-22', `2026-11-22T06:00:0${i}.000Z`), '2026-11-22T05:00:00.000Z'),
        ),
      );
      expect(wins.filter(Boolean)).toHaveLength(1);
    });
  });
}
