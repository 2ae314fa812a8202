import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantTerms } from '../../src/config/grants.js';
import { parseConfig } from '../../src/config/load.js';
import { GROUP_BYS, type GroupBy, type Ledger, type RequestFilter, type UsageRow } from '../../src/ledger/port.js';
import { ADAPTERS, type OpenedLedger } from './adapters.js';

/**
 * Usage read from the rollups (whole UTC hours and days), the raw edges and the rows not folded yet
 * equals usage summed from the rows themselves — before any fold, midway, and after every row is
 * folded — for random windows (aligned or not, open or not), filters and groupings. Rows are
 * admitted across four days (or, to read whole months and months less their days outside the
 * window, across ten weeks over four UTC months) and settled late (after a fold), voided, or left held.
 */

const START = Date.parse('2026-11-02T00:00:00.000Z');
const SPAN = 4 * 86_400_000;
/** The months scenario: 2026-09-20 to 2026-12-01. */
const MONTHS_START = Date.parse('2026-09-20T00:00:00.000Z');
const MONTHS_SPAN = 72 * 86_400_000;
const PICO = 10_000_000;

const config = parseConfig({
  ledger: { path: 'unused.db' },
  companies: {
    acme: { name: 'Acme', allocations: [{ id: 'acme-main', tokens: 1_000_000_000 }] },
    globex: { name: 'Globex', allocations: [{ id: 'globex-main', tokens: 1_000_000_000 }] },
  },
});

interface Row {
  id: string;
  at: number;
  companyId: string;
  userId: string | null;
  keyId: string | null;
  model: string;
  endpoint: string;
  feature: string | null;
  /** settled with usage, voided (http 500), or left held. */
  fate: 'settled' | 'voided' | 'held';
  /** Settled in the second wave (after the first fold). */
  late: boolean;
  usage: [number, number, number, number, number];
  nano: number;
  latencyMs: number | null;
  httpStatus: number;
}

/** A deterministic PRNG (mulberry32). */
function prng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rows(n: number, start = START, span = SPAN): Row[] {
  const r = prng(29);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  return Array.from({ length: n }, (_, i) => {
    const fate = r() < 0.1 ? 'held' : r() < 0.15 ? 'voided' : 'settled';
    const input = Math.floor(r() * 5000);
    const output = Math.floor(r() * 2000);
    return {
      id: `roll${String(i).padStart(4, '0')}`,
      // Some on hour and day boundaries exactly.
      at:
        i % 17 === 0
          ? start + Math.floor(r() * 4) * 86_400_000 + Math.floor(r() * 24) * 3_600_000
          : start + Math.floor(r() * span),
      companyId: pick(['acme', 'acme', 'globex']),
      userId: pick(['alice', 'bob', null, 'carol, "c"']),
      keyId: pick(['k1', 'k2', null]),
      model: pick(['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small']),
      endpoint: pick(['/v1/chat/completions', '/v1/embeddings', '/v1/responses']),
      feature: pick([null, null, 'summary']),
      fate,
      late: r() < 0.3,
      usage: [input, Math.floor(input * r() * 0.5), output, Math.floor(output * r() * 0.3), input + output],
      nano: Math.floor(r() * 5_000_000),
      latencyMs: r() < 0.1 ? null : Math.round(r() * 200_000) / 100 + (r() < 0.2 ? 0.0005 : 0),
      httpStatus: fate === 'voided' ? 500 : r() < 0.1 ? 429 : 200,
    } satisfies Row;
  });
}

async function finish(ledger: Ledger, row: Row): Promise<void> {
  const end = new Date(row.at + 1500);
  if (row.fate === 'voided') {
    await ledger.void(
      row.id,
      { httpStatus: 500, usageSource: 'none', latencyMs: row.latencyMs ?? 0, errorCode: 'x' },
      end,
    );
    return;
  }
  const [inputTokens, cachedInputTokens, outputTokens, reasoningTokens, totalTokens] = row.usage;
  await ledger.settle(
    row.id,
    {
      httpStatus: row.httpStatus,
      usage: { inputTokens, cachedInputTokens, outputTokens, reasoningTokens, totalTokens },
      usageSource: 'upstream',
      meteredTokens: totalTokens,
      costMicroUsd: Math.floor((row.nano + 500) / 1000),
      costNanoUsd: row.nano,
      latencyMs: row.latencyMs as number,
    },
    end,
  );
}

/** What `usage` must answer, summed from the rows in JS. */
function expected(all: Row[], f: RequestFilter, groupBy: GroupBy): UsageRow[] {
  const iso = (ms: number) => new Date(ms).toISOString();
  const keep = all.filter(
    (r) =>
      r.fate !== 'held' &&
      (f.companyId === undefined || r.companyId === f.companyId) &&
      (f.userId === undefined || r.userId === f.userId) &&
      (f.keyId === undefined || r.keyId === f.keyId) &&
      (f.model === undefined || r.model === f.model) &&
      (f.endpoint === undefined || r.endpoint === f.endpoint) &&
      (f.feature === undefined || r.feature === f.feature) &&
      (f.since === undefined || iso(r.at) >= f.since) &&
      (f.until === undefined || iso(r.at) < f.until),
  );
  const keyOf = (r: Row): [string | null, string | null] => {
    switch (groupBy) {
      case 'none':
        return [null, null];
      case 'company':
        return [r.companyId, null];
      case 'user':
        return [r.userId, r.companyId];
      case 'model':
        return [r.model, null];
      case 'endpoint':
        return [r.endpoint, null];
      case 'day':
        return [iso(r.at).slice(0, 10), null];
      case 'hour':
        return [`${iso(r.at).slice(0, 13)}:00Z`, null];
      case 'tag': // These rows carry no tags nor end users (attribution.test.ts covers them).
        return [null, null];
      case 'end_user':
        return [null, r.companyId];
    }
  };
  const groups = new Map<string, { key: string | null; companyId: string | null; rows: Row[] }>();
  if (groupBy === 'none') groups.set(JSON.stringify([null, null]), { key: null, companyId: null, rows: [] });
  for (const r of keep) {
    const [key, companyId] = keyOf(r);
    const id = JSON.stringify([companyId, key]);
    if (!groups.has(id)) groups.set(id, { key, companyId, rows: [] });
    groups.get(id)!.rows.push(r);
  }
  const cmp = (a: string | null, b: string | null) => (a === b ? 0 : a === null ? -1 : b === null ? 1 : a < b ? -1 : 1);
  return [...groups.values()]
    .sort((a, b) => cmp(a.companyId, b.companyId) || cmp(a.key, b.key))
    .map((g) => {
      const charged = (r: Row) => (r.fate === 'settled' ? 1 : 0);
      const sum = (f: (r: Row) => number) => g.rows.reduce((n, r) => n + f(r), 0);
      const timed = g.rows.filter((r) => r.latencyMs !== null || r.fate === 'voided');
      const us = (r: Row) => Math.floor((r.latencyMs ?? 0) * 1000 + 0.5);
      return {
        key: g.key,
        companyId: g.companyId,
        requests: g.rows.length,
        inputTokens: sum((r) => charged(r) * r.usage[0]),
        cachedInputTokens: sum((r) => charged(r) * r.usage[1]),
        outputTokens: sum((r) => charged(r) * r.usage[2]),
        reasoningTokens: sum((r) => charged(r) * r.usage[3]),
        totalTokens: sum((r) => charged(r) * r.usage[4]),
        costMicroUsd: Math.floor((sum((r) => charged(r) * r.nano) + 500) / 1000),
        errors: sum((r) => (r.fate === 'voided' || r.httpStatus >= 400 ? 1 : 0)),
        avgLatencyMs: timed.length ? Math.round(timed.reduce((n, r) => n + us(r), 0) / timed.length / 100) / 10 : null,
      };
    });
}

/** Instants around [start, start + span): anywhere, on day and hour bounds, and on the bounds of UTC months. */
const instantsAround = (start: number, span: number) =>
  fc.oneof(
    fc.integer({ min: start - 86_400_000, max: start + span + 86_400_000 }),
    fc.integer({ min: -1, max: Math.ceil(span / 86_400_000) + 1 }).chain((d) => fc.constant(start + d * 86_400_000)),
    fc.integer({ min: -2, max: 100 }).chain((h) => fc.constant(start + h * 3_600_000)),
    fc.integer({ min: 7, max: 12 }).chain((m) => fc.constant(Date.UTC(2026, m, 1))),
  );
const filtersAround = (start: number, span: number) => {
  const instant = instantsAround(start, span);
  return fc.record(
    {
      since: instant,
      until: instant,
      companyId: fc.constantFrom('acme', 'globex', 'nobody'),
      userId: fc.constantFrom('alice', 'carol, "c"'),
      keyId: fc.constantFrom('k1', 'k2'),
      model: fc.constantFrom('gpt-4o', 'text-embedding-3-small'),
      endpoint: fc.constantFrom('/v1/embeddings'),
      feature: fc.constantFrom('summary'),
    },
    { requiredKeys: [] },
  );
};

const SCENARIOS = [
  { label: 'four days', start: START, span: SPAN, rows: rows(160) },
  {
    label: 'ten weeks over four months',
    start: MONTHS_START,
    span: MONTHS_SPAN,
    rows: rows(240, MONTHS_START, MONTHS_SPAN),
  },
];

describe.each(SCENARIOS.flatMap((s) => ADAPTERS.map((a) => ({ ...s, adapter: a, name: a.name }))))(
  'rollups, $label ($name)',
  ({ adapter, start: START, span: SPAN, rows: ROWS }) => {
    const filterArb = filtersAround(START, SPAN);
    let opened: OpenedLedger;
    let ledger: Ledger;
    beforeAll(async () => {
      opened = await adapter.open();
      ledger = opened.ledger;
      const { grants, purchases } = grantTerms(config, new Date(START - 86_400_000));
      await ledger.syncGrants(grants, purchases, new Date(START - 86_400_000));
      for (const r of ROWS) {
        const admitted = await ledger.admit(
          {
            id: r.id,
            companyId: r.companyId,
            keyId: r.keyId,
            userId: r.userId,
            feature: r.feature,
            endpoint: r.endpoint,
            requestedModel: r.model,
            stream: false,
            estimatedPromptTokens: 10,
          },
          { minTokens: 10, maxTokens: 10_000, clamp: false, maxPicoPerToken: PICO },
          new Date(r.at),
          [],
        );
        if (!admitted.ok) throw new Error(`${r.id} refused`);
        if (r.fate !== 'held' && !r.late) await finish(ledger, r);
      }
    }, 60_000);
    afterAll(() => opened?.close());

    /** The newest `limit` finished rows matching `f`, newest first (ties: the later admitted first). */
    const newest = (all: Row[], f: RequestFilter, limit: number) =>
      all
        .map((r, i) => ({ r, i }))
        .filter(({ r }) => expected([r], f, 'none')[0]!.requests === 1)
        .sort((a, b) => b.r.at - a.r.at || b.i - a.i)
        .slice(0, limit)
        .map(({ r }) => r.id);

    const check = async (runs: number) => {
      const settledNow = ROWS.map((r) =>
        r.late && r.fate !== 'held' && !lateDone ? { ...r, fate: 'held' as const } : r,
      );
      await fc.assert(
        fc.asyncProperty(
          filterArb,
          fc.constantFrom(...GROUP_BYS),
          fc.integer({ min: 1, max: 30 }),
          async (raw, groupBy, limit) => {
            const f: RequestFilter = {
              ...raw,
              since: raw.since === undefined ? undefined : new Date(raw.since).toISOString(),
              until: raw.until === undefined ? undefined : new Date(raw.until).toISOString(),
            };
            for (const k of Object.keys(f) as (keyof RequestFilter)[]) if (f[k] === undefined) delete f[k];
            expect(await ledger.reader.usage(f, groupBy)).toEqual(expected(settledNow, f, groupBy));
            const recent = await ledger.reader.recent(f, limit, new Date(START + SPAN));
            expect(recent.map((r) => r.id)).toEqual(newest(settledNow, f, limit));
          },
        ),
        { numRuns: runs, seed: 2029 },
      );
    };
    let lateDone = false;

    it('answers from raw rows before any fold', () => check(60));

    it('answers the same after a fold, with late rows settled into hours already folded', async () => {
      await ledger.rollups.fold();
      for (const r of ROWS) if (r.late && r.fate !== 'held') await finish(ledger, r);
      lateDone = true;
      await check(60);
    });

    /** The `daily_usage` view, read on the store: one row per UTC day, company, user and requested model. */
    const dailyView = async () =>
      (
        await opened.raw.query(
          'SELECT CAST(day AS TEXT) AS day, company_id, user_id, requested_model, requests, total_tokens, cost_nano_usd, errors FROM daily_usage',
        )
      )
        .map((r) => ({
          ...r,
          day: String(r.day),
          requests: Number(r.requests),
          total_tokens: Number(r.total_tokens),
          cost_nano_usd: Number(r.cost_nano_usd),
          errors: Number(r.errors),
        }))
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    const dailyExpected = () => {
      const groups = new Map<
        string,
        {
          day: string;
          company_id: string;
          user_id: string | null;
          requested_model: string;
          requests: number;
          total_tokens: number;
          cost_nano_usd: number;
          errors: number;
        }
      >();
      for (const r of ROWS) {
        if (r.fate === 'held' || (r.late && !lateDone)) continue;
        const day = new Date(r.at).toISOString().slice(0, 10);
        const k = JSON.stringify([day, r.companyId, r.userId, r.model]);
        const g = groups.get(k) ?? {
          day,
          company_id: r.companyId,
          user_id: r.userId,
          requested_model: r.model,
          requests: 0,
          total_tokens: 0,
          cost_nano_usd: 0,
          errors: 0,
        };
        g.requests++;
        if (r.fate === 'settled') {
          g.total_tokens += r.usage[4];
          g.cost_nano_usd += r.nano;
        }
        if (r.fate === 'voided' || r.httpStatus >= 400) g.errors++;
        groups.set(k, g);
      }
      return [...groups.values()].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    };

    /** The `hourly_usage` view's totals per UTC hour (its other columns are the rollup dimensions). */
    const hourlyView = async () =>
      (await opened.raw.query('SELECT hour, SUM(requests) AS n, SUM(latency_us) AS us FROM hourly_usage GROUP BY hour'))
        .map((r) => [new Date(r.hour as string).toISOString(), Number(r.n), Number(r.us)])
        .sort();
    const hourlyExpected = () => {
      const byHour = new Map<string, [number, number]>();
      for (const r of ROWS) {
        if (r.fate === 'held' || (r.late && !lateDone)) continue;
        const h = `${new Date(r.at).toISOString().slice(0, 13)}:00:00.000Z`;
        const [n, us] = byHour.get(h) ?? [0, 0];
        byHour.set(h, [n + 1, us + Math.floor((r.latencyMs ?? 0) * 1000 + 0.5)]);
      }
      return [...byHour].map(([h, [n, us]]) => [h, n, us]).sort();
    };

    it('reads the daily_usage and hourly_usage views the same from raw rows and from the rollups', async () => {
      expect(await dailyView()).toEqual(dailyExpected());
      expect(await hourlyView()).toEqual(hourlyExpected());
    });

    it('answers the same once every row is folded, and verify finds the rollups equal to their rows', async () => {
      await ledger.rollups.catchUp();
      const status = await ledger.rollups.status();
      expect(status.waiting).toBe(0);
      expect(status.foldedRows).toBe(ROWS.filter((r) => r.fate !== 'held').length);
      await check(120);
      expect((await ledger.reader.verify()).filter((f) => f.severity === 'error')).toEqual([]);
      expect(await dailyView()).toEqual(dailyExpected());
      expect(await hourlyView()).toEqual(hourlyExpected());
    });
  },
);
