import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ledger, RequestFilter, UsageRow } from '../../src/ledger/port.js';
import { planUsage } from '../../src/ledger/rollups/plan.js';
import { ADAPTERS, type OpenedLedger } from './adapters.js';
import { grantTerms, hold, openWithGrants, requestFacts, tokensUsed } from './fixtures.js';

/**
 * Spend tags and end users in the report queries, on every adapter: usage filtered by a tag or an
 * end user and grouped by either, and the request log and history carrying both. Neither is a
 * rollup dimension: the rows are folded first, so each report here must still read the raw rows.
 */

const NOW = new Date('2026-10-31T12:00:00.000Z');
/** Each company's one tokens grant. */
const GRANTS = ['acme', 'globex'].map((companyId) =>
  grantTerms({ id: `${companyId}-g`, companyId, amount: 1_000_000 }),
);

const QUOTED = 'say "hi", ß';
/** id, company, end user, tags, total tokens (0: voided), hour of 2026-10-30. */
const SEEDS: [string, string, string | null, string[] | null, number, number][] = [
  ['a1', 'acme', 'u-1', ['search', 'team:growth'], 100, 1],
  ['a2', 'acme', 'u-1', ['search'], 200, 2],
  ['a3', 'acme', 'u-2', ['searching'], 400, 3],
  ['a4', 'acme', null, null, 800, 4],
  ['a5', 'acme', 'u-2', [QUOTED], 0, 5],
  ['g1', 'globex', 'u-1', ['search'], 1600, 6],
];

/** Admits one request (held), at `at`. */
async function admit(
  ledger: Ledger,
  id: string,
  companyId: string,
  endUser: string | null,
  tags: string[] | null,
  at: Date,
) {
  const facts = requestFacts({ id, companyId, keyId: `${companyId}-key`, endUser, tags });
  const ok = await ledger.admit(facts, hold(2000), at, []);
  if (!ok.ok) throw new Error(`seed ${id} refused`);
}

async function seed(ledger: Ledger): Promise<void> {
  for (const [id, companyId, endUser, tags, total, hour] of SEEDS) {
    const at = new Date(Date.UTC(2026, 9, 30, hour, 30));
    await admit(ledger, id, companyId, endUser, tags, at);
    const end = new Date(at.getTime() + 10);
    if (total === 0)
      await ledger.void(id, { httpStatus: 500, usageSource: 'none', latencyMs: 10, errorCode: 'server_error' }, end);
    else await ledger.settle(id, tokensUsed(total, { latencyMs: 10 }), end);
  }
  // One request still in flight, tagged: never in a report.
  await admit(ledger, 'held', 'acme', 'u-1', ['search'], new Date('2026-10-30T07:00:00Z'));
}

describe.each(ADAPTERS)('tags and end users in reports ($name)', (adapter) => {
  let opened: OpenedLedger;
  let ledger: Ledger;
  beforeAll(async () => {
    opened = await openWithGrants(adapter, GRANTS, new Date('2026-10-01T00:00:00Z'));
    ledger = opened.ledger;
    await seed(ledger);
    await ledger.rollups.fold();
  });
  afterAll(() => opened?.close());

  const brief = (rows: UsageRow[]) => rows.map((r) => [r.companyId, r.key, r.requests, r.totalTokens, r.errors]);
  const total = async (f: RequestFilter) =>
    (await ledger.reader.usage(f, 'none')).map((r) => [r.requests, r.totalTokens]);

  it('plans any report on a tag or an end user on raw rows alone, whole days included', () => {
    const window = { since: '2026-10-01T00:00:00.000Z', until: '2026-11-01T00:00:00.000Z' };
    const rawOnly = { months: [], days: [], daysOut: [], hours: [], hoursOut: [], raw: [window], covered: null };
    expect(planUsage({ ...window, tag: 'search' }, 'day')).toEqual(rawOnly);
    expect(planUsage({ ...window, endUser: 'u-1' }, 'model')).toEqual(rawOnly);
    expect(planUsage(window, 'tag')).toEqual(rawOnly);
    expect(planUsage(window, 'end_user')).toEqual(rawOnly);
    expect(planUsage(window, 'user').months).toEqual([window]);
    expect(planUsage(window, 'day').days).toEqual([window]);
  });

  it('groups by tag: a row counts in each of its tags, untagged rows in the null group', async () => {
    expect(brief(await ledger.reader.usage({ companyId: 'acme' }, 'tag'))).toEqual([
      [null, null, 1, 800, 0],
      [null, QUOTED, 1, 0, 1],
      [null, 'search', 2, 300, 0],
      [null, 'searching', 1, 400, 0],
      [null, 'team:growth', 1, 100, 0],
    ]);
    // The top groups by tokens.
    expect(brief(await ledger.reader.usage({ companyId: 'acme' }, 'tag', 2))).toEqual([
      [null, null, 1, 800, 0],
      [null, 'searching', 1, 400, 0],
    ]);
    // Across companies a tag's group sums every company's rows.
    expect(brief(await ledger.reader.usage({}, 'tag')).find((r) => r[1] === 'search')).toEqual([
      null,
      'search',
      3,
      1900,
      0,
    ]);
  });

  it('filters by tag: exactly that tag (not one it prefixes), within the company asked for', async () => {
    expect(await total({ companyId: 'acme', tag: 'search' })).toEqual([[2, 300]]);
    expect(await total({ tag: 'search' })).toEqual([[3, 1900]]);
    expect(await total({ companyId: 'acme', tag: 'sear' })).toEqual([[0, 0]]);
    expect(await total({ companyId: 'acme', tag: QUOTED })).toEqual([[1, 0]]);
    expect(await total({ companyId: 'globex', tag: 'team:growth' })).toEqual([[0, 0]]);
    // Filtered by one tag and grouped by tag: the matching rows' other tags show too.
    expect(brief(await ledger.reader.usage({ companyId: 'acme', tag: 'team:growth' }, 'tag'))).toEqual([
      [null, 'search', 1, 100, 0],
      [null, 'team:growth', 1, 100, 0],
    ]);
    // Combined with the time window and other dimensions.
    expect(
      await total({ companyId: 'acme', tag: 'search', since: '2026-10-30T02:00:00.000Z', model: 'gpt-4o-mini' }),
    ).toEqual([[1, 200]]);
  });

  it('groups and filters by end user, per company', async () => {
    expect(brief(await ledger.reader.usage({}, 'end_user'))).toEqual([
      ['acme', null, 1, 800, 0],
      ['acme', 'u-1', 2, 300, 0],
      ['acme', 'u-2', 2, 400, 1],
      ['globex', 'u-1', 1, 1600, 0],
    ]);
    expect(await total({ companyId: 'acme', endUser: 'u-1' })).toEqual([[2, 300]]);
    expect(await total({ endUser: 'u-1' })).toEqual([[3, 1900]]);
    expect(brief(await ledger.reader.usage({ companyId: 'acme', endUser: 'u-2' }, 'tag'))).toEqual([
      [null, QUOTED, 1, 0, 1],
      [null, 'searching', 1, 400, 0],
    ]);
  });

  it('carries tags and the end user on the request log and history, and filters them', async () => {
    const rows = await ledger.reader.rows({ companyId: 'acme' });
    expect(rows.map((r) => [r.id, r.endUser, r.tags])).toEqual([
      ['a1', 'u-1', ['search', 'team:growth']],
      ['a2', 'u-1', ['search']],
      ['a3', 'u-2', ['searching']],
      ['a4', null, []],
      ['a5', 'u-2', [QUOTED]],
    ]);
    expect((await ledger.reader.rows({ tag: 'search' })).map((r) => r.id)).toEqual(['a1', 'a2', 'g1']);
    const recent = await ledger.reader.recent({ companyId: 'acme', endUser: 'u-1' }, 10, NOW);
    expect(recent.map((r) => [r.id, r.endUser, r.tags])).toEqual([
      ['a2', 'u-1', ['search']],
      ['a1', 'u-1', ['search', 'team:growth']],
    ]);
    expect((await ledger.reader.recent({ tag: QUOTED }, 10, NOW)).map((r) => r.id)).toEqual(['a5']);
    expect(
      (await ledger.reader.priceVersions({ companyId: 'acme', tag: 'search' })).reduce((n, v) => n + v.requests, 0),
    ).toBe(2);
  });
});
