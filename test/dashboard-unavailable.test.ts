import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GroupBy } from '../src/ledger/port.js';
import { ReadTimeoutError } from '../src/ledger/port.js';
import { startTollgate, type Tollgate } from './support/harness.js';
import { json, ScriptedUpstream } from './support/scripted-upstream.js';
import { sessionCookie } from './support/sign-in.js';

/**
 * A report past the ledger's read budget on the dashboard: the breakdowns summed from raw rows
 * (tags, end users), which a long period on a large ledger can take past it, are said to be
 * unavailable and the rest of the page is shown; when the usage the page cannot do without is
 * unavailable, the page is a 503 naming the ledger, never a 400 blaming the reader.
 */
let upstream: ScriptedUpstream;
let t: Tollgate;

beforeAll(async () => {
  upstream = await new ScriptedUpstream().start();
  upstream.script = (_req, res) => json(res, 200, {});
  t = await startTollgate({
    upstreamUrl: upstream.url,
    companies: {
      acme: { allocations: [{ id: 'acme-grant', tokens: 1_000_000 }], keys: [{ id: 'prod', role: 'admin' }] },
    },
  });
});
afterAll(async () => {
  await t?.close();
  await upstream?.close();
});

/** Signs in to the dashboard with `credential` through its form; returns the session cookie. */
const signIn = (credential: string) => sessionCookie(t.url, credential);

/** Makes the ledger's usage report run past its budget for the groupings in `slow`, for the length of `fn`. */
async function withSlowUsage<T>(slow: GroupBy[], fn: () => Promise<T>): Promise<T> {
  const reader = t.server.runtime.ledger.reader;
  const usage = reader.usage;
  reader.usage = (filter, groupBy, ...rest) =>
    slow.includes(groupBy) ? Promise.reject(new ReadTimeoutError(250)) : usage.call(reader, filter, groupBy, ...rest);
  try {
    return await fn();
  } finally {
    reader.usage = usage;
  }
}

describe('the dashboard when a report runs past the read budget', () => {
  it('shows the page, and says the tag and end-user breakdowns are not shown for this period', async () => {
    const cookie = await signIn(t.keys.prod!);
    const page = () => fetch(`${t.url}/dashboard?period=90d`, { headers: { cookie: `tg_session=${cookie}` } });
    const healthy = await page();
    expect(healthy.status).toBe(200);
    expect(await healthy.text()).not.toContain('data-unavailable');

    const res = await withSlowUsage(['tag', 'end_user'], page);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('Usage by model');
    expect(html.match(/data-unavailable/g)).toHaveLength(2);
    expect(html).toContain('Choose a shorter period');
  });

  it('answers 503 naming the ledger when the usage every view needs is past the budget', async () => {
    const cookie = await signIn(t.keys.prod!);
    const res = await withSlowUsage(['none', 'model'], () =>
      fetch(`${t.url}/dashboard?period=90d`, { headers: { cookie: `tg_session=${cookie}` } }),
    );
    expect(res.status).toBe(503);
    const html = await res.text();
    expect(html).toContain('data-error-status="503"');
    expect(html).toContain('The ledger could not answer in time');
  });
});
