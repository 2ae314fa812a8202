import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mintKey } from '../src/auth/api-key.js';
import { budgetsCommand } from '../src/cli/budgets.js';
import { startTollgate, type Tollgate } from './support/harness.js';
import type { ScriptedUpstream } from './support/scripted-upstream.js';
import { chatOf, maxTokensUpstream } from './support/usage-upstream.js';

/**
 * A key's own budget: a dev key capped at $20 a month beside the production key, checked together
 * with the company's grants. The dev key is refused once its budget cannot cover a request while
 * the company still has funds, and the production key goes on; the budget shows in the read API.
 */

const PRICE = { input: 1000, output: 1000, source: 'test', date: '2026-01-01' }; // $1 per 1,000 tokens

let upstream: ScriptedUpstream;
let t: Tollgate;
beforeAll(async () => {
  upstream = await maxTokensUpstream();
  t = await startTollgate({
    upstreamUrl: upstream.url,
    prices: { 'budget-model': PRICE },
    companies: {
      acme: {
        allocations: [
          { id: 'acme-usd', usd: 1000 },
          { id: 'acme-monthly', tokens: 100_000, models: ['gpt-4o-mini'], every: 'month', rollover: { max: 1000 } },
        ],
        keys: [
          { id: 'prod', role: 'admin' },
          { id: 'dev', limits: { quotas: { monthly: { usd: 20 } } } },
        ],
      },
    },
  });
});
afterAll(async () => {
  await t.close();
  await upstream.close();
});

const ask = (key: string) => t.client(t.keys[key]).chat.completions.create(chatOf(4995, { model: 'budget-model' }));

describe('key budgets', () => {
  it('refuses the dev key past its $20 while the company has funds, and the production key goes on', async () => {
    for (let i = 0; i < 3; i++) await ask('dev'); // $5 each
    await expect(ask('dev')).rejects.toMatchObject({
      status: 429,
      code: 'insufficient_quota',
      message: expect.stringMatching(/monthly quota of \$20\.0+ for key dev/),
    });
    await ask('prod');
    const balance = await t.server.runtime.ledger.balance('acme', new Date());
    expect(balance.microUsd).toBe(1000_000_000 - 4 * 5_000_000);

    const res = await fetch(`${t.url}/tollgate/v1/quotas?key=dev`, {
      headers: { authorization: `Bearer ${t.keys.prod}` },
    });
    const body = (await res.json()) as { key_id: string; data: Record<string, unknown>[] };
    expect(body.key_id).toBe('dev');
    expect(body.data).toEqual([
      expect.objectContaining({
        scope: 'key',
        window: 'monthly',
        limit_micro_usd: 20_000_000,
        spent_micro_usd: 15_000_000,
        remaining_micro_usd: 5_000_000,
      }),
    ]);
    // A member key reads its own budget, never another key's.
    const own = await fetch(`${t.url}/tollgate/v1/quotas?key=prod`, {
      headers: { authorization: `Bearer ${t.keys.dev}` },
    });
    expect(own.status).toBe(403);
  });

  it("tollgate budgets prints the allocations that renew and the keys' budgets", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-budgets-'));
    const file = join(dir, 'proxy.config.json');
    const key = (id: string, extra: Record<string, unknown> = {}) => ({ id, ...mintKey(), ...extra });
    const { key: _k, ...prod } = key('prod');
    const { key: _d, ...dev } = key('dev', { limits: { quotas: { monthly: { usd: 20 } } } });
    writeFileSync(
      file,
      JSON.stringify({
        ledger: { path: t.server.runtime.config.ledger.path },
        companies: {
          acme: {
            name: 'acme',
            keys: [prod, dev],
            allocations: t.server.runtime.config.companies.acme!.allocations.map((a) => ({ ...a })),
          },
        },
      }),
    );
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (written.push(String(chunk)), true));
    try {
      await budgetsCommand({ config: file, company: 'acme', json: true });
    } finally {
      spy.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
    const [report] = JSON.parse(written.join('')) as [
      { renewing: Record<string, unknown>[]; budgets: Record<string, unknown>[] },
    ];
    expect(report.renewing).toEqual([
      expect.objectContaining({ allocation: 'acme-monthly', every: 'month', amount: 100_000, spent: 0, carried: 0 }),
    ]);
    expect(String(report.renewing[0]!.grant)).toMatch(/^acme-monthly@\d{4}-\d{2}$/);
    expect(report.budgets).toEqual([
      expect.objectContaining({
        subject: 'key dev',
        spentMicroUsd: 15_000_000,
        remainingMicroUsd: 5_000_000,
        level: 'ok',
      }),
    ]);
  });
});
