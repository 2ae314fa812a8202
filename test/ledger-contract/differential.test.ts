import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GrantTerms, HoldRequest, Ledger, Outcome, QuotaCheck } from '../../src/ledger/port.js';
import { ADAPTERS, type OpenedLedger } from './adapters.js';

/**
 * The same random operations on every adapter, answer by answer: the Postgres ledger decides in SQL
 * functions (migrations/postgres/, one round trip each) what the SQLite ledger decides with
 * src/ledger/allocate.ts and capacity.ts, so every admission (hold, refusal, standing), every
 * settlement (the grants and counters it touched) and, at the end, every hold, debit and running
 * total must be the same on both. Recovered rows are left alone afterwards: a late settlement of a
 * row a sweep resolved exists only where several processes share the ledger.
 */

type Model = 'm1' | 'm2' | 'gpt-4o-2024-08-06';
type Op =
  | {
      op: 'grant';
      unit: 'tokens' | 'usd' | 'unlimited';
      amount: number;
      models: null | 'm1' | 'family';
      expiresIn: number | null;
      priority?: number;
    }
  | { op: 'edit'; index: number; amount: number }
  | { op: 'remove'; index: number }
  | {
      op: 'admit';
      model: Model;
      min: number;
      extra: number;
      clamp: boolean;
      costOnly: boolean;
      quotas: { tokens: number | null; usd: number | null }[];
    }
  | { op: 'settle'; index: number; factor: number }
  | { op: 'void'; index: number }
  | { op: 'tick'; seconds: number }
  | { op: 'recover' };

const quotaArb = fc.record({
  tokens: fc.option(fc.integer({ min: 0, max: 3000 }), { nil: null }),
  usd: fc.option(fc.integer({ min: 0, max: 3000 }), { nil: null }),
});
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('grant' as const),
      unit: fc.constantFrom('tokens' as const, 'usd' as const, 'unlimited' as const, 'tokens' as const),
      amount: fc.integer({ min: 0, max: 2000 }),
      models: fc.constantFrom(null, 'm1' as const, 'family' as const),
      expiresIn: fc.option(fc.integer({ min: 1, max: 120 }), { nil: null }),
      priority: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('edit' as const),
      index: fc.nat(),
      amount: fc.integer({ min: 0, max: 4000 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), index: fc.nat() }) },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('admit' as const),
      model: fc.constantFrom('m1' as const, 'm2' as const, 'gpt-4o-2024-08-06' as const),
      min: fc.integer({ min: 0, max: 400 }),
      extra: fc.integer({ min: 0, max: 800 }),
      clamp: fc.boolean(),
      costOnly: fc.boolean(),
      quotas: fc.array(quotaArb, { maxLength: 2 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('settle' as const),
      index: fc.nat(),
      factor: fc.double({ min: 0, max: 1.6, noNaN: true }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('void' as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('tick' as const), seconds: fc.integer({ min: 1, max: 60 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'recover' as const }) },
);

/** The models' highest price, pico-USD per token. */
const MAX_PICO: Record<Model, number> = { m1: 8_000_000, m2: 1_000_000, 'gpt-4o-2024-08-06': 10_000_000 };

/** What an adapter's store holds, in one comparable shape. */
async function stateOf(opened: OpenedLedger): Promise<unknown> {
  const s = (await opened.raw.snapshot()) as Record<string, Record<string, unknown>[]>;
  const n = (v: unknown) => Number(v);
  return {
    grants: s.grants!.map((g) => [g.id, n(g.spent), n(g.held)]),
    holds: s.holds!.map((h) => [h.request_id, h.grant_id, n(h.amount)]),
    debits: s.debits!.map((d) => [d.request_id, d.grant_id, d.unit, n(d.amount), n(d.overdraft)]),
    counters: s.counters!.map((c) => [
      c.id,
      n(c.spent_tokens),
      n(c.held_tokens),
      n(c.spent_micro_usd),
      n(c.held_micro_usd),
    ]),
    requests: s.requests!.map((r) => [
      r.id,
      r.status,
      n(r.hold_tokens),
      n(r.hold_micro_usd),
      n(r.metered_tokens),
      n(r.cost_micro_usd),
      r.error_code,
    ]),
  };
}

const run = async (ops: Op[]): Promise<void> => {
  const opened = await Promise.all(ADAPTERS.map((a) => a.open()));
  const ledgers = opened.map((o) => o.ledger);
  const both = async <T>(f: (l: Ledger) => Promise<T>): Promise<T> => {
    const answers = await Promise.all(ledgers.map(f));
    for (const a of answers.slice(1)) expect(a).toEqual(answers[0]);
    return answers[0]!;
  };
  try {
    let now = new Date('2026-11-22T00:00:00.000Z');
    const grants: GrantTerms[] = [];
    const open: { id: string; hold: number; model: Model; costOnly: boolean }[] = [];
    let seq = 0;
    for (const o of ops) {
      switch (o.op) {
        case 'grant': {
          const id = `g${String(seq++).padStart(3, '0')}`;
          grants.push({
            id,
            companyId: 'acme',
            unit: o.unit === 'usd' ? 'micro_usd' : 'tokens',
            amount: o.unit === 'unlimited' ? 0 : o.unit === 'usd' ? o.amount * 1000 : o.amount,
            unlimited: o.unit === 'unlimited',
            models: o.models === 'm1' ? ['m1'] : o.models === 'family' ? ['gpt-4o'] : null,
            startsAt: null,
            expiresAt: o.expiresIn === null ? null : new Date(now.getTime() + o.expiresIn * 1000).toISOString(),
            purchaseId: null,
            note: null,
            ...(o.priority === undefined ? {} : { priority: o.priority }),
          });
          await both((l) => l.syncGrants(grants, [], now));
          break;
        }
        case 'edit': {
          const g = grants[o.index % Math.max(1, grants.length)];
          if (!g || g.unlimited) break;
          g.amount = g.unit === 'micro_usd' ? o.amount * 1000 : o.amount;
          await both((l) => l.syncGrants(grants, [], now));
          break;
        }
        case 'remove':
          if (grants.length) grants.splice(o.index % grants.length, 1);
          await both((l) => l.syncGrants(grants, [], now));
          break;
        case 'admit': {
          const id = `r${String(seq++).padStart(4, '0')}`;
          const quotas: QuotaCheck[] = o.quotas.map((q, i) => ({
            counterId: `user:acme/u${i}:daily:2026-11-22`,
            scope: 'user',
            scopeId: `acme/u${i}`,
            window: 'daily',
            windowKey: '2026-11-22',
            ...(q.tokens === null ? {} : { limitTokens: q.tokens }),
            ...(q.usd === null ? {} : { limitMicroUsd: q.usd * 1000 }),
            resetsAt: new Date('2026-11-23T00:00:00.000Z'),
          }));
          const want: HoldRequest = {
            minTokens: o.min,
            maxTokens: o.min + o.extra,
            clamp: o.clamp,
            maxPicoPerToken: MAX_PICO[o.model],
            ...(o.costOnly ? { costOnly: true } : {}),
          };
          const facts = {
            id,
            companyId: 'acme',
            keyId: 'k',
            endpoint: '/v1/chat/completions',
            requestedModel: o.model,
            stream: false,
            estimatedPromptTokens: o.min,
          };
          const r = await both((l) => l.admit(facts, want, now, quotas));
          if (r.ok)
            open.push({ id, hold: o.costOnly ? o.min + o.extra : r.holdTokens, model: o.model, costOnly: o.costOnly });
          break;
        }
        case 'settle': {
          const i = o.index % Math.max(1, open.length);
          const r = open[i];
          if (!r) break;
          open.splice(i, 1);
          const used = Math.round(r.hold * o.factor);
          const outcome: Outcome = {
            httpStatus: 200,
            usageSource: 'upstream',
            meteredTokens: r.costOnly ? 0 : used,
            costMicroUsd: r.costOnly ? used : Math.round((used * MAX_PICO[r.model]) / 2_000_000),
            latencyMs: 1,
          };
          await both((l) => l.settle(r.id, outcome, now));
          break;
        }
        case 'void': {
          const i = o.index % Math.max(1, open.length);
          const r = open[i];
          if (!r) break;
          open.splice(i, 1);
          await both((l) => l.void(r.id, { httpStatus: 500, usageSource: 'none', latencyMs: 1, errorCode: 'x' }, now));
          break;
        }
        case 'tick':
          now = new Date(now.getTime() + o.seconds * 1000);
          break;
        case 'recover':
          await both((l) => l.recoverOpenHolds(now, 'charge_prompt', (_m, u) => u.totalTokens * 3));
          open.length = 0;
          break;
      }
    }
    const states = await Promise.all(opened.map(stateOf));
    for (const s of states.slice(1)) expect(s).toEqual(states[0]);
  } finally {
    await Promise.all(opened.map((o) => o.close()));
  }
};

describe(`every adapter answers alike (${ADAPTERS.map((a) => a.name).join(', ')})`, () => {
  it('admits, refuses, holds, settles and burns the same, operation by operation', { timeout: 120_000 }, async () => {
    await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 40 }), run), { numRuns: 60 });
  });
});

describe('every adapter splits a burn across units alike', () => {
  it('rounds the share of a request a tokens grant covers as allocate.ts does', async () => {
    // 7 tokens at 4 micro-USD: the tokens grant covers 3 of them, so 4 × 3 / 7 = 1.71 of the
    // micro-USD, rounded to 2, is taken off before the USD grant pays the rest.
    await run([
      { op: 'grant', unit: 'tokens', amount: 3, models: null, expiresIn: 100 },
      { op: 'grant', unit: 'usd', amount: 1000, models: null, expiresIn: null },
      { op: 'admit', model: 'm2', min: 7, extra: 0, clamp: false, costOnly: false, quotas: [] },
      { op: 'settle', index: 0, factor: 1 },
    ]);
  });
});
