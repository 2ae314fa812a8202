import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { openLedgerDb } from '../src/ledger/sqlite/db.js';
import { Ledger } from '../src/ledger/sqlite/ledger.js';
import { verifyLedger } from '../src/ledger/sqlite/verify.js';

/**
 * Property tests: random sequences of grant / hold / settle / void / expire / config edit / crash
 * recovery against a real SQLite ledger, checking every invariant after every step.
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
  fc.record({ op: fc.constant('grant' as const), unit: fc.constantFrom('tokens' as const, 'usd' as const, 'unlimited' as const), amount: fc.integer({ min: 0, max: 1500 }), scoped: fc.boolean(), expiresIn: fc.option(fc.integer({ min: 1, max: 120 }), { nil: null }) }),
  fc.record({ op: fc.constant('edit' as const), index: fc.nat(), amount: fc.integer({ min: 0, max: 5000 }) }),
  fc.record({ op: fc.constant('remove' as const), index: fc.nat() }),
  fc.record({ op: fc.constant('admit' as const), model: fc.constantFrom('m1' as const, 'm2' as const), min: fc.integer({ min: 0, max: 400 }), extra: fc.integer({ min: 0, max: 800 }), clamp: fc.boolean() }),
  fc.record({ op: fc.constant('admit' as const), model: fc.constantFrom('m1' as const, 'm2' as const), min: fc.integer({ min: 0, max: 400 }), extra: fc.integer({ min: 0, max: 800 }), clamp: fc.boolean() }),
  fc.record({ op: fc.constant('settle' as const), index: fc.nat(), factor: fc.double({ min: 0, max: 1.5, noNaN: true }), twice: fc.boolean() }),
  fc.record({ op: fc.constant('void' as const), index: fc.nat() }),
  fc.record({ op: fc.constant('tick' as const), seconds: fc.integer({ min: 1, max: 60 }) }),
  fc.constant({ op: 'recover' as const }),
);

/** m1 at $2 / $8 per 1M tokens: 8,000,000 pico-USD per token at worst. */
const PRICES = { m1: { input: 2, output: 8, source: 'test', date: '2026-01-01' }, m2: { input: 1, output: 1, source: 'test', date: '2026-01-01' } };
const MAX_PICO = { m1: 8_000_000, m2: 1_000_000 };

function snapshot(sqlite: ReturnType<typeof openLedgerDb>['sqlite']) {
  return {
    grants: sqlite.prepare('SELECT * FROM grants ORDER BY id').all(),
    holds: sqlite.prepare('SELECT * FROM holds ORDER BY request_id, grant_id').all(),
    debits: sqlite.prepare('SELECT * FROM debits ORDER BY request_id, grant_id').all(),
    requests: sqlite.prepare('SELECT * FROM requests ORDER BY id').all(),
  };
}

function run(ops: Op[]): void {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-prop-'));
  const { db, sqlite } = openLedgerDb(join(dir, 'ledger.db'));
  try {
    const ledger = new Ledger(db);
    let now = new Date('2026-11-22T00:00:00.000Z');
    const allocations: Record<string, unknown>[] = [];
    const admitted: string[] = [];
    const refused: string[] = [];
    let seq = 0;
    const sync = () =>
      ledger.syncGrants(
        parseConfig({ ledger: { path: 'x' }, companies: { acme: { name: 'acme', allocations } }, prices: PRICES }),
        now,
      );

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
          sync();
          break;
        }
        case 'edit': {
          const a = allocations[o.index % Math.max(1, allocations.length)];
          if (!a) break;
          if ('tokens' in a) a.tokens = o.amount;
          else if ('usd' in a) a.usd = o.amount / 1000;
          sync();
          break;
        }
        case 'remove':
          if (allocations.length) allocations.splice(o.index % allocations.length, 1);
          sync();
          break;
        case 'admit': {
          const id = `r${seq++}`;
          const r = ledger.admit(
            { id, companyId: 'acme', keyId: 'k', endpoint: '/v1/chat/completions', requestedModel: o.model, stream: false, estimatedPromptTokens: o.min },
            { minTokens: o.min, maxTokens: o.min + o.extra, clamp: o.clamp, maxPicoPerToken: MAX_PICO[o.model] },
            now,
          );
          (r.ok ? admitted : refused).push(id);
          break;
        }
        case 'settle': {
          const id = admitted[o.index % Math.max(1, admitted.length)];
          if (!id) break;
          const row = sqlite.prepare('SELECT hold_tokens, requested_model FROM requests WHERE id = ?').get(id) as { hold_tokens: number; requested_model: 'm1' | 'm2' };
          const tokens = Math.round(row.hold_tokens * o.factor);
          const input = Math.floor(tokens / 2);
          const cost = Math.round((input * PRICES[row.requested_model].input + (tokens - input) * PRICES[row.requested_model].output));
          const outcome = { httpStatus: 200, usageSource: 'upstream' as const, meteredTokens: tokens, costMicroUsd: cost, latencyMs: 1 };
          ledger.settle(id, outcome, now);
          if (o.twice) {
            const before = snapshot(sqlite);
            expect(ledger.settle(id, outcome, now)).toBe(false);
            expect(ledger.void(id, outcome, now)).toBe(false);
            expect(snapshot(sqlite)).toEqual(before);
          }
          break;
        }
        case 'void': {
          const id = admitted[o.index % Math.max(1, admitted.length)];
          if (id) ledger.void(id, { httpStatus: 500, usageSource: 'none', latencyMs: 1, errorCode: 'x' }, now);
          break;
        }
        case 'tick':
          now = new Date(now.getTime() + o.seconds * 1000);
          break;
        case 'recover':
          ledger.recoverOpenHolds(now, 'charge_prompt', (_m, u) => u.totalTokens * 2);
          break;
      }

      // After every step: every invariant holds …
      const errors = verifyLedger(sqlite).filter((f) => f.severity === 'error');
      expect(errors).toEqual([]);
      // … and every admitted request has exactly one row, every refused one none.
      const ids = (sqlite.prepare('SELECT id FROM requests').all() as { id: string }[]).map((r) => r.id).sort();
      expect(ids).toEqual([...admitted].sort());
    }
  } finally {
    sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('ledger invariants under random operation sequences', () => {
  it('hold every invariant after every step', () => {
    fc.assert(fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), run), { numRuns: 150 });
  });

  it('honours a hold as a reservation when an admin lowers the grant before it settles', () => {
    // Found by the property above: the charge within the hold is taken from the held grant, and no
    // debit overdraft is recorded for it (the request never went beyond its hold).
    run([
      { op: 'grant', unit: 'tokens', amount: 1, scoped: false, expiresIn: null },
      { op: 'admit', model: 'm1', min: 1, extra: 0, clamp: false },
      { op: 'edit', index: 0, amount: 0 },
      { op: 'recover' },
    ]);
  });

  it('never overdraws a grant when no request uses more than its hold', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 300 }), fc.double({ min: 0, max: 1, noNaN: true })), { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 5000 }), (reqs, amount) => {
        const dir = mkdtempSync(join(tmpdir(), 'tollgate-prop-'));
        const { db, sqlite } = openLedgerDb(join(dir, 'ledger.db'));
        try {
          const ledger = new Ledger(db);
          const now = new Date('2026-11-22T00:00:00.000Z');
          ledger.syncGrants(parseConfig({ ledger: { path: 'x' }, companies: { acme: { name: 'acme', allocations: [{ id: 'g', tokens: amount }] } }, prices: PRICES }), now);
          const open: { id: string; hold: number; factor: number }[] = [];
          reqs.forEach(([min, extra, factor], i) => {
            const r = ledger.admit({ id: `r${i}`, companyId: 'acme', keyId: null, endpoint: '/v1/x', requestedModel: 'm1', stream: false }, { minTokens: min, maxTokens: min + extra, clamp: i % 2 === 0, maxPicoPerToken: 1 }, now);
            if (r.ok) open.push({ id: `r${i}`, hold: r.holdTokens, factor });
            // Settle the oldest open request every other step, so holds and debits interleave.
            if (i % 2 === 1 && open.length) {
              const s = open.shift()!;
              ledger.settle(s.id, { httpStatus: 200, usageSource: 'upstream', meteredTokens: Math.floor(s.hold * s.factor), costMicroUsd: 0, latencyMs: 1 }, now);
            }
          });
          for (const s of open) ledger.settle(s.id, { httpStatus: 200, usageSource: 'upstream', meteredTokens: Math.floor(s.hold * s.factor), costMicroUsd: 0, latencyMs: 1 }, now);
          const g = sqlite.prepare('SELECT amount, spent, held FROM grants').get() as { amount: number; spent: number; held: number };
          expect(g.held).toBe(0);
          expect(g.spent).toBeLessThanOrEqual(g.amount);
        } finally {
          sqlite.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 100 },
    );
  });

  it('overdraws only by what requests used beyond their holds, and records every overdraft', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('admit' as const), min: fc.integer({ min: 0, max: 200 }), extra: fc.integer({ min: 0, max: 200 }), clamp: fc.boolean() }),
      fc.record({ kind: fc.constant('settle' as const), index: fc.nat(), factor: fc.double({ min: 0, max: 2, noNaN: true }) }),
      fc.record({ kind: fc.constant('tick' as const), seconds: fc.integer({ min: 1, max: 30 }) }),
    );
    const grantArb = fc.array(fc.record({ tokens: fc.integer({ min: 0, max: 800 }), expiresIn: fc.option(fc.integer({ min: 1, max: 90 }), { nil: undefined }) }), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(grantArb, fc.array(step, { minLength: 1, maxLength: 50 }), (grantSpecs, steps) => {
        const dir = mkdtempSync(join(tmpdir(), 'tollgate-prop-'));
        const { db, sqlite } = openLedgerDb(join(dir, 'ledger.db'));
        try {
          const ledger = new Ledger(db);
          let now = new Date('2026-11-22T00:00:00.000Z');
          const allocations = grantSpecs.map((g, i) => ({ id: `g${i}`, tokens: g.tokens, ...(g.expiresIn ? { expiresAt: new Date(now.getTime() + g.expiresIn * 1000).toISOString() } : {}) }));
          ledger.syncGrants(parseConfig({ ledger: { path: 'x' }, companies: { acme: { name: 'acme', allocations } }, prices: PRICES }), now);
          const open: { id: string; hold: number }[] = [];
          let excess = 0;
          steps.forEach((s, i) => {
            if (s.kind === 'admit') {
              const r = ledger.admit({ id: `r${i}`, companyId: 'acme', keyId: null, endpoint: '/v1/x', requestedModel: 'm1', stream: false }, { minTokens: s.min, maxTokens: s.min + s.extra, clamp: s.clamp, maxPicoPerToken: 1 }, now);
              if (r.ok) open.push({ id: `r${i}`, hold: r.holdTokens });
            } else if (s.kind === 'settle' && open.length) {
              const [r] = open.splice(s.index % open.length, 1);
              const used = Math.floor(r!.hold * s.factor);
              excess += Math.max(0, used - r!.hold);
              ledger.settle(r!.id, { httpStatus: 200, usageSource: 'upstream', meteredTokens: used, costMicroUsd: 0, latencyMs: 1 }, now);
            } else if (s.kind === 'tick') {
              now = new Date(now.getTime() + s.seconds * 1000);
            }
            const overdrawn = (sqlite.prepare('SELECT COALESCE(SUM(MAX(0, spent - amount)), 0) AS n FROM grants').get() as { n: number }).n;
            const recorded = (sqlite.prepare('SELECT COALESCE(SUM(overdraft), 0) AS n FROM debits').get() as { n: number }).n;
            expect(overdrawn).toBeLessThanOrEqual(recorded);
            expect(recorded).toBeLessThanOrEqual(excess);
          });
        } finally {
          sqlite.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 150 },
    );
  });
});
