import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { dashboardLinkCommand } from '../src/cli/dashboard.js';
import { startMockUpstream } from '../src/demo/mock-upstream.js';
import { startFromFile, type FileTollgate } from './support/config-file.js';
import { CHROMIUM } from './support/global-chromium.js';

/**
 * The dashboard in a real browser (Debian's chromium driven by playwright-core; the test fails,
 * never skips, when it is missing): each role signs in and sees what the ledger holds, a new
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
process.env.DASH_JWT_SECRET = 'dashboard-jwt-secret-0123456789abcdef01234';
process.env.DASH_SESSION_SECRET = 'dashboard-session-secret-0123456789abcdef';
const JWT = { algorithms: ['HS256'], secretEnv: 'DASH_JWT_SECRET' };
const HOSTILE = '<img src=x onerror=alert(1)><script>alert(2)</script>';

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let t: FileTollgate;
let browser: Browser;
const tokens: Record<string, string> = {};

const userToken = (company: string, sub: string, role: 'member' | 'admin' = 'member') =>
  new SignJWT({ company, role })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
    .sign(new TextEncoder().encode(process.env.DASH_JWT_SECRET));

/** One chat request through the proxy; `words` sets the prompt's size (the mock counts a token per word). */
async function chat(credential: string, words = 20, model = 'gpt-4o-mini', feature?: string): Promise<void> {
  const res = await fetch(`${t.url}/v1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${credential}`,
      'content-type': 'application/json',
      ...(feature ? { 'x-tollgate-feature': feature } : {}),
    },
    body: JSON.stringify({
      model,
      max_tokens: 30,
      messages: [{ role: 'user', content: Array.from({ length: words }, (_, i) => `w${i}`).join(' ') }],
    }),
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

async function api<T = any>(path: string, credential: string): Promise<T> {
  const res = await fetch(`${t.url}${path}`, { headers: { authorization: `Bearer ${credential}` } });
  expect(res.status, path).toBe(200);
  return (path.includes('.csv') ? await res.text() : await res.json()) as T;
}

/** A fresh browser context (own cookies) signed in through the form with `credential`. */
async function signIn(
  credential: string,
  width = 1280,
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({
    viewport: { width, height: 900 },
    acceptDownloads: true,
    timezoneId: 'UTC',
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => {
    errors.push(`dialog opened: ${d.message()}`);
    void d.dismiss();
  });
  await page.goto(`${t.url}/dashboard`);
  expect(page.url()).toBe(`${t.url}/dashboard/sign-in`);
  await page.getByLabel('API key, user token or operator key').fill(credential);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${t.url}/dashboard`);
  return { context, page, errors };
}

const cardValue = (page: Page, name: string) =>
  page.locator(`[data-card="${name}"] .big`).getAttribute('data-value').then(Number);
const cellValues = (page: Page, table: string, column: number) =>
  page
    .locator(`table[data-table="${table}"] tbody tr td:nth-child(${column}) [data-value]`)
    .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-value'))));

/** Full-page screenshot into `DOCS`, after the charts have drawn. */
async function shoot(page: Page, name: string): Promise<void> {
  await page.waitForFunction(() =>
    [...document.querySelectorAll('canvas[data-chart]')].every((c) => (c as HTMLCanvasElement).width > 0),
  );
  await page.screenshot({ path: join(DOCS, `dashboard-${name}.png`), fullPage: true });
}

/** Reloads the page at a 375-px phone width: the document is no wider than the viewport (tables scroll inside their own box). */
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
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: the test setup installs it (.ci/chromium-up)`).toBe(true);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  mock = await startMockUpstream();
  t = await startFromFile({
    upstreamUrl: mock.url,
    watch: false,
    config: ({ key, operator }) => ({
      companies: {
        acme: {
          name: 'Acme Inc.',
          timeZone: 'Europe/Berlin',
          jwt: JWT,
          keys: [key({ id: 'acme-web' }), key({ id: 'acme-admin', role: 'admin' })],
          allocations: [
            {
              id: 'acme-2026-q4',
              tokens: 1_000_000,
              expiresAt: '2099-01-01T00:00:00Z',
              purchase: 'openai-2026-10',
              note: 'Q4',
            },
            { id: 'acme-nano', unlimited: true, models: ['gpt-5-mini'] },
          ],
          limits: { user: { quotas: { daily: { tokens: 1_000 }, monthly: { tokens: 300_000 } } } },
        },
        globex: {
          name: 'Globex',
          jwt: JWT,
          keys: [key({ id: 'globex-key' })],
          allocations: [{ id: 'globex-main', tokens: 200_000 }],
        },
      },
      purchases: {
        'openai-2026-10': {
          date: '2026-10-01',
          totalTokens: 1_000_000,
          costPerTokenUsd: 0.0000006,
          provider: 'openai',
        },
      },
      operators: [operator('ops')],
      features: { chatbot: { multiplier: 2 } },
      dashboard: { sessionSecretEnv: 'DASH_SESSION_SECRET' },
    }),
  });
  tokens.alice = await userToken('acme', 'alice');
  tokens.bob = await userToken('acme', 'bob');
  tokens[HOSTILE] = await userToken('acme', HOSTILE);
  for (let i = 0; i < 3; i++) await chat(tokens.alice, 40 + i * 10);
  await chat(tokens.alice, 30, 'gpt-5-mini');
  await chat(tokens.alice, 30, 'gpt-4o-mini', 'chatbot');
  await chat(tokens.bob, 100);
  await chat(tokens[HOSTILE], 10);
  await chat(t.keys['acme-web']!, 25);
  await chat(t.keys['globex-key']!, 60);
  await t.settled();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
  await mock?.close();
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
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.clock.install();
    await page.goto(`${t.url}/dashboard/sign-in`);
    await page.getByLabel('API key, user token or operator key').fill(tokens.alice!);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${t.url}/dashboard`);
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
    expect(await cardValue(page, 'active-allocations')).toBe(2);
    expect(await page.locator('[data-table="allocations"] .badge.unlimited').count()).toBe(1);
    expect(await page.locator('[data-table="allocations"]').textContent()).toContain(
      'openai-2026-10 (openai, 2026-10-01)',
    );
    expect(await cellValues(page, 'recent', 5)).toEqual([...acme].reverse().map((r) => Number(r.total_tokens)));
    const users = await page.locator('table[data-table="by-user"] tbody tr td:first-child').allTextContents();
    expect(users.sort()).toEqual([HOSTILE, 'alice', 'bob', '(none)'].sort());
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
    for (const asset of ['dashboard.js', 'dashboard.css', 'chart.umd.min.js'])
      expect((await fetch(`${t.url}/dashboard/assets/${asset}`)).status).toBe(200);
    // Refused as a request target before any route (encoded slashes and dot segments are never served).
    expect((await fetch(`${t.url}/dashboard/assets/..%2Fpackage.json`)).status).toBe(400);
  });
});
