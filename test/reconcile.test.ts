import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ledger } from '../src/ledger/port.js';
import { AdminApiError } from '../src/reconcile/admin-api.js';
import type { Dimension, Line, ReconciliationReport } from '../src/reconcile/report.js';
import { ReconcileError, reconcile } from '../src/reconcile/run.js';
import { ADAPTERS, type OpenedLedger } from './ledger-contract/adapters.js';
import { type FakeAdminApi, startFakeAdminApi } from './support/fake-admin-api.js';
import { ADMIN_KEY, openaiRecords, RECONCILE_NOW, reconcileConfig, seedLedger } from './support/reconcile-fixture.js';

/**
 * `reconcile` end to end on each engine: a ledger with known drift (see reconcile-fixture.ts)
 * against a fake of OpenAI's Admin API, found to the token and the nano-USD; honest attribution
 * (other clients' traffic is outside or unmatched, never drift); provisional days; group_by.
 */
const env = { OPENAI_ADMIN_KEY: ADMIN_KEY };
const FROM = '2026-11-20';
const TO = '2026-11-22';

const find = (lines: Line[], day: string | null, model: string | null) => {
  const l = lines.find((x) => x.day === day && x.model === model);
  if (!l) throw new Error(`no line ${day} ${model}`);
  return l;
};
const measure = (l: Line, name: string) => l.measures.find((m) => m.name === name);

let fake: FakeAdminApi;
beforeAll(async () => {
  fake = await startFakeAdminApi({
    adminKey: ADMIN_KEY,
    records: openaiRecords(),
    now: Date.parse('2026-11-23T00:00:00Z') / 1000,
  });
});
afterAll(async () => {
  await fake.close();
});

for (const adapter of ADAPTERS) {
  describe(`${adapter.name}: reconcile`, () => {
    let opened: OpenedLedger;
    let ledger: Ledger;
    beforeAll(async () => {
      opened = await adapter.open();
      ledger = opened.ledger;
      await seedLedger(ledger);
    });
    afterAll(async () => {
      await opened.close();
    });

    const run = (mapping: { projectId?: string; apiKeyId?: string } | null, groupBy: Dimension[] = ['day', 'model']) =>
      reconcile(
        reconcileConfig(fake.url, mapping),
        ledger,
        { from: FROM, to: TO, groupBy: [...groupBy], now: RECONCILE_NOW },
        env,
      );

    it("finds the known drift to the token and the nano-USD on tollgate's key, and nothing else", async () => {
      const r: ReconciliationReport = await run({ apiKeyId: 'key_tg' });
      expect(r.scope).toEqual({ upstreamKey: 'OPENAI_API_KEY', projectId: null, apiKeyId: 'key_tg', exclusive: true });
      const mini = find(r.lines, '2026-11-20', 'gpt-4o-mini');
      expect(mini).toMatchObject({ status: 'drift', over: true, provisional: false, driftPercent: 1.01 });
      expect(measure(mini, 'output_tokens')).toEqual({
        name: 'output_tokens',
        ledger: 700,
        openai: 693,
        drift: 7,
        driftPercent: 1.01,
        judged: true,
        over: true,
      });
      expect(measure(mini, 'input_tokens')).toMatchObject({ ledger: 3500, openai: 3500, drift: 0, over: false });
      expect(measure(mini, 'input_cached_tokens')).toMatchObject({ ledger: 200, openai: 200, drift: 0 });
      // Per-model cost from line items: shown, not judged.
      expect(measure(mini, 'cost_nano_usd')).toMatchObject({
        ledger: 1_234_567_891,
        openai: 1_234_567_888,
        drift: 3,
        judged: false,
      });
      // Cost is judged per day: 3 nano-USD of drift, beyond the ½ nano-USD per amount, within 1 %.
      expect(measure(find(r.days, '2026-11-20', null), 'cost_nano_usd')).toEqual({
        name: 'cost_nano_usd',
        ledger: 1_234_567_891,
        openai: 1_234_567_888,
        drift: 3,
        driftPercent: 0,
        judged: true,
        over: false,
      });
      expect(find(r.days, '2026-11-20', null).status).toBe('drift');

      // Audio tokens (cached included on both sides) and embeddings match exactly.
      const rt = find(r.lines, '2026-11-21', 'gpt-4o-realtime-preview');
      expect(rt.status).toBe('match');
      expect(measure(rt, 'input_audio_tokens')).toMatchObject({ ledger: 300, openai: 300 });
      expect(measure(rt, 'output_audio_tokens')).toMatchObject({ ledger: 200, openai: 200 });
      expect(find(r.lines, '2026-11-21', 'text-embedding-3-small').status).toBe('match');
      // Images on tollgate's key the ledger never saw: only at OpenAI, left out of the day's cost.
      expect(find(r.lines, '2026-11-21', 'dall-e-3')).toMatchObject({ status: 'openai_only', over: false });
      expect(find(r.days, '2026-11-21', null)).toMatchObject({ status: 'match', over: false });
      // Today: provisional, never judged.
      expect(find(r.lines, '2026-11-22', 'gpt-4o-mini')).toMatchObject({
        status: 'ledger_only',
        provisional: true,
        over: false,
      });
      // The other client's key in the same project: outside, summed, not drift.
      expect(r.outside).toEqual([
        {
          projectId: 'proj_tg',
          apiKeyId: 'key_other',
          num_model_requests: 30,
          input_tokens: 3000,
          output_tokens: 300,
          cost_nano_usd: 7_500_000,
        },
      ]);
      expect(r.other).toEqual([{ day: '2026-11-21', projectId: 'proj_tg', kind: 'vector_stores', value: 2048 }]);
      expect(r.summary).toEqual({
        lines: 5,
        match: 2,
        drift: 1,
        unmatched: 0,
        ledgerOnly: 1,
        openaiOnly: 1,
        over: 1,
        provisionalDays: ['2026-11-22'],
      });
      expect(r.notes.join('\n')).toMatch(/Only at OpenAI: dall-e-3/);
      expect(r.notes.join('\n')).toMatch(/Provisional, shown but never judged: 2026-11-22 \(not over yet\)/);
    });

    it("with the project only, OpenAI's excess is unmatched, and the note names the keys that would separate it", async () => {
      const r = await run({ projectId: 'proj_tg' });
      expect(r.scope.exclusive).toBe(false);
      // The ledger's output is higher than OpenAI's for gpt-4o-mini: that is drift whatever the mapping.
      expect(find(r.lines, '2026-11-20', 'gpt-4o-mini')).toMatchObject({ status: 'drift', over: true });
      // gpt-4o only at OpenAI (the other key's): not drift.
      expect(find(r.lines, '2026-11-20', 'gpt-4o')).toMatchObject({ status: 'openai_only', over: false });
      expect(r.outside).toEqual([]);
      const note = r.notes.find((n) => n.startsWith('Compared: project proj_tg'));
      expect(note).toMatch(/Keys seen: key_other \(30 requests\), key_tg \(7 requests\)/);
      expect(note).toMatch(/reconciliation\.upstreamKeys\.OPENAI_API_KEY\.apiKeyId/);
    });

    it('with no mapping compares the whole organization and says which mapping would separate other traffic', async () => {
      const r = await run(null, ['day']);
      const day20 = find(r.lines, '2026-11-20', null);
      // Per day, cost is judged: OpenAI has the other key's $0.0025 too, but gpt-4o is only at OpenAI.
      expect(find(r.lines, '2026-11-20', 'gpt-4o')).toMatchObject({ status: 'openai_only' });
      expect(day20).toMatchObject({ status: 'drift', over: true });
      expect(measure(day20, 'cost_nano_usd')).toMatchObject({ drift: 3, judged: true, over: false });
      expect(r.notes[0]).toMatch(/^Compared: the whole organization/);
      expect(r.notes[0]).toMatch(/proj_tg\/key_other \(30 requests\)/);
    });

    it('groups by key and project from the mapping, and refuses a grouping the mapping cannot support', async () => {
      const r = await run({ apiKeyId: 'key_tg' }, ['project', 'key']);
      // The key's project is learnt from OpenAI's own results.
      expect(r.lines.filter((l) => l.status !== 'openai_only').map((l) => [l.projectId, l.apiKeyId, l.status])).toEqual(
        [['proj_tg', 'key_tg', 'drift']],
      );
      await expect(run({ projectId: 'proj_tg' }, ['day', 'key'])).rejects.toThrow(ReconcileError);
      await expect(run(null, ['project'])).rejects.toThrow(
        /set reconciliation\.upstreamKeys\.OPENAI_API_KEY\.projectId/,
      );
    });

    it('reads the same from OpenAI a page per day, through a 429 with retry-after', async () => {
      const paged = await startFakeAdminApi({
        adminKey: ADMIN_KEY,
        records: openaiRecords(),
        now: Date.parse('2026-11-23T00:00:00Z') / 1000,
        pageSize: 1,
      });
      try {
        paged.rateLimit(1, 1);
        const req = { from: FROM, to: TO, groupBy: ['day', 'model'] as Dimension[], now: RECONCILE_NOW };
        const [one, three] = await Promise.all([
          reconcile(reconcileConfig(fake.url, { apiKeyId: 'key_tg' }), ledger, req, env),
          reconcile(reconcileConfig(paged.url, { apiKeyId: 'key_tg' }), ledger, req, env),
        ]);
        expect(three).toEqual(one);
        // 9 endpoints × 3 pages, and the request the 429 answered.
        expect(paged.requests).toHaveLength(28);
        expect(paged.requests.filter((r) => r.query.has('page'))).toHaveLength(18);
      } finally {
        await paged.close();
      }
    });

    it('refuses without the admin key, and with a key OpenAI refuses', async () => {
      const config = reconcileConfig(fake.url, { apiKeyId: 'key_tg' });
      const req = { from: FROM, to: TO, groupBy: ['day' as const], now: RECONCILE_NOW };
      await expect(reconcile(config, ledger, req, {})).rejects.toThrow(/export OPENAI_ADMIN_KEY=sk-admin-/);
      const refused = await reconcile(config, ledger, req, { OPENAI_ADMIN_KEY: 'sk-proj-not-an-admin-key-abcd' }).catch(
        (e: unknown) => e,
      );
      expect(refused).toBeInstanceOf(AdminApiError);
      expect((refused as Error).message).toMatch(/OpenAI refused the admin key in \$OPENAI_ADMIN_KEY \(HTTP 401/);
      await expect(reconcile(config, ledger, { ...req, to: '2026-11-23' }, env)).rejects.toThrow(/after today/);
      await expect(reconcile(config, ledger, { ...req, from: '2026-02-30' }, env)).rejects.toThrow(
        /expected a UTC day/,
      );
    });
  });
}
