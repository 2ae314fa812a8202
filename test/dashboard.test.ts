import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { dashboardLinkCommand } from '../src/cli/dashboard.js';
import { cardValue, cellValues, type DashboardWorld, HOSTILE, startDashboardWorld } from './support/dashboard.js';

/**
 * The dashboard in a real browser (Debian's chromium driven by playwright-core; the test fails,
 * never skips, when it is missing; the world it reads is test/support/dashboard.ts): each role signs in and sees what the ledger holds, a new
 * request appears after the 30-second refresh, the CSV download equals the read API's export, a
 * member cannot reach another user's data by editing the URL, the phone viewport has no horizontal
 * scroll, and caller data is escaped. Writes the documentation's screenshots under docs/ when
 * `TOLLGATE_SCREENSHOTS=1` (`npm run screenshots`), else into a temporary folder: a test run
 * never changes tracked files.
 */
// A browser on a shared 2-core machine: allow each test more than the suite's default 30 s.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 90_000 });
const DOCS =
  process.env.TOLLGATE_SCREENSHOTS === '1'
    ? join(import.meta.dirname, '..', 'docs')
    : mkdtempSync(join(tmpdir(), 'tollgate-screenshots-'));
let world: DashboardWorld;
let t: DashboardWorld['t'];
let browser: DashboardWorld['browser'];
let tokens: DashboardWorld['tokens'];
const chat: DashboardWorld['chat'] = (...args) => world.chat(...args);
const api: DashboardWorld['api'] = (...args) => world.api(...args);
const signIn = (credential: string, width = 1280) => world.signIn(credential, { width });

/** Full-page screenshot into `DOCS`, after the charts have drawn. */
async function shoot(page: Page, name: string): Promise<void> {
  await page.waitForFunction(() =>
    [...document.querySelectorAll('canvas[data-chart]')].every((c) => (c as HTMLCanvasElement).width > 0),
  );
  await page.screenshot({ path: join(DOCS, `dashboard-${name}.png`), fullPage: true });
}

/** Reloads the page at a 375-px phone width: the document is no wider than the viewport (tables collapse into rows: see dashboard-views.test.ts). */
async function asPhone(page: Page): Promise<void> {
  await page.setViewportSize({ width: 375, height: 800 });
  await page.reload();
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  expect(client).toBe(375);
  expect(scroll).toBeLessThanOrEqual(client);
}

beforeAll(async () => {
  world = await startDashboardWorld();
  ({ t, browser, tokens } = world);
}, 60_000);

afterAll(async () => {
  await world?.close();
});

describe('a user (member token)', () => {
  it('sees their quota cards, today, usage and recent calls as the ledger holds them; phone width does not scroll sideways', async () => {
    const { context, page, errors } = await signIn(tokens.alice!);
    const mine = t.rows().filter((r) => r.user_id === 'alice');
    const quotas = await api('/tollgate/v1/quotas', tokens.alice!);
    const daily = quotas.data.find((q: any) => q.window === 'daily');
    const metered = mine.reduce((n, r) => n + Number(r.metered_tokens), 0);
    expect(daily.spent_tokens).toBe(metered);
    expect(await cardValue(page, 'quota-daily')).toBe(metered);
    expect(await page.locator('[data-card="quota-daily"]').getAttribute('class')).toContain(daily.level);
    expect(await cardValue(page, 'tokens-today')).toBe(mine.reduce((n, r) => n + Number(r.total_tokens), 0));
    expect(await cardValue(page, 'cost-today')).toBe(mine.reduce((n, r) => n + Number(r.cost_micro_usd), 0));
    expect(await cardValue(page, 'rate')).toBe(mine.reduce((n, r) => n + Number(r.total_tokens), 0)); // all within the last hour
    const recent = await cellValues(page, 'recent', 4);
    expect(recent).toEqual([...mine].reverse().map((r) => Number(r.total_tokens)));
    const byModel = await page.locator('table[data-table="by-model"] tbody tr td:first-child').allTextContents();
    expect(byModel.sort()).toEqual(['gpt-4o-mini', 'gpt-5-mini']);
    await expect.poll(() => page.locator('[data-identity]').textContent()).toBe('alice · Acme Inc. (member)');
    await shoot(page, 'user-desktop');
    await asPhone(page);
    await shoot(page, 'user-phone');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('sees a new request after the 30-second auto-refresh, with the filters kept', async () => {
    const { context, page } = await world.signIn(tokens.alice!, { clock: true });
    await page.locator('select[name="model"]').selectOption('gpt-4o-mini');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/model=gpt-4o-mini/);
    const before = (await cellValues(page, 'recent', 4)).length;
    await chat(tokens.alice!, 5);
    await t.settled();
    const refreshed = page.evaluate(
      () =>
        new Promise<void>((resolve) =>
          document.addEventListener('tollgate:refreshed', () => resolve(), { once: true }),
        ),
    );
    await page.clock.fastForward(30_000);
    await refreshed;
    expect(await cellValues(page, 'recent', 4)).toHaveLength(before + 1);
    expect(page.url()).toContain('model=gpt-4o-mini');
    expect(await page.locator('select[name="model"]').inputValue()).toBe('gpt-4o-mini');
    await context.close();
  });

  it("cannot reach another user's data by editing the URL, nor through the read API with the cookie (403)", async () => {
    const { context, page } = await signIn(tokens.alice!);
    const res = await page.goto(`${t.url}/dashboard?user=bob`);
    expect(res!.status()).toBe(403);
    await expect
      .poll(() => page.locator('[data-error-status]').textContent())
      .toContain("You may only read your own usage (user 'alice')");
    const viaApi = await context.request.get(`${t.url}/tollgate/v1/requests?user=bob`);
    expect(viaApi.status()).toBe(403);
    const other = await page.goto(`${t.url}/dashboard?company=globex`);
    expect(other!.status()).toBe(403);
    // The cookie reads, never writes: a POST to the API with it alone is refused.
    const post = await context.request.post(`${t.url}/tollgate/v1/quota-requests`, { data: { justification: 'x' } });
    expect(post.status()).toBe(401);
    await context.close();
  });

  it('files a quota-increase request through the form (CSRF-checked), escaped wherever it is shown', async () => {
    const { context, page, errors } = await signIn(tokens[HOSTILE]!);
    expect(await page.locator('[data-identity]').textContent()).toContain(HOSTILE);
    await page.getByLabel('Tokens wanted').fill('5000');
    await page.getByLabel(/^Why/).fill(`need more ${HOSTILE}`);
    await page.getByRole('button', { name: 'Send request' }).click();
    await page.waitForURL(`${t.url}/dashboard#increase`);
    expect(await page.locator('[data-table="quota-requests"] li').first().textContent()).toContain(
      `need more ${HOSTILE}`,
    );
    expect(await page.locator('#content script, #content img').count()).toBe(0);
    // A forged form post without the session's CSRF token changes nothing.
    const forged = await context.request.post(`${t.url}/dashboard/quota-requests`, {
      form: { justification: 'forged', csrf: 'nope' },
    });
    expect(forged.status()).toBe(400);
    const stored = await api('/tollgate/v1/quota-requests', tokens[HOSTILE]!);
    expect(stored.data.map((r: any) => r.justification)).toEqual([`need more ${HOSTILE}`]);
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe('a company admin', () => {
  it('sees summary cards, allocations, history and breakdowns equal to the ledger, and downloads the CSV the read API exports', async () => {
    const admin = t.keys['acme-admin']!;
    const { context, page, errors } = await signIn(admin);
    const balance = await api('/tollgate/v1/balance', admin);
    const acme = t.rows().filter((r) => r.company_id === 'acme');
    expect(await cardValue(page, 'available-tokens')).toBe(balance.tokens);
    expect(await cardValue(page, 'used-month')).toBe(acme.reduce((n, r) => n + Number(r.total_tokens), 0));
    expect(await cardValue(page, 'active-allocations')).toBe(3);
    expect(await page.locator('[data-table="allocations"] .badge.unlimited').count()).toBe(1);
    expect(await page.locator('[data-table="allocations"]').textContent()).toContain(
      'openai-2026-10 (openai, 2026-10-01)',
    );
    expect(await cellValues(page, 'recent', 5)).toEqual([...acme].reverse().map((r) => Number(r.total_tokens)));
    const users = await page.locator('table[data-table="by-user"] tbody tr td:first-child').allTextContents();
    expect(users.sort()).toEqual([HOSTILE, 'alice', 'bob', '(none)'].sort());
    // By tag (requests per tag): a request with several tags counts under each; tags are escaped like any caller
    // data. The tag filter narrows every section, the export link too.
    const byTag = await page
      .locator('table[data-table="by-tag"] tbody tr')
      .evaluateAll((trs) =>
        Object.fromEntries(trs.map((tr) => [tr.children[0]!.textContent, Number(tr.children[1]!.textContent)])),
      );
    expect(byTag).toEqual({ search: 2, beta: 1, [HOSTILE]: 1, '(untagged)': acme.filter((r) => !r.tags).length });
    await page.locator('select[name="tag"]').selectOption('search');
    await Promise.all([page.waitForURL(/tag=search/), page.getByRole('button', { name: 'Apply' }).click()]);
    expect(await cellValues(page, 'recent', 5)).toHaveLength(2);
    expect(await page.getByRole('link', { name: 'Export CSV' }).getAttribute('href')).toContain('tag=search');
    await page.goto(`${t.url}/dashboard`);
    expect(await page.locator('[data-table="quota-requests"]').textContent()).toContain(`need more ${HOSTILE}`);
    expect(await page.locator('#content script, #content img').count()).toBe(0);
    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'Export CSV' }).click();
    const file = await (await download).path();
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(file, 'utf8')).toBe(await api('/tollgate/v1/export.csv?period=7d', admin));
    await shoot(page, 'admin-desktop');
    await asPhone(page);
    await shoot(page, 'admin-phone');
    expect(errors).toEqual([]);
    await context.close();
  });

  it('signs in once with a one-time link from `tollgate dashboard link`; the link cannot be used twice', async () => {
    // The command itself, in-process (a spawn costs seconds): it prints the URL on stdout and its expiry on stderr.
    const out: string[] = [];
    const err: string[] = [];
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (out.push(String(chunk)), true));
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (err.push(String(chunk)), true));
    try {
      await dashboardLinkCommand({ config: t.file, company: 'acme', role: 'admin', baseUrl: t.url });
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
    expect(err.join('')).toMatch(/^one-time sign-in link, valid until /);
    const cli = { stdout: out.join('') };
    const link = cli.stdout.trim();
    expect(link).toMatch(new RegExp(`^${t.url}/dashboard/link\\?token=`));
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(link);
    expect(page.url()).toBe(`${t.url}/dashboard`);
    expect(await page.locator('[data-identity]').textContent()).toBe('company · Acme Inc. (admin)');
    const again = await (await browser.newContext()).newPage();
    expect((await again.goto(link))!.status()).toBe(401);
    await context.close();
  });
});

describe('an operator', () => {
  it('sees every company at a glance and opens one company’s admin view', async () => {
    const ops = t.keys.ops!;
    const { context, page, errors } = await signIn(ops);
    const overview = await api('/tollgate/v1/overview', ops);
    expect(await page.locator('table[data-table="companies"] tbody tr').count()).toBe(2);
    expect(await cellValues(page, 'companies', 2)).toEqual(overview.data.map((o: any) => o.tokens));
    expect(await cellValues(page, 'companies', 4)).toEqual(overview.data.map((o: any) => o.month_cost_micro_usd));
    expect(await cellValues(page, 'companies', 6)).toEqual([0, 0]);
    await shoot(page, 'operator-desktop');
    await asPhone(page);
    await shoot(page, 'operator-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.getByRole('link', { name: 'Globex (globex)' }).click();
    await page.waitForURL(`${t.url}/dashboard?company=globex`);
    const globex = await api('/tollgate/v1/balance?company=globex', ops);
    expect(await cardValue(page, 'available-tokens')).toBe(globex.tokens);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('signs out with the CSRF-protected form; the session cookie then no longer reads the API', async () => {
    const { context, page } = await signIn(t.keys.ops!);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${t.url}/dashboard/sign-in`);
    expect((await context.request.get(`${t.url}/tollgate/v1/overview`)).status()).toBe(401);
    await context.close();
  });
});

describe('security headers', () => {
  it('serves every dashboard page and asset with a strict CSP, and the assets from tollgate itself', async () => {
    const res = await fetch(`${t.url}/dashboard/sign-in`);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    for (const asset of ['dashboard.js', 'dashboard.css', 'tables.css', 'chart.umd.min.js'])
      expect((await fetch(`${t.url}/dashboard/assets/${asset}`)).status).toBe(200);
    // Refused as a request target before any route (encoded slashes and dot segments are never served).
    expect((await fetch(`${t.url}/dashboard/assets/..%2Fpackage.json`)).status).toBe(400);
  });
});
