import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { endUserOf, storedEndUser } from '../src/attribution/end-user.js';
import { headerTags, requestTags } from '../src/attribution/tags.js';
import { addCalendar, periodAfter, periodAt } from '../src/budgets/periods.js';
import { renewalTerms, type Recurrence } from '../src/budgets/renewal.js';
import { parseConfig } from '../src/config/load.js';
import type { CompanyConfig } from '../src/config/schema.js';
import { compareBurnOrder } from '../src/ledger/allocate.js';
import type { GrantTerms, MirroredGrant } from '../src/ledger/port.js';
import { grantTerms } from './ledger-contract/fixtures.js';
import { quotasFor } from '../src/limits/quotas.js';

/** The pure rules of budgets: calendar periods, renewal and rollover, burn order, end users, tags. */

const at = (iso: string) => new Date(iso);

describe('calendar periods', () => {
  it('day, ISO week and month in a time zone, across a DST change', () => {
    const berlin = 'Europe/Berlin';
    expect(periodAt('day', at('2026-03-28T23:30:00Z'), berlin)).toEqual({
      key: '2026-03-29',
      start: at('2026-03-28T23:00:00Z'),
      end: at('2026-03-29T22:00:00Z'), // 23 hours: clocks go forward
    });
    expect(periodAt('week', at('2027-01-01T12:00:00Z'), 'UTC')).toEqual({
      key: '2026-W53',
      start: at('2026-12-28T00:00:00Z'),
      end: at('2027-01-04T00:00:00Z'),
    });
    expect(periodAt('month', at('2026-10-31T23:30:00Z'), berlin)).toEqual({
      key: '2026-11',
      start: at('2026-10-31T23:00:00Z'),
      end: at('2026-11-30T23:00:00Z'),
    });
    expect(addCalendar(at('2026-01-31T00:00:00Z'), 'month', 1, 'UTC')).toEqual(at('2026-02-28T00:00:00Z'));
  });

  it('periods tile time: each starts where the last ended, and contains its own instants', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('day', 'week', 'month' as const),
        fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Pacific/Auckland'),
        fc.date({ min: at('2020-01-01T00:00:00Z'), max: at('2035-01-01T00:00:00Z'), noInvalidDate: true }),
        (every, tz, t) => {
          const p = periodAt(every, t, tz);
          expect(p.start <= t && t < p.end).toBe(true);
          const next = periodAfter(every, p, tz);
          expect(next.start).toEqual(p.end);
          expect(next.key > p.key).toBe(true);
          expect(periodAt(every, new Date(p.end.getTime() - 1), tz).key).toBe(p.key);
        },
      ),
      { numRuns: 300 },
    );
  });
});

const BASE: GrantTerms = grantTerms({ id: 'monthly', priority: 1 });
const MONTHLY: Recurrence = {
  every: 'month',
  timeZone: 'UTC',
  startsAt: null,
  expiresAt: null,
  rollover: { max: 300, expiresAfter: { unit: 'month', count: 1 } },
};

/** A grant as the ledger would mirror these terms, with what was spent and held of it. */
function mirrored(t: GrantTerms, spent = 0, held = 0, removedAt: string | null = null): MirroredGrant {
  const { createOnly: _c, models, ...rest } = t;
  return { ...rest, models: models ? JSON.stringify(models) : null, spent, held, removedAt };
}

describe('renewal', () => {
  it("mirrors only the current period's grant, with a fixed id, and says when the next period starts", () => {
    const r = renewalTerms(BASE, { ...MONTHLY, rollover: undefined }, at('2026-11-15T10:00:00Z'), []);
    expect(r.grants).toEqual([
      { ...BASE, id: 'monthly@2026-11', startsAt: '2026-11-01T00:00:00.000Z', expiresAt: '2026-12-01T00:00:00.000Z' },
    ]);
    expect(r.renewsAt).toEqual(at('2026-12-01T00:00:00Z'));
    // The same instant, any number of times: the same terms.
    expect(renewalTerms(BASE, { ...MONTHLY, rollover: undefined }, at('2026-11-30T23:59:59Z'), [])).toEqual(r);
  });

  it('clips periods to the allocation window and stops renewing after it', () => {
    const window = { ...MONTHLY, startsAt: '2026-11-10T00:00:00.000Z', expiresAt: '2027-01-20T00:00:00.000Z' };
    expect(renewalTerms(BASE, window, at('2026-11-01T00:00:00Z'), [])).toEqual({
      grants: [],
      renewsAt: at('2026-11-10T00:00:00Z'),
    });
    expect(renewalTerms(BASE, window, at('2026-11-12T00:00:00Z'), []).grants[0]).toMatchObject({
      startsAt: '2026-11-10T00:00:00.000Z',
      expiresAt: '2026-12-01T00:00:00.000Z',
    });
    const last = renewalTerms(BASE, window, at('2027-01-05T00:00:00Z'), []);
    expect(last.grants[0]).toMatchObject({ id: 'monthly@2027-01', expiresAt: '2027-01-20T00:00:00.000Z' });
    expect(last.renewsAt).toBeNull();
    expect(renewalTerms(BASE, window, at('2027-01-20T00:00:00Z'), [])).toEqual({ grants: [], renewsAt: null });
  });

  it('carries what the last period left, held counting as used, capped at max, into a create-only grant', () => {
    const nov = renewalTerms(BASE, MONTHLY, at('2026-11-15T00:00:00Z'), []).grants;
    expect(nov).toHaveLength(1); // the first period: nothing to carry
    const ledger = [mirrored(nov[0]!, 850, 50)];
    const dec = renewalTerms(BASE, MONTHLY, at('2026-12-01T00:00:00Z'), ledger).grants;
    expect(dec[1]).toMatchObject({
      id: 'monthly@2026-12.rollover',
      amount: 100,
      startsAt: '2026-12-01T00:00:00.000Z',
      expiresAt: '2027-01-01T00:00:00.000Z',
      createOnly: true,
    });
    // Capped: 1000 left, 300 carried.
    const capped = renewalTerms(BASE, MONTHLY, at('2026-12-01T00:00:00Z'), [mirrored(nov[0]!)]).grants;
    expect(capped[1]!.amount).toBe(300);
    // Once mirrored, the rollover grant is given back as the ledger has it, whatever is computed now.
    const made = mirrored({ ...capped[1]!, amount: 42 });
    expect(renewalTerms(BASE, MONTHLY, at('2026-12-20T00:00:00Z'), [...ledger, made]).grants[1]).toMatchObject({
      id: 'monthly@2026-12.rollover',
      amount: 42,
      createOnly: true,
    });
  });

  it('plays missed periods through (nothing spent in them) and keeps carried grants that outlive their period', () => {
    const long = { ...MONTHLY, rollover: { max: 300, expiresAfter: { unit: 'month' as const, count: 3 } } };
    const sep = renewalTerms(BASE, long, at('2026-09-10T00:00:00Z'), []).grants;
    // Down from September to December: October's and November's grants were never mirrored.
    const dec = renewalTerms(BASE, long, at('2026-12-03T00:00:00Z'), [mirrored(sep[0]!, 1000)]).grants;
    // October carried nothing (September was used up); November carried 300 of October's 1000; December
    // carries 300 of November's 1000 (November's own rollover grant lasts until February).
    expect(dec.find((g) => g.id === 'monthly@2026-12.rollover')?.amount).toBe(300);
    const oct = mirrored({
      ...BASE,
      id: 'monthly@2026-10.rollover',
      amount: 7,
      startsAt: '2026-10-01T00:00:00.000Z',
      expiresAt: '2027-01-01T00:00:00.000Z',
    });
    const kept = renewalTerms(BASE, long, at('2026-12-03T00:00:00Z'), [mirrored(sep[0]!, 1000), oct]).grants;
    expect(kept.map((g) => g.id)).toContain('monthly@2026-10.rollover');
  });
});

describe('burn order', () => {
  it('priority first (lower first), then soonest expiry (none last), then oldest, then id', () => {
    const g = (id: string, priority: number, expiresAt: string | null, startsAt: string | null) => ({
      id,
      priority,
      expiresAt,
      startsAt,
    });
    const list = [
      g('e', 2, '2026-01-01T00:00:00.000Z', null),
      g('d', 1, null, '2025-01-01T00:00:00.000Z'),
      g('c', 1, '2026-06-01T00:00:00.000Z', null),
      g('b', 1, '2026-03-01T00:00:00.000Z', '2025-06-01T00:00:00.000Z'),
      g('a', 1, '2026-03-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'),
      g('z', 0, null, null),
    ];
    expect([...list].sort(compareBurnOrder).map((x) => x.id)).toEqual(['z', 'a', 'b', 'c', 'd', 'e']);
  });
});

function company(extra: Record<string, unknown>): CompanyConfig {
  return parseConfig({ ledger: { path: 'x' }, companies: { acme: { name: 'acme', ...extra } } }).companies.acme!;
}

describe('end users', () => {
  const c = company({ endUsers: { quotas: { daily: { usd: 1 } }, overrides: { vip: { daily: { usd: 5 } } } } });
  it('is safety_identifier, else user; an empty one names no one; a bad type or length is a 400 naming it', () => {
    expect(endUserOf('acme', c, '/v1/chat/completions', { safety_identifier: 's1', user: 'u1' })).toBe('s1');
    expect(endUserOf('acme', c, '/v1/responses', { safety_identifier: '', user: 'u1' })).toBe('u1');
    expect(endUserOf('acme', c, '/v1/chat/completions', {})).toBeNull();
    expect(endUserOf('acme', c, '/v1/audio/speech', { user: 'u1' })).toBeNull();
    expect(endUserOf('acme', c, '/v1/embeddings', { user: 42 })).toMatchObject({
      kind: 'invalid_request',
      param: 'user',
    });
    expect(endUserOf('acme', c, '/v1/chat/completions', { user: 'x'.repeat(513) })).toMatchObject({
      code: 'invalid_end_user',
    });
  });

  it('a company that requires one refuses a request without it, where the endpoint can carry it', () => {
    const strict = company({ endUsers: { missing: 'refuse' } });
    expect(endUserOf('acme', strict, '/v1/chat/completions', { user: null })).toMatchObject({
      kind: 'invalid_request',
      param: 'safety_identifier',
      code: 'missing_end_user',
    });
    expect(endUserOf('acme', strict, '/v1/audio/speech', {})).toBeNull();
  });

  it('hashes per config, and overrides apply to the hashed id', () => {
    const hashed = company({ endUsers: { store: 'hashed', overrides: { vip: { daily: { usd: 5 } } } } });
    const id = storedEndUser('acme', hashed, 'vip');
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(storedEndUser('beta', hashed, 'vip')).not.toBe(id);
    expect(endUserOf('acme', hashed, '/v1/chat/completions', { user: 'vip' })).toBe(id);
    const principal = { companyId: 'acme', keyId: 'k', userId: null, role: 'member' as const, sessionId: null };
    const q = quotasFor(hashed, principal, undefined, at('2026-11-02T00:00:00Z'), id);
    expect(q).toEqual([
      expect.objectContaining({ scope: 'end_user', scopeId: `acme/${id}`, limitMicroUsd: 5_000_000 }),
    ]);
  });

  it("gives each end user the default quotas, overridden window by window, beside the key's", () => {
    const principal = { companyId: 'acme', keyId: 'k', userId: null, role: 'member' as const, sessionId: null };
    const now = at('2026-11-02T10:00:00Z');
    expect(quotasFor(c, principal, undefined, now, 'alice')).toEqual([
      expect.objectContaining({ counterId: 'end_user:acme/alice:daily:2026-11-02', limitMicroUsd: 1_000_000 }),
    ]);
    expect(quotasFor(c, principal, undefined, now, 'vip')[0]).toMatchObject({ limitMicroUsd: 5_000_000 });
    expect(quotasFor(c, principal, undefined, now, null)).toEqual([]);
  });
});

describe('tags', () => {
  const c = company({ tags: { fromMetadata: ['team'], maxCount: 3, maxLength: 10 } });
  it('splits the header on commas, trims, skips empties and repeats', () => {
    expect(headerTags(c, ' search, ,beta,search,')).toEqual(['search', 'beta']);
    expect(headerTags(c, undefined)).toEqual([]);
  });
  it('adds named metadata keys as key:value, string values only', () => {
    expect(requestTags(c, ['a'], { metadata: { team: 'ml', other: 'x' } })).toEqual(['a', 'team:ml']);
    expect(requestTags(c, ['a'], { metadata: { team: 7 } })).toEqual(['a']);
  });
  it('refuses too many, too long, or control characters, naming where', () => {
    expect(headerTags(c, 'a,b,c,d')).toMatchObject({ code: 'invalid_tags', param: 'x-tollgate-tags' });
    expect(headerTags(c, 'abcdefghijk')).toMatchObject({ code: 'invalid_tags' });
    expect(headerTags(c, 'a\u0001b')).toMatchObject({ code: 'invalid_tags' });
    expect(requestTags(c, ['a', 'b', 'c'], { metadata: { team: 'x' } })).toMatchObject({
      code: 'invalid_tags',
      param: 'metadata.team',
    });
  });
});

describe('config', () => {
  it('refuses renewal without an amount, rollover without renewal, and a fractional token rollover', () => {
    const refused = (allocation: Record<string, unknown>) => () =>
      parseConfig({ ledger: { path: 'x' }, companies: { acme: { name: 'acme', allocations: [allocation] } } });
    expect(refused({ id: 'a', unlimited: true, models: ['m'], every: 'month' })).toThrow(
      /"every" needs "tokens" or "usd"/,
    );
    expect(refused({ id: 'a', tokens: 5, rollover: { max: 1 } })).toThrow(/"rollover" needs "every"/);
    expect(refused({ id: 'a', tokens: 5, every: 'day', rollover: { max: 1.5 } })).toThrow(/whole number of tokens/);
    expect(refused({ id: 'a', tokens: 5, every: 'fortnight' })).toThrow(/every/);
    expect(refused({ id: 'a', tokens: 5, priority: -1 })).toThrow(/priority/);
  });
});
