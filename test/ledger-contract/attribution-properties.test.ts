import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GroupBy, Ledger, RequestFilter } from '../../src/ledger/port.js';
import { ADAPTERS, type OpenedLedger } from './adapters.js';
import { grantTerms, hold, openWithGrants, requestFacts, tokensUsed } from './fixtures.js';

/**
 * Usage by spend tag and end user against a model in JS, on every adapter: random rows (several
 * tags each, or none; end users, or none; settled, voided, held), part of them folded into the
 * rollups before the rest settle, then random filters and groupings — every answer equal to the
 * rows summed in JS, and history's rows the newest matching ones.
 */

const START = Date.parse('2026-11-01T00:00:00.000Z');
const TAGS = ['a', 'b', 'ab', 'a b', 'say "q"', 'ß'] as const;
/** Each company's one tokens grant. */
const GRANTS = ['acme', 'globex'].map((companyId) =>
  grantTerms({ id: `${companyId}-g`, companyId, amount: 100_000_000 }),
);

interface Row {
  id: string;
  at: number;
  companyId: string;
  model: string;
  endUser: string | null;
  tags: string[];
  fate: 'settled' | 'voided' | 'held';
  /** Settled after the fold. */
  late: boolean;
  tokens: number;
}

function rowsOf(n: number): Row[] {
  let a = 26;
  const r = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  return Array.from({ length: n }, (_, i) => ({
    id: `t${String(i).padStart(3, '0')}`,
    at: START + Math.floor(r() * 3 * 86_400_000),
    companyId: pick(['acme', 'acme', 'globex']),
    model: pick(['gpt-4o', 'gpt-4o-mini']),
    endUser: pick([null, 'u1', 'u2', 'U1']),
    tags: TAGS.filter(() => r() < 0.3).sort(() => r() - 0.5),
    fate: r() < 0.1 ? 'held' : r() < 0.15 ? 'voided' : 'settled',
    late: r() < 0.3,
    tokens: 1 + Math.floor(r() * 1000),
  }));
}

const ROWS = rowsOf(90);

async function finish(ledger: Ledger, row: Row): Promise<void> {
  const end = new Date(row.at + 100);
  if (row.fate === 'voided')
    await ledger.void(row.id, { httpStatus: 500, usageSource: 'none', latencyMs: 1, errorCode: 'x' }, end);
  else await ledger.settle(row.id, tokensUsed(row.tokens), end);
}

const matches = (r: Row, f: RequestFilter) =>
  r.fate !== 'held' &&
  (f.companyId === undefined || r.companyId === f.companyId) &&
  (f.model === undefined || r.model === f.model) &&
  (f.endUser === undefined || r.endUser === f.endUser) &&
  (f.tag === undefined || r.tags.includes(f.tag)) &&
  (f.since === undefined || new Date(r.at).toISOString() >= f.since) &&
  (f.until === undefined || new Date(r.at).toISOString() < f.until);

/** [companyId, key, requests, total tokens, errors] per group, sorted as the reader sorts them. */
function expected(rows: Row[], f: RequestFilter, groupBy: GroupBy) {
  const groups = new Map<string, [string | null, string | null, number, number, number]>();
  if (groupBy === 'none') groups.set('[null,null]', [null, null, 0, 0, 0]);
  for (const r of rows.filter((x) => matches(x, f))) {
    const keys: [string | null, string | null][] =
      groupBy === 'tag'
        ? r.tags.length
          ? r.tags.map((t) => [null, t])
          : [[null, null]]
        : groupBy === 'end_user'
          ? [[r.companyId, r.endUser]]
          : groupBy === 'model'
            ? [[null, r.model]]
            : groupBy === 'day'
              ? [[null, new Date(r.at).toISOString().slice(0, 10)]]
              : [[null, null]];
    for (const [company, key] of keys) {
      const id = JSON.stringify([company, key]);
      const g = groups.get(id) ?? [company, key, 0, 0, 0];
      g[2]++;
      g[3] += r.fate === 'settled' ? r.tokens : 0;
      g[4] += r.fate === 'voided' ? 1 : 0;
      groups.set(id, g);
    }
  }
  const cmp = (a: string | null, b: string | null) => (a === b ? 0 : a === null ? -1 : b === null ? 1 : a < b ? -1 : 1);
  return [...groups.values()].sort((x, y) => cmp(x[0], y[0]) || cmp(x[1], y[1]));
}

const instant = fc
  .integer({ min: START - 3_600_000, max: START + 4 * 86_400_000 })
  .map((ms) => new Date(ms).toISOString());
const filterArb = fc.record(
  {
    companyId: fc.constantFrom('acme', 'globex'),
    model: fc.constantFrom('gpt-4o'),
    endUser: fc.constantFrom('u1', 'U1', 'nobody'),
    tag: fc.constantFrom(...TAGS, 'A'),
    since: instant,
    until: instant,
  },
  { requiredKeys: [] },
);

describe.each(ADAPTERS)('usage by tag and end user, against a model ($name)', (adapter) => {
  let opened: OpenedLedger;
  let ledger: Ledger;
  beforeAll(async () => {
    opened = await openWithGrants(adapter, GRANTS, new Date(START - 86_400_000));
    ledger = opened.ledger;
    for (const r of ROWS) {
      const facts = { id: r.id, companyId: r.companyId, requestedModel: r.model, endUser: r.endUser, tags: r.tags };
      const ok = await ledger.admit(requestFacts(facts), hold(2000), new Date(r.at), []);
      if (!ok.ok) throw new Error(`${r.id} refused`);
      if (r.fate !== 'held' && !r.late) await finish(ledger, r);
    }
    await ledger.rollups.fold();
    for (const r of ROWS) if (r.fate !== 'held' && r.late) await finish(ledger, r);
  }, 60_000);
  afterAll(() => opened?.close());

  it('answers every filter and grouping as the rows summed in JS', async () => {
    await fc.assert(
      fc.asyncProperty(
        filterArb,
        fc.constantFrom<GroupBy>('none', 'tag', 'end_user', 'model', 'day'),
        fc.integer({ min: 1, max: 20 }),
        async (f, groupBy, limit) => {
          const got = await ledger.reader.usage(f, groupBy);
          expect(got.map((r) => [r.companyId, r.key, r.requests, r.totalTokens, r.errors])).toEqual(
            expected(ROWS, f, groupBy),
          );
          const recent = await ledger.reader.recent(f, limit, new Date(START + 5 * 86_400_000));
          const newest = ROWS.filter((r) => matches(r, f))
            .sort((x, y) => y.at - x.at || (x.id < y.id ? 1 : -1))
            .slice(0, limit);
          expect(recent.map((r) => [r.id, r.endUser, r.tags])).toEqual(newest.map((r) => [r.id, r.endUser, r.tags]));
        },
      ),
      { numRuns: 80, seed: 26 },
    );
  });
});
