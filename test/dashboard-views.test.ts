import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { when } from '../src/dashboard/format.js';
import { type DashboardWorld, startDashboardWorld } from './support/dashboard.js';

/**
 * How the dashboard behaves for the person reading it, in a real browser: the 30-second refresh
 * patches the data in place (what is being typed, the focus and filters not yet applied survive),
 * no table is cut off at desktop, tablet or phone widths, cards show exact figures, and every time
 * and chart is in the viewer's own time zone, labelled.
 */
vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

let world: DashboardWorld;
/** A justification long enough to overflow a table cell that does not wrap. */
const LONG_WHY =
  'We are launching the customer-support assistant in three new markets next week and expect roughly four times the current daily traffic during the first month, so the current daily quota runs out by noon.';

beforeAll(async () => {
  world = await startDashboardWorld();
  const res = await fetch(`${world.t.url}/tollgate/v1/quota-requests`, {
    method: 'POST',
    headers: { authorization: `Bearer ${world.tokens.alice}`, 'content-type': 'application/json' },
    body: JSON.stringify({ justification: LONG_WHY, window: 'daily', tokens: 250_000 }),
  });
  expect(res.status).toBe(201);
}, 90_000);
afterAll(async () => {
  await world?.close();
});

/** How many refreshes the page has applied (the client script's counter). */
const refreshes = (page: Page) => page.evaluate(() => Number(document.documentElement.dataset.refreshes ?? 0));

/** Fast-forwards the page's fake clock by 30 s and waits until the refresh it triggers has been applied. */
async function nextRefresh(page: Page): Promise<void> {
  const before = await refreshes(page);
  await page.clock.fastForward(30_000);
  await page.waitForFunction((n) => Number(document.documentElement.dataset.refreshes ?? 0) > n, before);
}

describe('the 30-second refresh', () => {
  it('patches the data in place: typed input, the focus and an unapplied filter survive, new rows appear', async () => {
    const { context, page, errors } = await world.signIn(world.tokens.alice!, { clock: true });
    await page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });
    const rows = () => page.locator('table[data-table="recent"] tbody tr').count();
    const before = await rows();
    // A filter chosen but not applied, and a quota request half typed, the caret in the text.
    await page.locator('select[name="model"]').selectOption('gpt-5-mini');
    await page.getByLabel('Tokens wanted').fill('5000');
    const why = page.getByLabel(/^Why/);
    await why.fill('need more for the launch');
    await why.press('Home');
    await world.chat(world.tokens.alice!, 5);
    await world.t.settled();

    await nextRefresh(page);
    expect(await rows()).toBe(before + 1);
    expect(await why.inputValue()).toBe('need more for the launch');
    expect(await page.getByLabel('Tokens wanted').inputValue()).toBe('5000');
    expect(await page.locator('select[name="model"]').inputValue()).toBe('gpt-5-mini');
    expect(
      await page.evaluate(() => {
        const el = document.activeElement as HTMLTextAreaElement;
        return { name: el.name, caret: el.selectionStart };
      }),
    ).toEqual({ name: 'justification', caret: 0 });
    expect(page.url()).not.toContain('model=');
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);

    // Focus inside a region the refresh replaces (the recent calls' scroll box) is carried over.
    await page.locator('.table-wrap:has(table[data-table="recent"])').focus();
    await world.chat(world.tokens.alice!, 6);
    await world.t.settled();
    await nextRefresh(page);
    expect(await rows()).toBe(before + 2);
    expect(await page.evaluate(() => document.activeElement?.querySelector('table')?.dataset.table)).toBe('recent');
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe('tables', () => {
  const WIDTHS = [1280, 1024, 768, 375];

  it('none is cut off at 1,280, 1,024, 768 or 375 px, for a user, an admin or an operator', async () => {
    const cut: string[] = [];
    const seen = new Set<string>();
    for (const [who, credential] of [
      ['user', world.tokens.alice!],
      ['admin', world.t.keys['acme-admin']!],
      ['operator', world.t.keys.ops!],
      ['operator, one company', world.t.keys.ops!],
    ] as const) {
      const { context, page } = await world.signIn(credential);
      if (who === 'operator, one company') await page.goto(`${world.t.url}/dashboard?company=acme`);
      for (const width of WIDTHS) {
        await page.setViewportSize({ width, height: 900 });
        // Chart.js resizes its canvases on its own (a ResizeObserver): measure once they fit their boxes.
        await page.waitForFunction(() =>
          [...document.querySelectorAll('canvas')].every(
            (c) => c.getBoundingClientRect().width <= c.parentElement!.clientWidth + 1,
          ),
        );
        const found = await page.evaluate(() => {
          const doc = document.documentElement;
          const over = [...document.querySelectorAll<HTMLElement>('.table-wrap')]
            .filter((w) => w.scrollWidth > w.clientWidth + 1)
            .map((w) => `${w.querySelector('table')?.dataset.table} (${w.scrollWidth} > ${w.clientWidth})`);
          return doc.scrollWidth > doc.clientWidth ? [...over, `page (${doc.scrollWidth} > ${doc.clientWidth})`] : over;
        });
        cut.push(...found.map((f) => `${who} at ${width} px: ${f}`));
      }
      for (const name of await page
        .locator('table[data-table]')
        .evaluateAll((ts) => ts.map((t) => t.getAttribute('data-table')!)))
        seen.add(name);
      await context.close();
    }
    expect(cut).toEqual([]);
    // The widest tables were among those measured: the admin's history, quota requests and budgets.
    for (const name of ['recent', 'quota-requests', 'renewing', 'key-budgets', 'companies'])
      expect(seen).toContain(name);
  });

  it("show every column's value on a phone, each beside its column's name", async () => {
    const { context, page } = await world.signIn(world.t.keys['acme-admin']!, { width: 375 });
    const why = page.locator('table[data-table="quota-requests"] td[data-label="Why"]').first();
    expect(await why.textContent()).toBe(LONG_WHY);
    expect(await why.evaluate((td) => getComputedStyle(td, '::before').content)).toBe('"Why"');
    expect(await why.isVisible()).toBe(true);
    await context.close();
  });
});

describe('cards', () => {
  it('show exact figures, never a compact form alone', async () => {
    const admin = world.t.keys['acme-admin']!;
    const { context, page } = await world.signIn(admin);
    const balance = await world.api('/tollgate/v1/balance', admin);
    const card = (name: string) => page.locator(`[data-card="${name}"] .big`).textContent();
    expect(await card('total-tokens')).toBe('1,000,000');
    expect(await card('available-tokens')).toBe(balance.tokens.toLocaleString('en-US'));
    expect(balance.tokens).toBeLessThan(1_000_000);
    const texts = await page.locator('.card .big').allTextContents();
    expect(texts.filter((s) => /\d(\.\d)?[KMB]\b/.test(s))).toEqual([]);
    await context.close();
  });
});

describe("the viewer's time zone", () => {
  // A zone whose date differs from UTC's now, whatever the hour the test runs at (UTC+14 from
  // 10:00 UTC, UTC−11 before 11:00 UTC): a chart or a time still in UTC cannot pass.
  const zone = new Date().getUTCHours() >= 11 ? 'Pacific/Kiritimati' : 'Pacific/Pago_Pago';

  it('is used and named for every time shown and for the chart of tokens per day', async () => {
    const admin = world.t.keys['acme-admin']!;
    const { context, page, errors } = await world.signIn(admin, { timezoneId: zone });
    await page.waitForFunction(() => Boolean((window as any).Chart?.getChart(document.querySelector('canvas'))));
    const seen = await page.evaluate((tz) => {
      const times = [...document.querySelectorAll('#content time[datetime]')].map((el) => ({
        text: el.textContent,
        iso: el.getAttribute('datetime')!,
      }));
      const day = (d: Date, z: string) =>
        new Intl.DateTimeFormat('en-US', { timeZone: z, month: 'short', day: 'numeric' }).format(d);
      const chart = (window as any).Chart.getChart(document.querySelector('canvas[data-chart-name="by-day"]'));
      return {
        times,
        labels: chart.data.labels as string[],
        data: chart.data.datasets[0].data as number[],
        today: day(new Date(), tz),
        utcToday: day(new Date(), 'UTC'),
        zoneLabels: [...document.querySelectorAll('[data-viewer-zone]')].map((e) => e.textContent),
        heading: document.querySelector('#h-by-day')?.textContent,
      };
    }, zone);
    expect(seen.times.length).toBeGreaterThan(5);
    // As the server writes instants (in the viewer's zone here), so with or without script they read alike.
    for (const t of seen.times) expect(t.text).toBe(when(t.iso, zone));
    expect(seen.times[0]!.text).toMatch(/GMT[+-]1[14]$/);
    expect(seen.zoneLabels.length).toBeGreaterThan(0);
    for (const label of seen.zoneLabels) expect(label).toContain(zone);
    expect(seen.heading).toContain(zone);
    // Every request was sent minutes ago: all of them in today's bar, the viewer's today.
    expect(seen.today).not.toBe(seen.utcToday);
    const acme = world.t.rows().filter((r) => r.company_id === 'acme');
    expect(seen.labels.at(-1)).toBe(seen.today);
    expect(seen.data.at(-1)).toBe(acme.reduce((n, r) => n + Number(r.total_tokens), 0));
    expect(seen.labels).toHaveLength(8); // the 7-day period spans 8 local dates
    expect(errors).toEqual([]);
    await context.close();
  });
});
