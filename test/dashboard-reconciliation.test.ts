import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mintKey } from '../src/auth/api-key.js';
import { parseConfig } from '../src/config/load.js';
import { openSqliteLedger } from '../src/ledger/sqlite/index.js';
import { createLogger } from '../src/log.js';
import { reconcile } from '../src/reconcile/run.js';
import { startServer, type RunningServer } from '../src/server.js';
import { startFakeAdminApi } from './support/fake-admin-api.js';
import { ADMIN_KEY, openaiRecords, RECONCILE_NOW, reconcileConfig, seedLedger } from './support/reconcile-fixture.js';

/**
 * The operator dashboard's "Reconciliation with OpenAI" panel in a real browser (Debian's chromium):
 * the last runs kept in the ledger, and the newest finished run's daily drift by model as a chart
 * with the same numbers in a table; no horizontal scroll on a phone; company admins do not get it.
 */
const CHROMIUM = '/usr/bin/chromium';
vi.setConfig({ testTimeout: 60_000, hookTimeout: 90_000 });

const operatorKey = mintKey();
const adminKey = mintKey();
let dir: string;
let server: RunningServer;
let browser: Browser;

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`).toBe(true);
  dir = mkdtempSync(join(tmpdir(), 'tollgate-dash-reconcile-'));
  const path = join(dir, 'ledger.db');
  // A ledger with the known drift and two runs kept: a failed one from the command line, then the day's.
  const fake = await startFakeAdminApi({
    adminKey: ADMIN_KEY,
    records: openaiRecords(),
    now: Date.parse('2026-11-23T00:00:00Z') / 1000,
  });
  const ledger = openSqliteLedger({ path, checkpointThread: false });
  try {
    await seedLedger(ledger);
    const report = await reconcile(
      reconcileConfig(fake.url, { apiKeyId: 'key_tg' }),
      ledger,
      { from: '2026-11-20', to: '2026-11-22', groupBy: ['day', 'model'], now: RECONCILE_NOW },
      { OPENAI_ADMIN_KEY: ADMIN_KEY },
    );
    const store = ledger.reconciliations;
    const start = { trigger: 'cli' as const, fromDay: '2026-11-20', toDay: '2026-11-22' };
    await store.begin({ ...start, id: 'rec_1', startedAt: '2026-11-22T11:00:00.000Z' }, '2026-11-22T11:00:00.000Z');
    await store.finish('rec_1', {
      finishedAt: '2026-11-22T11:00:01.000Z',
      status: 'failed',
      report: null,
      error: 'OpenAI refused the admin key in $OPENAI_ADMIN_KEY (HTTP 401: <b>nope</b>)',
    });
    await store.begin(
      { ...start, id: 'daily:2026-11-22', trigger: 'schedule', startedAt: '2026-11-22T12:00:00.000Z' },
      '2026-11-22T12:00:00.000Z',
    );
    await store.finish('daily:2026-11-22', {
      finishedAt: '2026-11-22T12:00:02.000Z',
      status: 'drift',
      report: JSON.stringify(report),
      error: null,
    });
  } finally {
    await ledger.close();
    await fake.close();
  }
  server = await startServer(
    parseConfig({
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { baseUrl: 'http://127.0.0.1:9' },
      ledger: { path },
      companies: {
        acme: {
          name: 'Acme',
          keys: [{ id: 'acme-admin', role: 'admin', sha256: adminKey.sha256, prefix: adminKey.prefix }],
          allocations: [{ id: 'acme-all', tokens: 1_000_000_000 }],
        },
      },
      operators: [{ id: 'ops', sha256: operatorKey.sha256, prefix: operatorKey.prefix }],
    }),
    { upstreamKey: 'sk-upstream-unused', log: createLogger('silent'), processMetrics: false },
  );
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close(1000);
  rmSync(dir, { recursive: true, force: true });
});

async function signIn(credential: string, width = 1280) {
  const context = await browser.newContext({ viewport: { width, height: 900 }, timezoneId: 'UTC' });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/dashboard/sign-in`);
  await page.getByLabel('API key, user token or operator key').fill(credential);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${server.url}/dashboard`);
  return { context, page, errors };
}

describe('the reconciliation panel', () => {
  it("shows the operator the last runs and the newest run's daily drift by model", async () => {
    const { context, page, errors } = await signIn(operatorKey.key);
    try {
      const panel = page.locator('[data-panel="reconciliation"]');
      await expect(panel.getByRole('heading', { name: 'Reconciliation with OpenAI' }).isVisible()).resolves.toBe(true);
      expect(await panel.locator('[data-last-run]').getAttribute('data-last-run')).toBe('drift');
      expect(await panel.locator('[data-last-run]').innerText()).toMatch(
        /Last run Nov 22, 2026, 12:00 UTC \(2026-11-20 to 2026-11-22\): drift beyond the threshold; 1 beyond the threshold, 2 of 5 lines match\./,
      );

      const canvas = panel.locator('canvas[data-chart-name="reconciliation-drift"]');
      const spec = JSON.parse((await canvas.getAttribute('data-chart'))!) as {
        type: string;
        labels: string[];
        series: { label: string; data: number[] }[];
      };
      expect(spec.type).toBe('bar');
      expect(spec.labels).toEqual(['2026-11-20', '2026-11-21', '2026-11-22']);
      expect(spec.series.find((s) => s.label === 'gpt-4o-mini')?.data).toEqual([1.01, 0, 0]);
      expect(spec.series.map((s) => s.label)).toEqual([
        'gpt-4o-mini',
        'gpt-4o-realtime-preview',
        'text-embedding-3-small',
      ]);
      // Chart.js drew it.
      await page.waitForFunction(
        () => (document.querySelector('canvas[data-chart-name="reconciliation-drift"]') as HTMLCanvasElement).width > 0,
      );

      const lines = panel.locator('table[data-table="reconciliation-lines"] tbody tr');
      expect(await lines.allInnerTexts()).toEqual([
        expect.stringMatching(/^2026-11-20\tgpt-4o-mini\tdrift, over\toutput_tokens\t700\t693\t1\.01%$/),
        expect.stringMatching(/^2026-11-21\tdall-e-3\topenai only\timages\t0\t2\t-100%$/),
        expect.stringMatching(/^2026-11-22 \(provisional\)\tgpt-4o-mini\tledger only\tinput_tokens\t10\t0\tn\/a$/),
      ]);
      const runs = panel.locator('table[data-table="reconciliation-runs"] tbody tr');
      expect(
        await runs.locator('[data-status]').evaluateAll((els) => els.map((e) => e.getAttribute('data-status'))),
      ).toEqual(['drift', 'failed']);
      // The error is text, escaped like all caller data.
      expect(await runs.nth(1).innerText()).toContain('(HTTP 401: <b>nope</b>)');
      expect(await page.locator('b', { hasText: 'nope' }).count()).toBe(0);

      await page.setViewportSize({ width: 375, height: 800 });
      await page.reload();
      const { scroll, client } = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        client: document.documentElement.clientWidth,
      }));
      expect(scroll).toBeLessThanOrEqual(client);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("is not on a company admin's dashboard, and the read API refuses them", async () => {
    const { context, page } = await signIn(adminKey.key);
    try {
      expect(await page.locator('[data-panel="reconciliation"]').count()).toBe(0);
      const res = await page.request.get(`${server.url}/tollgate/v1/reconciliations`);
      expect(res.status()).toBe(403);
    } finally {
      await context.close();
    }
  });
});
