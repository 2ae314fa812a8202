import { existsSync } from 'node:fs';
import { SignJWT } from 'jose';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { startMockUpstream } from '../../src/demo/mock-upstream.js';
import { startFromFile, type FileTollgate } from './config-file.js';
import { CHROMIUM } from './global-chromium.js';

/**
 * The dashboard's browser tests share this: Debian's chromium driven by playwright-core (a test
 * fails, never skips, when it is missing), tollgate started from a config file in front of the
 * demo's mock upstream, with companies `acme` (Europe/Berlin, a 1,000,000-token grant, an unlimited
 * gpt-5-mini grant, a monthly $5 embeddings allowance, per-user daily and monthly quotas, a $20 monthly
 * budget on key `acme-web`) and `globex`, an operator `ops`, and a few
 * requests from users alice, bob and one whose name is hostile HTML.
 */

process.env.DASH_JWT_SECRET = 'dashboard-jwt-secret-0123456789abcdef01234';
process.env.DASH_SESSION_SECRET = 'dashboard-session-secret-0123456789abcdef';
const JWT = { algorithms: ['HS256'], secretEnv: 'DASH_JWT_SECRET' };
/** A user id that is HTML trying to run script: it must be shown as text everywhere. */
export const HOSTILE = '<img src=x onerror=alert(1)><script>alert(2)</script>';

/** A running dashboard test world; `close` stops the browser, tollgate and the mock. */
export interface DashboardWorld {
  t: FileTollgate;
  browser: Browser;
  /** User tokens (JWT) by user id: alice, bob and HOSTILE. */
  tokens: Record<string, string>;
  /** One chat request through the proxy; `words` sets the prompt's size (the mock counts a token per word); `tags` the `x-tollgate-tags` header. */
  chat(credential: string, words?: number, model?: string, feature?: string, tags?: string): Promise<void>;
  /** A GET of the read API with `credential`, which must answer 200: its JSON, or text for CSV. */
  api<T = any>(path: string, credential: string): Promise<T>;
  /**
   * A fresh browser context (own cookies) signed in through the form with `credential`, at
   * `width` × 900 px, in time zone `timezoneId` (default UTC); `clock` installs playwright's fake
   * timers first, so a test can fast-forward the 30-second refresh.
   */
  signIn(
    credential: string,
    opts?: { width?: number; timezoneId?: string; clock?: boolean },
  ): Promise<{ context: BrowserContext; page: Page; errors: string[] }>;
  close(): Promise<void>;
}

/** A user token for `sub` of `company` with `role`, valid for an hour. */
const userToken = (company: string, sub: string, role: 'member' | 'admin' = 'member') =>
  new SignJWT({ company, role })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
    .sign(new TextEncoder().encode(process.env.DASH_JWT_SECRET));

/** Starts the browser, the mock upstream and tollgate, and sends the requests the dashboard shows. */
export async function startDashboardWorld(): Promise<DashboardWorld> {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: the test setup installs it (.ci/chromium-up)`).toBe(true);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const mock = await startMockUpstream();
  const t = await startFromFile({
    upstreamUrl: mock.url,
    watch: false,
    config: ({ key, operator }) => ({
      companies: {
        acme: {
          name: 'Acme Inc.',
          timeZone: 'Europe/Berlin',
          jwt: JWT,
          keys: [
            { ...key({ id: 'acme-web' }), limits: { quotas: { monthly: { usd: 20 } } } },
            key({ id: 'acme-admin', role: 'admin' }),
          ],
          allocations: [
            {
              id: 'acme-2026-q4',
              tokens: 1_000_000,
              expiresAt: '2099-01-01T00:00:00Z',
              purchase: 'openai-2026-10',
              note: 'Q4',
            },
            { id: 'acme-nano', unlimited: true, models: ['gpt-5-mini'] },
            { id: 'acme-embeddings', usd: 5, models: ['text-embedding-3-small'], every: 'month', rollover: { max: 2 } },
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
  const tokens: Record<string, string> = {
    alice: await userToken('acme', 'alice'),
    bob: await userToken('acme', 'bob'),
    [HOSTILE]: await userToken('acme', HOSTILE),
  };

  const chat: DashboardWorld['chat'] = async (credential, words = 20, model = 'gpt-4o-mini', feature, tags) => {
    const res = await fetch(`${t.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${credential}`,
        'content-type': 'application/json',
        ...(feature ? { 'x-tollgate-feature': feature } : {}),
        ...(tags ? { 'x-tollgate-tags': tags } : {}),
      },
      body: JSON.stringify({
        model,
        max_tokens: 30,
        messages: [{ role: 'user', content: Array.from({ length: words }, (_, i) => `w${i}`).join(' ') }],
      }),
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  };

  const api: DashboardWorld['api'] = async (path, credential) => {
    const res = await fetch(`${t.url}${path}`, { headers: { authorization: `Bearer ${credential}` } });
    expect(res.status, path).toBe(200);
    return (path.includes('.csv') ? await res.text() : await res.json()) as never;
  };

  const signIn: DashboardWorld['signIn'] = async (credential, opts = {}) => {
    const context = await browser.newContext({
      viewport: { width: opts.width ?? 1280, height: 900 },
      acceptDownloads: true,
      timezoneId: opts.timezoneId ?? 'UTC',
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('dialog', (d) => {
      errors.push(`dialog opened: ${d.message()}`);
      void d.dismiss();
    });
    if (opts.clock) await page.clock.install();
    await page.goto(`${t.url}/dashboard`);
    expect(page.url()).toBe(`${t.url}/dashboard/sign-in`);
    await page.getByLabel('API key, user token or operator key').fill(credential);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${t.url}/dashboard`);
    return { context, page, errors };
  };

  for (let i = 0; i < 3; i++) await chat(tokens.alice!, 40 + i * 10);
  await chat(tokens.alice!, 30, 'gpt-5-mini');
  await chat(tokens.alice!, 30, 'gpt-4o-mini', 'chatbot', 'search, beta');
  await chat(tokens.bob!, 100, 'gpt-4o-mini', undefined, 'search');
  await chat(tokens[HOSTILE]!, 10, 'gpt-4o-mini', undefined, HOSTILE);
  await chat(t.keys['acme-web']!, 25);
  await chat(t.keys['globex-key']!, 60);
  await t.settled();

  return {
    t,
    browser,
    tokens,
    chat,
    api,
    signIn,
    async close() {
      await browser.close();
      await t.close();
      await mock.close();
    },
  };
}

/** The exact value (`data-value`) of a summary card's big figure. */
export const cardValue = (page: Page, name: string) =>
  page.locator(`[data-card="${name}"] .big`).getAttribute('data-value').then(Number);

/** The exact values (`data-value`) in column `column` (1-based) of table `table`, top to bottom. */
export const cellValues = (page: Page, table: string, column: number) =>
  page
    .locator(`table[data-table="${table}"] tbody tr td:nth-child(${column}) [data-value]`)
    .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-value'))));
