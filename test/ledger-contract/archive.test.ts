import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveBusyError, archiveLedger } from '../../src/ledger/archive/run.js';
import { archiveFileFor, retentionCutoff, runRetention } from '../../src/ledger/archive/retention.js';
import type { Ledger, RequestFilter } from '../../src/ledger/port.js';
import { ADAPTERS, type OpenedLedger } from './adapters.js';
import { grantTerms, hold, openWithGrants, requestFacts, tokensUsed } from './fixtures.js';

/**
 * Archiving, for each adapter: the rows admitted before the cut-off that are finished go to the
 * file with their debits, and only those leave the ledger; held rows and deferred work stay; usage
 * reads the same from the rollups; `grants.spent` still equals the debits (archived included); and
 * `ledger verify` checks the rollups against what is left and what was archived — and notices when
 * any of them is changed behind its back.
 */

const D1 = Date.parse('2026-09-01T00:00:00.000Z');
const DAY = 86_400_000;
const CUT = new Date(D1 + 2 * DAY).toISOString();
const NOW = new Date(D1 + 3 * DAY + 3_600_000);

describe.each(ADAPTERS)('archive ($name)', (adapter) => {
  let opened: OpenedLedger;
  let ledger: Ledger;
  let dir: string;
  const archived: string[] = [];
  const kept: string[] = [];
  let held = '';
  let deferred = '';
  const usageBefore: unknown[] = [];
  const queries: [RequestFilter, 'none' | 'day' | 'user' | 'hour'][] = [
    [{}, 'day'],
    [{ companyId: 'acme' }, 'user'],
    [{ since: new Date(D1 + 5 * 3_600_000).toISOString() }, 'none'],
    [{ since: new Date(D1).toISOString(), until: new Date(D1 + 3 * DAY).toISOString() }, 'hour'],
  ];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tollgate-archive-'));
    opened = await openWithGrants(
      adapter,
      [grantTerms({ id: 'g', amount: 300 }), grantTerms({ id: 'g2', amount: 10_000_000 })],
      new Date(D1 - DAY),
    );
    ledger = opened.ledger;
    for (let i = 0; i < 24; i++) {
      const t = new Date(D1 + i * 3 * 3_600_000 + 1234);
      const f = requestFacts({ userId: i % 3 ? 'alice' : 'bob' });
      expect((await ledger.admit(f, hold(500), t, [])).ok).toBe(true);
      if (i === 3) {
        held = f.id;
        continue;
      }
      if (i === 5) {
        deferred = f.id;
        expect(
          await ledger.deferred.defer(
            {
              id: 'batch_x',
              kind: 'batch',
              requestId: f.id,
              companyId: 'acme',
              model: null,
              multiplier: 1,
              promptTokens: 10,
              subject: 'acme/bob',
            },
            t,
            t,
          ),
        ).toBe(true);
        continue;
      }
      // Some charged beyond their hold, so two grants are debited.
      await ledger.settle(f.id, tokensUsed(i % 4 === 0 ? 600 : 100 + i), new Date(t.getTime() + 500));
      (t.toISOString() < CUT ? archived : kept).push(f.id);
    }
    for (const [f, g] of queries) usageBefore.push(await ledger.reader.usage(f, g));
  }, 60_000);
  afterAll(async () => {
    await opened?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes the finished rows before the cut-off and their debits, then deletes exactly those', async () => {
    await ledger.rollups.catchUp();
    const grantsBefore = await ledger.reader.grants();
    const to = join(dir, 'a.ndjson.gz');
    const report = await archiveLedger(ledger.archive, { before: CUT, to, now: NOW, pauseMs: 0 });
    expect(report.requests).toBe(archived.length);
    expect(report.debits).toBeGreaterThan(archived.length);

    const lines = gunzipSync(readFileSync(to))
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    const [header, ...rest] = lines;
    const trailer = rest.pop();
    expect(header).toMatchObject({
      format: 'tollgate-ledger-archive',
      version: 1,
      engine: adapter.name === 'sqlite-worker' ? 'sqlite' : adapter.name,
      before: CUT,
    });
    expect(header.columns.requests).toContainEqual({ name: 'created_at', type: 'instant' });
    expect(header.columns.requests).toContainEqual({ name: 'stream', type: 'boolean' });
    expect(header.columns.requests.map((c: { name: string }) => c.name)).not.toContain('settle_seq');
    expect(trailer).toEqual({ end: true, requests: archived.length, debits: report.debits });
    expect(rest.map((r) => r.id)).toEqual(archived);
    expect(rest[0]).toMatchObject({ company_id: 'acme', status: 'settled', stream: false, total_tokens: 600 });
    expect(rest[0].created_at).toMatch(/^2026-09-01T00:00:01\.234Z$/);
    expect(rest[0].debits.map((d: { grant_id: string }) => d.grant_id).sort()).toEqual(['g', 'g2']);
    expect(rest.reduce((n, r) => n + r.debits.length, 0)).toBe(report.debits);

    const left = await opened.raw.requestIds();
    expect(left).toEqual([...kept, held, deferred].sort());
    // Running totals never change: spent now counts the archived debits.
    expect(await ledger.reader.grants()).toEqual(grantsBefore);
    expect((await ledger.reader.verify()).filter((f) => f.severity === 'error')).toEqual([]);
    expect(await ledger.archive.runs()).toEqual([
      expect.objectContaining({ before: CUT, file: to, requests: archived.length, debits: report.debits }),
    ]);
  });

  it('reads usage the same from the rollups, the archived days included', async () => {
    for (const [i, [f, g]] of queries.entries()) expect(await ledger.reader.usage(f, g)).toEqual(usageBefore[i]);
  });

  it('leaves a deferred row settled later in the rollups of its (archived) hour, and verify still adds up', async () => {
    await ledger.settle(deferred, tokensUsed(77), NOW);
    await ledger.rollups.catchUp();
    const [day] = await ledger.reader.usage({ until: CUT }, 'none');
    expect(day!.totalTokens).toBe(
      (usageBefore[0] as { totalTokens: number }[]).slice(0, 2).reduce((n, r) => n + r.totalTokens, 0) + 77,
    );
    expect((await ledger.reader.verify()).filter((f) => f.severity === 'error')).toEqual([]);
  });

  it('archives nothing twice: a second run finds nothing, and a run while one holds the lock is refused', async () => {
    const second = await archiveLedger(ledger.archive, { before: CUT, to: join(dir, 'b.ndjson.gz'), now: NOW });
    expect(second.requests).toBe(1); // the deferred row, settled since
    const again = await archiveLedger(ledger.archive, { before: CUT, to: join(dir, 'c.ndjson.gz'), now: NOW });
    expect(again.requests).toBe(0);
    await expect(
      ledger.archive.exclusive(() =>
        archiveLedger(ledger.archive, { before: CUT, to: join(dir, 'd.ndjson.gz'), now: NOW }),
      ),
    ).rejects.toBeInstanceOf(ArchiveBusyError);
    await expect(
      archiveLedger(ledger.archive, { before: CUT, to: join(dir, 'c.ndjson.gz'), now: NOW }),
    ).rejects.toThrow(/already exists/);
  });

  it('verify names a rollup, a day or an archive run changed behind its back', async () => {
    const errors = async () =>
      [...new Set((await ledger.reader.verify()).filter((f) => f.severity === 'error').map((f) => f.check))].sort();
    const bump = (table: string, by: number, when: string) =>
      opened.raw.exec(`UPDATE ${table} SET requests = requests + ${by} WHERE user_id = 'bob' AND ${when}`);
    // Bob's rows of 06:00 on the day kept, and of midnight on the first day (archived).
    const kept = "hour = '2026-09-03T06:00:00.000Z'";
    const gone = "hour = '2026-09-01T00:00:00.000Z'";
    await bump('usage_hours', 1, kept);
    expect(await errors()).toEqual(['rollup_days_match_hours', 'rollup_tables_agree', 'rollups_match_rows']);
    await bump('usage_hours', -1, kept);
    expect(await errors()).toEqual([]);
    await bump('usage_days_users', 1, "day = '2026-09-03'");
    expect(await errors()).toEqual(['rollup_days_match_hours', 'rollup_months_match_days']);
    await bump('usage_days_users', -1, "day = '2026-09-03'");
    await bump('usage_hours_users', 1, kept);
    expect(await errors()).toEqual(['rollup_days_match_hours', 'rollup_tables_agree']);
    await bump('usage_hours_users', -1, kept);
    await bump('usage_hours', 1, gone);
    expect(await errors()).toContain('archived_rollups_match');
    await bump('usage_hours', -1, gone);
    await opened.raw.exec('UPDATE archives SET total_tokens = total_tokens - 1');
    expect(await errors()).toEqual(['archived_rollups_match']);
    await opened.raw.exec('UPDATE archives SET total_tokens = total_tokens + 1');
    await opened.raw.exec("UPDATE debits_archived SET amount = amount + 1 WHERE grant_id = 'g'");
    expect(await errors()).toEqual(['grant_spent_matches_debits']);
    await opened.raw.exec("UPDATE debits_archived SET amount = amount - 1 WHERE grant_id = 'g'");
    expect(await errors()).toEqual([]);
  });

  it('retention archives whole UTC days older than rawDays to a dated file', async () => {
    expect(retentionCutoff(NOW, 1)).toBe(new Date(D1 + 2 * DAY).toISOString());
    expect(archiveFileFor(dir, CUT)).toBe(join(dir, 'tollgate-requests-before-2026-09-03.ndjson.gz'));
    const done = await runRetention(ledger.archive, { rawDays: 0, archiveDir: join(dir, 'daily') }, NOW);
    expect(done?.requests).toBe(kept.length);
    expect(await runRetention(ledger.archive, { rawDays: 0, archiveDir: join(dir, 'daily') }, NOW)).toBeNull();
    expect((await opened.raw.requestIds()).sort()).toEqual([held]);
    expect((await ledger.reader.verify()).filter((f) => f.severity === 'error').map((f) => f.detail)).toEqual([]);
    for (const [i, [f, g]] of queries.entries())
      if (g !== 'hour' && i !== 2) expect((await ledger.reader.usage(f, g)).length).toBeGreaterThan(0);
  });
});
