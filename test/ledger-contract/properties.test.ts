import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grantTerms } from '../../src/config/grants.js';
import { parseConfig } from '../../src/config/load.js';
import type { Ledger } from '../../src/ledger/port.js';
import { ADAPTERS, type AdapterUnderTest } from './adapters.js';

/**
 * Property tests of the ledger port: random sequences of grant / hold / settle / void / expire /
 * config edit / crash recovery against each adapter, checking every invariant after every step.
 */

type Op =
  | { op: 'grant'; unit: 'tokens' | 'usd' | 'unlimited'; amount: number; scoped: boolean; expiresIn: number | null }
  | { op: 'edit'; index: number; amount: number }
  | { op: 'remove'; index: number }
  | { op: 'admit'; model: 'm1' | 'm2'; min: number; extra: number; clamp: boolean }
  | { op: 'settle'; index: number; factor: number; twice: boolean }
  | { op: 'void'; index: number }
  | { op: 'tick'; seconds: number }
  | { op: 'recover' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant('grant' as const),
    unit: fc.constantFrom('tokens' as const, 'usd' as const, 'unlimited' as const),
    amount: fc.integer({ min: 0, max: 1500 }),
    scoped: fc.boolean(),
    expiresIn: fc.option(fc.integer({ min: 1, max: 120 }), { nil: null }),
  }),
  fc.record({ op: fc.constant('edit' as const), index: fc.nat(), amount: fc.integer({ min: 0, max: 5000 }) }),
  fc.record({ op: fc.constant('remove' as const), index: fc.nat() }),
  fc.record({
    op: fc.constant('admit' as const),
    model: fc.constantFrom('m1' as const, 'm2' as const),
    min: fc.integer({ min: 0, max: 400 }),
    extra: fc.integer({ min: 0, max: 800 }),
    clamp: fc.boolean(),
  }),
  fc.record({
    op: fc.constant('admit' as const),
    model: fc.constantFrom('m1' as const, 'm2' as const),
    min: fc.integer({ min: 0, max: 400 }),
    extra: fc.integer({ min: 0, max: 800 }),
    clamp: fc.boolean(),
  }),
  fc.record({
    op: fc.constant('settle' as const),
    index: fc.nat(),
    factor: fc.double({ min: 0, max: 1.5, noNaN: true }),
    twice: fc.boolean(),
  }),
  fc.record({ op: fc.constant('void' as const), index: fc.nat() }),
  fc.record({ op: fc.constant('tick' as const), seconds: fc.integer({ min: 1, max: 60 }) }),
  fc.constant({ op: 'recover' as const }),
);

/** m1 at $2 / $8 per 1M tokens: 8,000,000 pico-USD per token at worst. */
const PRICES = {
  m1: { input: 2, output: 8, source: 'test', date: '2026-01-01' },
  m2: { input: 1, output: 1, source: 'test', date: '2026-01-01' },
};
const MAX_PICO = { m1: 8_000_000, m2: 1_000_000 };

/** Mirrors `allocations` (config entries of company acme) into the ledger. */
function syncAllocations(ledger: Ledger, allocations: Record<string, unknown>[], now: Date): Promise<void> {
  const { grants, purchases } = grantTerms(
    parseConfig({ ledger: { path: 'x' }, companies: { acme: { name: 'acme', allocations } }, prices: PRICES }),
    now,
  );
  return ledger.syncGrants(grants, purchases, now);
}

/** `n` runs scaled by the adapter's `propertyRuns`. */
const runs = (adapter: AdapterUnderTest, n: number) => Math.max(10, Math.round(n * (adapter.propertyRuns ?? 1)));

const run =
  (adapter: AdapterUnderTest) =>
  async (ops: Op[]): Promise<void> => {
    const { ledger, raw, close } = await adapter.open();
    try {
      let now = new Date('2026-11-22T00:00:00.000Z');
      const allocations: Record<string, unknown>[] = [];
      const admitted: string[] = [];
      const refused: string[] = [];
      const holds = new Map<string, { tokens: number; model: 'm1' | 'm2' }>();
      let seq = 0;
      const sync = () => syncAllocations(ledger, allocations, now);

      for (const o of ops) {
        switch (o.op) {
          case 'grant': {
            const a: Record<string, unknown> = { id: `g${seq++}` };
            if (o.unit === 'tokens') a.tokens = o.amount;
            else if (o.unit === 'usd') a.usd = o.amount / 1000;
            else a.unlimited = true;
            if (o.scoped || o.unit === 'unlimited') a.models = ['m1'];
            if (o.expiresIn !== null) a.expiresAt = new Date(now.getTime() + o.expiresIn * 1000).toISOString();
            allocations.push(a);
            await sync();
            break;
          }
          case 'edit': {
            const a = allocations[o.index % Math.max(1, allocations.length)];
            if (!a) break;
            if ('tokens' in a) a.tokens = o.amount;
            else if ('usd' in a) a.usd = o.amount / 1000;
            await sync();
            break;
          }
          case 'remove':
            if (allocations.length) allocations.splice(o.index % allocations.length, 1);
            await sync();
            break;
          case 'admit': {
            const id = `r${seq++}`;
            const r = await ledger.admit(
              {
                id,
                companyId: 'acme',
                keyId: 'k',
                endpoint: '/v1/chat/completions',
                requestedModel: o.model,
                stream: false,
                estimatedPromptTokens: o.min,
              },
              { minTokens: o.min, maxTokens: o.min + o.extra, clamp: o.clamp, maxPicoPerToken: MAX_PICO[o.model] },
              now,
              [],
            );
            (r.ok ? admitted : refused).push(id);
            if (r.ok) holds.set(id, { tokens: r.holdTokens, model: o.model });
            break;
          }
          case 'settle': {
            const id = admitted[o.index % Math.max(1, admitted.length)];
            if (!id) break;
            const hold = holds.get(id)!;
            const tokens = Math.round(hold.tokens * o.factor);
            const input = Math.floor(tokens / 2);
            const cost = Math.round(input * PRICES[hold.model].input + (tokens - input) * PRICES[hold.model].output);
            const outcome = {
              httpStatus: 200,
              usageSource: 'upstream' as const,
              meteredTokens: tokens,
              costMicroUsd: cost,
              latencyMs: 1,
            };
            await ledger.settle(id, outcome, now);
            if (o.twice) {
              const before = await raw.snapshot();
              expect(await ledger.settle(id, outcome, now)).toBe(false);
              expect(await ledger.void(id, outcome, now)).toBe(false);
              expect(await raw.snapshot()).toEqual(before);
            }
            break;
          }
          case 'void': {
            const id = admitted[o.index % Math.max(1, admitted.length)];
            if (id) await ledger.void(id, { httpStatus: 500, usageSource: 'none', latencyMs: 1, errorCode: 'x' }, now);
            break;
          }
          case 'tick':
            now = new Date(now.getTime() + o.seconds * 1000);
            break;
          case 'recover':
            await ledger.recoverOpenHolds(now, 'charge_prompt', (_m, u) => u.totalTokens * 2);
            break;
        }

        // After every step: every invariant holds …
        const errors = (await ledger.reader.verify()).filter((f) => f.severity === 'error');
        expect(errors).toEqual([]);
        // … and every admitted request has exactly one row, every refused one none.
        expect(await raw.requestIds()).toEqual([...admitted].sort());
      }
    } finally {
      await close();
    }
  };

describe.each(ADAPTERS)('ledger invariants under random operation sequences ($name)', (adapter) => {
  it('hold every invariant after every step', async () => {
    await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), run(adapter)), {
      numRuns: runs(adapter, 150),
    });
  });

  it('honours a hold as a reservation when an admin lowers the grant before it settles', async () => {
    // Found by the property above: the charge within the hold is taken from the held grant, and no
    // debit overdraft is recorded for it (the request never went beyond its hold).
    await run(adapter)([
      { op: 'grant', unit: 'tokens', amount: 1, scoped: false, expiresIn: null },
      { op: 'admit', model: 'm1', min: 1, extra: 0, clamp: false },
      { op: 'edit', index: 0, amount: 0 },
      { op: 'recover' },
    ]);
  });

  it('never overdraws a grant when no request uses more than its hold', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.integer({ min: 1, max: 300 }),
            fc.integer({ min: 0, max: 300 }),
            fc.double({ min: 0, max: 1, noNaN: true }),
          ),
          { minLength: 1, maxLength: 60 },
        ),
        fc.integer({ min: 1, max: 5000 }),
        async (reqs, amount) => {
          const { ledger, close } = await adapter.open();
          try {
            const now = new Date('2026-11-22T00:00:00.000Z');
            await syncAllocations(ledger, [{ id: 'g', tokens: amount }], now);
            const open: { id: string; hold: number; factor: number }[] = [];
            for (const [i, [min, extra, factor]] of reqs.entries()) {
              const r = await ledger.admit(
                { id: `r${i}`, companyId: 'acme', keyId: null, endpoint: '/v1/x', requestedModel: 'm1', stream: false },
                { minTokens: min, maxTokens: min + extra, clamp: i % 2 === 0, maxPicoPerToken: 1 },
                now,
                [],
              );
              if (r.ok) open.push({ id: `r${i}`, hold: r.holdTokens, factor });
              // Settle the oldest open request every other step, so holds and debits interleave.
              if (i % 2 === 1 && open.length) {
                const s = open.shift()!;
                await ledger.settle(
                  s.id,
                  {
                    httpStatus: 200,
                    usageSource: 'upstream',
                    meteredTokens: Math.floor(s.hold * s.factor),
                    costMicroUsd: 0,
                    latencyMs: 1,
                  },
                  now,
                );
              }
            }
            for (const s of open)
              await ledger.settle(
                s.id,
                {
                  httpStatus: 200,
                  usageSource: 'upstream',
                  meteredTokens: Math.floor(s.hold * s.factor),
                  costMicroUsd: 0,
                  latencyMs: 1,
                },
                now,
              );
            const [g] = await ledger.reader.grants();
            expect(g!.held).toBe(0);
            expect(g!.spent).toBeLessThanOrEqual(g!.amount);
          } finally {
            await close();
          }
        },
      ),
      { numRuns: runs(adapter, 100) },
    );
  });

  it('overdraws only by what requests used beyond their holds, and records every overdraft', async () => {
    const step = fc.oneof(
      fc.record({
        kind: fc.constant('admit' as const),
        min: fc.integer({ min: 0, max: 200 }),
        extra: fc.integer({ min: 0, max: 200 }),
        clamp: fc.boolean(),
      }),
      fc.record({
        kind: fc.constant('settle' as const),
        index: fc.nat(),
        factor: fc.double({ min: 0, max: 2, noNaN: true }),
      }),
      fc.record({ kind: fc.constant('tick' as const), seconds: fc.integer({ min: 1, max: 30 }) }),
    );
    const grantArb = fc.array(
      fc.record({
        tokens: fc.integer({ min: 0, max: 800 }),
        expiresIn: fc.option(fc.integer({ min: 1, max: 90 }), { nil: undefined }),
      }),
      { minLength: 1, maxLength: 4 },
    );
    await fc.assert(
      fc.asyncProperty(grantArb, fc.array(step, { minLength: 1, maxLength: 50 }), async (grantSpecs, steps) => {
        const { ledger, raw, close } = await adapter.open();
        try {
          let now = new Date('2026-11-22T00:00:00.000Z');
          const allocations = grantSpecs.map((g, i) => ({
            id: `g${i}`,
            tokens: g.tokens,
            ...(g.expiresIn ? { expiresAt: new Date(now.getTime() + g.expiresIn * 1000).toISOString() } : {}),
          }));
          await syncAllocations(ledger, allocations, now);
          const open: { id: string; hold: number }[] = [];
          let excess = 0;
          for (const [i, s] of steps.entries()) {
            if (s.kind === 'admit') {
              const r = await ledger.admit(
                { id: `r${i}`, companyId: 'acme', keyId: null, endpoint: '/v1/x', requestedModel: 'm1', stream: false },
                { minTokens: s.min, maxTokens: s.min + s.extra, clamp: s.clamp, maxPicoPerToken: 1 },
                now,
                [],
              );
              if (r.ok) open.push({ id: `r${i}`, hold: r.holdTokens });
            } else if (s.kind === 'settle' && open.length) {
              const [r] = open.splice(s.index % open.length, 1);
              const used = Math.floor(r!.hold * s.factor);
              excess += Math.max(0, used - r!.hold);
              await ledger.settle(
                r!.id,
                { httpStatus: 200, usageSource: 'upstream', meteredTokens: used, costMicroUsd: 0, latencyMs: 1 },
                now,
              );
            } else if (s.kind === 'tick') {
              now = new Date(now.getTime() + s.seconds * 1000);
            }
            const recorded = await raw.recordedOverdraft();
            expect(await raw.overdrawn()).toBeLessThanOrEqual(recorded);
            expect(recorded).toBeLessThanOrEqual(excess);
          }
        } finally {
          await close();
        }
      }),
      { numRuns: runs(adapter, 150) },
    );
  });
});
