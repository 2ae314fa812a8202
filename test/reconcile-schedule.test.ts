import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mintKey } from '../src/auth/api-key.js';
import { parseConfig } from '../src/config/load.js';
import { openLedger, type LedgerLocation } from '../src/ledger/open.js';
import type { ReconciliationRecord } from '../src/ledger/port.js';
import { createLogger } from '../src/log.js';
import type { ReconciliationReport } from '../src/reconcile/report.js';
import { startServer, type RunningServer } from '../src/server.js';
import { type FakeAdminApi, startFakeAdminApi } from './support/fake-admin-api.js';
import { createDatabase, dropDatabase } from './support/postgres.js';
import { ADMIN_KEY, openaiRecords, RECONCILE_NOW, seedLedger } from './support/reconcile-fixture.js';
import { waitUntil } from './support/wait.js';

/**
 * The daily reconciliation under `serve`, on each engine: a process started after the scheduled
 * time runs the day's reconciliation at once, keeps the result in the ledger, fires one
 * `reconciliation_drift` webhook for the known drift, and the read API shows it to operators only.
 * The day's run happens once: again after a restart, and once across two replicas on one Postgres ledger.
 */
const operatorKey = mintKey();
const companyKey = mintKey();

let fake: FakeAdminApi;
let hookServer: Server;
let hookUrl: string;
const hooks: Record<string, unknown>[] = [];
const running: RunningServer[] = [];

beforeAll(async () => {
  process.env.OPENAI_ADMIN_KEY = ADMIN_KEY;
  fake = await startFakeAdminApi({
    adminKey: ADMIN_KEY,
    records: openaiRecords(),
    now: Date.parse('2026-11-23T00:00:00Z') / 1000,
  });
  hookServer = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      hooks.push(JSON.parse(raw) as Record<string, unknown>);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook`;
});
afterEach(async () => {
  for (const s of running.splice(0)) await s.close(1000);
  hooks.length = 0;
});
afterAll(async () => {
  delete process.env.OPENAI_ADMIN_KEY;
  await fake.close();
  await new Promise((r) => hookServer.close(r));
});

function config(ledger: LedgerLocation, at = '00:00') {
  return parseConfig({
    listen: { host: '127.0.0.1', port: 0 },
    upstream: { baseUrl: 'http://127.0.0.1:9' },
    ledger,
    companies: {
      acme: {
        name: 'Acme',
        keys: [{ id: 'acme-key', sha256: companyKey.sha256, prefix: companyKey.prefix }],
        allocations: [{ id: 'acme-all', tokens: 1_000_000_000 }],
      },
    },
    operators: [{ id: 'ops', sha256: operatorKey.sha256, prefix: operatorKey.prefix }],
    alerts: { webhookUrl: hookUrl },
    reconciliation: {
      baseUrl: fake.url,
      upstreamKeys: { OPENAI_API_KEY: { apiKeyId: 'key_tg' } },
      schedule: { at, days: 3 },
    },
  });
}

async function serve(ledger: LedgerLocation, at?: string): Promise<RunningServer> {
  const s = await startServer(config(ledger, at), {
    upstreamKey: 'sk-upstream-unused',
    clock: () => RECONCILE_NOW,
    log: createLogger('silent'),
    processMetrics: false,
  });
  running.push(s);
  return s;
}

const finished = async (s: RunningServer): Promise<ReconciliationRecord> => {
  let run: ReconciliationRecord | undefined;
  await waitUntil(
    async () => {
      [run] = await s.runtime.ledger.reconciliations.recent(1);
      return run !== undefined && run.status !== 'running';
    },
    { timeoutMs: 15_000, what: 'the scheduled reconciliation to finish' },
  );
  return run!;
};

const get = (s: RunningServer, path: string, key: string) =>
  fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${key}` } });

/** A ledger location per engine, seeded with the known drift (see reconcile-fixture.ts). */
const ENGINES: { name: string; location(): Promise<{ location: LedgerLocation; done(): Promise<void> }> }[] = [
  {
    name: 'sqlite',
    async location() {
      const dir = mkdtempSync(join(tmpdir(), 'tollgate-reconcile-'));
      return {
        location: { path: join(dir, 'ledger.db') },
        done: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'postgres',
    async location() {
      const db = await createDatabase();
      return { location: { url: db.url }, done: () => dropDatabase(db.name) };
    },
  },
];

for (const engine of ENGINES) {
  describe(`${engine.name}: the scheduled reconciliation`, () => {
    it('runs once a day, keeps the result, alerts beyond the threshold, and shows it to operators only', async () => {
      const { location, done } = await engine.location();
      try {
        const seeding = openLedger(location);
        await seedLedger(seeding);
        await seeding.close();

        const s = await serve(location);
        const run = await finished(s);
        expect(run).toMatchObject({
          id: 'daily:2026-11-22',
          trigger: 'schedule',
          status: 'drift',
          fromDay: '2026-11-20',
          toDay: '2026-11-22',
          error: null,
        });
        const report = JSON.parse(run.report!) as ReconciliationReport;
        expect(report.summary).toMatchObject({ over: 1, drift: 1, provisionalDays: ['2026-11-22'] });

        await waitUntil(() => hooks.length === 1, { what: 'the drift webhook' });
        expect(hooks[0]).toMatchObject({
          key: 'reconciliation:daily:2026-11-22',
          kind: 'reconciliation_drift',
          companyId: '*',
          from: '2026-11-20',
          to: '2026-11-22',
          lines: [
            {
              day: '2026-11-20',
              model: 'gpt-4o-mini',
              status: 'drift',
              measures: [{ name: 'output_tokens', ledger: 700, openai: 693, drift: 7, over: true }],
            },
          ],
        });
        expect(JSON.stringify(hooks[0])).not.toContain(ADMIN_KEY);

        const list = await get(s, '/tollgate/v1/reconciliations', operatorKey.key);
        expect(list.status).toBe(200);
        const body = (await list.json()) as { data: { id: string; status: string; summary: { over: number } }[] };
        expect(body.data.map((r) => [r.id, r.status, r.summary.over])).toEqual([['daily:2026-11-22', 'drift', 1]]);
        const one = (await (await get(s, '/tollgate/v1/reconciliations/daily:2026-11-22', operatorKey.key)).json()) as {
          report: ReconciliationReport;
        };
        expect(one.report.lines.find((l) => l.model === 'gpt-4o-mini' && l.day === '2026-11-20')?.driftPercent).toBe(
          1.01,
        );
        const denied = await get(s, '/tollgate/v1/reconciliations', companyKey.key);
        expect(denied.status).toBe(403);
        expect(((await denied.json()) as { error: { code: string } }).error.code).toBe('permission_denied');
        expect((await get(s, '/tollgate/v1/reconciliations/daily:1999-01-01', operatorKey.key)).status).toBe(404);

        // A restart the same day does not run it again.
        await s.close(1000);
        running.splice(running.indexOf(s), 1);
        const again = await serve(location);
        await again.reconciler.idle();
        expect((await again.runtime.ledger.reconciliations.recent(10)).map((r) => r.id)).toEqual(['daily:2026-11-22']);
        expect(fake.requests.filter((r) => r.path.endsWith('/costs'))).toHaveLength(1);
        expect(hooks).toHaveLength(1);
      } finally {
        for (const r of running.splice(0)) await r.close(1000);
        await done();
        fake.requests.length = 0;
      }
    });
  });
}

describe('the scheduled reconciliation: replicas, time, failure', () => {
  it('two Postgres replicas started together run the day once', async () => {
    const { location, done } = await ENGINES[1]!.location();
    try {
      const seeding = openLedger(location);
      await seedLedger(seeding);
      await seeding.close();
      const [a, b] = await Promise.all([serve(location), serve(location)]);
      await finished(a!);
      await Promise.all([a!.reconciler.idle(), b!.reconciler.idle()]);
      expect((await b!.runtime.ledger.reconciliations.recent(10)).map((r) => [r.id, r.status])).toEqual([
        ['daily:2026-11-22', 'drift'],
      ]);
      expect(fake.requests.filter((r) => r.path.endsWith('/costs'))).toHaveLength(1);
      await waitUntil(() => hooks.length === 1, { what: 'the drift webhook' });
    } finally {
      for (const r of running.splice(0)) await r.close(1000);
      await done();
      fake.requests.length = 0;
    }
  });

  it('keeps a failed run with its reason (never the key), and sends no drift alert', async () => {
    const { location, done } = await ENGINES[0]!.location();
    const notAdmin = 'sk-proj-this-is-not-an-admin-key-0123';
    process.env.OPENAI_ADMIN_KEY = notAdmin;
    try {
      const s = await serve(location);
      const run = await finished(s);
      expect(run).toMatchObject({ status: 'failed', report: null });
      expect(run.error).toMatch(/OpenAI refused the admin key in \$OPENAI_ADMIN_KEY \(HTTP 401/);
      expect(run.error).not.toContain(notAdmin.slice(0, 12));
      expect(hooks).toHaveLength(0);
    } finally {
      process.env.OPENAI_ADMIN_KEY = ADMIN_KEY;
      for (const r of running.splice(0)) await r.close(1000);
      await done();
      fake.requests.length = 0;
    }
  });

  it('does not run before the scheduled time', async () => {
    const { location, done } = await ENGINES[0]!.location();
    try {
      const s = await serve(location, '23:59');
      await s.reconciler.idle();
      expect(await s.runtime.ledger.reconciliations.recent(10)).toEqual([]);
      expect(fake.requests).toHaveLength(0);
    } finally {
      for (const r of running.splice(0)) await r.close(1000);
      await done();
    }
  });
});
