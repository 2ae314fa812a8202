import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import type { Ledger } from '../src/ledger/port.js';
import { openSqliteLedger } from '../src/ledger/sqlite/index.js';
import {
  balanceReport,
  csvField,
  exportCsv,
  formatMicroUsd,
  historyReport,
  parseInstant,
  resolveWindow,
} from '../src/reports/index.js';
import { DAVE, NOW, seedLedger } from './ledger-contract/report-fixture.js';

/**
 * Reports over a SQLite ledger seeded through the port (see ledger-contract/report-fixture.ts): the
 * formatting, the CLI commands run as child processes, and the SQL views of migration 0002. The
 * queries themselves are tested for every adapter in ledger-contract/reports.test.ts.
 */

const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli.ts')];

let dir: string;
let file: string;
/** The seeded ledger, read-only, through the port. */
let ledger: Ledger;
/** The same file through a raw connection, for the SQL views. */
let sqlite: Database.Database;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-reports-'));
  file = join(dir, 'ledger.db');
  // Nothing folded yet: the views and reports read the raw rows (a test below folds them).
  const writer = openSqliteLedger({ path: file, checkpointThread: false, foldIntervalMs: false });
  await seedLedger(writer);
  await writer.close();
  ledger = openSqliteLedger({ path: file, readonly: true });
  sqlite = new Database(file, { readonly: true });
});
afterAll(async () => {
  sqlite?.close();
  await ledger?.close();
  rmSync(dir, { recursive: true, force: true });
});

function tollgate(args: string[]) {
  return spawnSync(process.execPath, [...CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, LOG_LEVEL: 'silent' },
    timeout: 20_000,
  });
}

describe('money and CSV formatting', () => {
  it('formats micro-USD from the integer, without float drift', () => {
    expect(formatMicroUsd(0)).toBe('0.000000');
    expect(formatMicroUsd(450)).toBe('0.000450');
    expect(formatMicroUsd(1_234_567_890)).toBe('1234.567890');
    expect(formatMicroUsd(-5)).toBe('-0.000005');
    // Number.MAX_SAFE_INTEGER / 1e6 in floating point prints 9007199254.740992.
    expect(formatMicroUsd(Number.MAX_SAFE_INTEGER)).toBe('9007199254.740991');
    expect(() => formatMicroUsd(1.5)).toThrow(RangeError);
  });

  it('quotes CSV fields per RFC 4180', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r')).toBe('"cr\r"');
    expect(csvField(null)).toBe('');
    expect(csvField(false)).toBe('false');
  });

  it('parses windows: periods back from now, explicit bounds, refusals', () => {
    expect(resolveWindow({ period: '7d' }, NOW)).toEqual({ since: '2026-10-24T12:00:00.000Z' });
    expect(resolveWindow({ period: '90d' }, NOW)).toEqual({ since: '2026-08-02T12:00:00.000Z' });
    expect(resolveWindow({ since: '2026-10-24', until: '2026-10-25T02:00:00+02:00' }, NOW)).toEqual({
      since: '2026-10-24T00:00:00.000Z',
      until: '2026-10-25T00:00:00.000Z',
    });
    expect(() => resolveWindow({ period: '7d', since: '2026-10-01' }, NOW)).toThrow('either a period or since/until');
    expect(() => parseInstant('2026-10-24T00:00', 'since')).toThrow('since: expected an ISO 8601 instant');
  });
});

describe('operator views (migration 0002)', () => {
  it('apply to a fresh ledger and are empty there', async () => {
    const path = join(dir, 'fresh', 'ledger.db');
    await openSqliteLedger({ path, checkpointThread: false }).close();
    const fresh = new Database(path, { readonly: true });
    for (const view of ['daily_usage', 'grant_balances', 'open_holds'])
      expect(fresh.prepare(`SELECT * FROM ${view}`).all()).toEqual([]);
    fresh.close();
  });

  it('daily_usage sums per UTC day, company, user and model, without held rows', () => {
    const rows = sqlite.prepare('SELECT * FROM daily_usage ORDER BY day, company_id, user_id, requested_model').all();
    const row = (
      day: string,
      company: string,
      user: string,
      model: string,
      n: number,
      input: number,
      cached: number,
      output: number,
      total: number,
      cost: number,
    ) => ({
      day,
      company_id: company,
      user_id: user,
      requested_model: model,
      requests: n,
      input_tokens: input,
      cached_input_tokens: cached,
      output_tokens: output,
      total_tokens: total,
      cost_micro_usd: cost,
      reasoning_tokens: model === 'gpt-5-nano' ? 600 : 0,
      cost_nano_usd: cost * 1000,
      errors: day === '2026-10-29' && user === 'alice' ? 1 : 0,
    });
    expect(rows).toEqual([
      row('2026-10-10', 'acme', 'alice', 'gpt-4o-mini', 1, 1000, 200, 500, 1500, 450),
      row('2026-10-24', 'acme', 'alice', 'gpt-4o-mini', 2, 2500, 0, 1250, 3750, 1125),
      row('2026-10-24', 'acme', 'bob', 'text-embedding-3-small', 1, 4000, 0, 0, 4000, 80),
      row('2026-10-25', 'globex', 'erin', 'gpt-4o-mini', 1, 500, 100, 500, 1000, 375),
      row('2026-10-28', 'globex', 'erin', 'gpt-3.5-turbo-instruct', 1, 50, 0, 20, 70, 115),
      row('2026-10-29', 'acme', 'alice', 'gpt-4o-mini', 1, 0, 0, 0, 0, 0),
      row('2026-10-29', 'acme', 'bob', 'gpt-4o', 1, 100, 0, 50, 150, 750),
      row('2026-10-29', 'acme', 'carol', 'gpt-5-nano', 1, 300, 0, 700, 1000, 290),
      row('2026-10-31', 'acme', DAVE, 'gpt-4o-mini', 1, 10, 0, 5, 15, 5),
    ]);
  });

  it('grant_balances shows each grant with remaining and active against the clock', () => {
    const rows = sqlite
      .prepare(
        'SELECT grant_id, company_id, unit, unlimited, amount, spent, held, remaining, active, expires_at FROM grant_balances ORDER BY grant_id',
      )
      .all();
    // The grants' dates are far enough from today (2026-01-01, 2099) for `active` not to depend on the day the test runs.
    expect(rows).toEqual([
      {
        grant_id: 'acme-embed',
        company_id: 'acme',
        unit: 'tokens',
        unlimited: 0,
        amount: 50_000,
        spent: 4000,
        held: 0,
        remaining: 46_000,
        active: 1,
        expires_at: null,
      },
      {
        grant_id: 'acme-expired',
        company_id: 'acme',
        unit: 'tokens',
        unlimited: 0,
        amount: 1000,
        spent: 0,
        held: 0,
        remaining: 1000,
        active: 0,
        expires_at: '2026-01-01T00:00:00.000Z',
      },
      {
        grant_id: 'acme-main',
        company_id: 'acme',
        unit: 'tokens',
        unlimited: 0,
        amount: 1_000_000,
        spent: 5265,
        held: 2000,
        remaining: 992_735,
        active: 1,
        expires_at: null,
      },
      {
        grant_id: 'acme-nano',
        company_id: 'acme',
        unit: 'tokens',
        unlimited: 1,
        amount: 0,
        spent: 1000,
        held: 0,
        remaining: null,
        active: 1,
        expires_at: '2099-12-31T00:00:00.000Z',
      },
      {
        grant_id: 'acme-usd',
        company_id: 'acme',
        unit: 'micro_usd',
        unlimited: 0,
        amount: 10_000_000,
        spent: 750,
        held: 0,
        remaining: 9_999_250,
        active: 1,
        expires_at: '2099-06-30T00:00:00.000Z',
      },
      {
        grant_id: 'globex-main',
        company_id: 'globex',
        unit: 'tokens',
        unlimited: 0,
        amount: 200_000,
        spent: 1070,
        held: 0,
        remaining: 198_930,
        active: 1,
        expires_at: null,
      },
      {
        grant_id: 'globex-next',
        company_id: 'globex',
        unit: 'tokens',
        unlimited: 0,
        amount: 5000,
        spent: 0,
        held: 0,
        remaining: 5000,
        active: 0,
        expires_at: null,
      },
    ]);
  });

  it('open_holds lists the request still held, its hold and its age', () => {
    const before = Date.now();
    const rows = sqlite.prepare('SELECT * FROM open_holds').all() as Record<string, unknown>[];
    const after = Date.now();
    expect(rows).toHaveLength(1);
    const { age_seconds: age, ...rest } = rows[0]!;
    expect(rest).toEqual({
      request_id: 'r08',
      company_id: 'acme',
      created_at: '2026-10-31T11:30:00.000Z',
      hold_tokens: 2000,
      grant_id: 'acme-main',
      unit: 'tokens',
      amount: 2000,
    });
    const created = Date.parse('2026-10-31T11:30:00.000Z');
    expect(age).toBeGreaterThanOrEqual(Math.floor((before - created) / 1000) - 1);
    expect(age).toBeLessThanOrEqual(Math.ceil((after - created) / 1000) + 1);
  });
});

describe('report commands', () => {
  const at = ['--ledger', '', '--now', NOW.toISOString()];
  const args = (...rest: string[]) => [...rest, ...at.map((a) => a || file)];

  it('balance: a table, --json and --csv', async () => {
    const table = tollgate(args('balance', '--company', 'acme'));
    expect(table.stderr).toBe('');
    expect(table.status).toBe(0);
    expect(table.stdout).toContain(
      'acme: 1,038,735 tokens and 9.999250 USD left on active grants; unlimited: gpt-5-nano\n',
    );
    expect(table.stdout).toMatch(
      /^acme-main\s+tokens\s+all\s+1,000,000\s+5,265\s+2,000\s+992,735\s+yes\s+never\s+openai-2026-10 \(openai, 2026-10-01\)\s+1$/m,
    );
    expect(table.stdout).toMatch(
      /^acme-usd\s+USD\s+gpt-4o\s+10\.000000\s+0\.000750\s+0\.000000\s+9\.999250\s+yes\s+2099-06-30T00:00:00\.000Z\s+-\s+1$/m,
    );
    expect(table.stdout).toMatch(/^gpt-5-nano\s+0\s+0\.000000\s+yes\s+2099-12-31T00:00:00\.000Z\s+acme-nano$/m);

    const json = tollgate(args('balance', '--json'));
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual(await balanceReport(ledger, NOW));

    const csv = tollgate(args('balance', '--company', 'globex', '--csv'));
    expect(csv.stdout).toBe(
      'company,grant,unit,unlimited,models,amount,spent,held,remaining,active,starts_at,expires_at,purchase,priority\r\n' +
        'globex,globex-main,tokens,false,,200000,1070,0,198930,true,,,,1\r\n' +
        'globex,globex-next,tokens,false,,5000,0,0,5000,false,2099-01-01T00:00:00.000Z,,,1\r\n',
    );
  });

  it('usage: a table, --csv grouped by user, --json over a 7-day period', async () => {
    const table = tollgate(args('usage', '--company', 'globex', '--group-by', 'model'));
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(
      /^model\s+requests\s+input\s+cached\s+output\s+reasoning\s+total\s+cost USD\s+errors\s+avg ms$/m,
    );
    expect(table.stdout).toMatch(/^gpt-4o-mini\s+1\s+500\s+100\s+500\s+0\s+1,000\s+0\.000375\s+0\s+300\.0$/m);

    const csv = tollgate(args('usage', '--company', 'acme', '--group-by', 'user', '--model', 'gpt-4o-mini', '--csv'));
    expect(csv.stdout).toBe(
      'company,user,requests,input_tokens,cached_input_tokens,output_tokens,reasoning_tokens,total_tokens,cost_micro_usd,cost_usd,errors,avg_latency_ms\r\n' +
        'acme,alice,4,3500,200,1750,0,5250,1575,0.001575,1,112.6\r\n' +
        'acme,"dave, ""the boss""",1,10,0,5,0,15,5,0.000005,0,99.5\r\n',
    );

    const json = tollgate(args('usage', '--period', '7d', '--group-by', 'day', '--json'));
    expect(JSON.parse(json.stdout)).toEqual(await ledger.reader.usage({ since: '2026-10-24T12:00:00.000Z' }, 'day'));
    expect(JSON.parse(json.stdout)).toHaveLength(5);
  });

  it('export: CSV on stdout or into a file', async () => {
    const csv = tollgate(args('export', '--user', DAVE));
    expect(csv.status).toBe(0);
    expect(csv.stdout).toBe(
      'Date,User ID,Endpoint,Model,Input Tokens,Output Tokens,Total Tokens,Total Cost (USD),Success,Response Time (ms),Company,Request ID,End User,Tags\r\n' +
        '2026-10-31T11:00:00.000Z,"dave, ""the boss""",/v1/chat/completions,gpt-4o-mini,10,5,15,0.000005,true,100,acme,r07,,\r\n',
    );
    const out = join(dir, 'acme.csv');
    const toFile = tollgate(args('export', '--company', 'acme', '--period', '30d', '-o', out));
    expect(toFile.status).toBe(0);
    expect(toFile.stdout).toBe('');
    expect(toFile.stderr).toBe(`wrote 8 rows to ${out}\n`);
    expect(readFileSync(out, 'utf8')).toBe(
      exportCsv(await ledger.reader.rows({ companyId: 'acme', since: '2026-10-01T12:00:00.000Z' })),
    );
  });

  it('history: a table, --json, and the ledger named by the config', async () => {
    const table = tollgate(args('history', '--company', 'acme', '-n', '2'));
    expect(table.status).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^date\s+company\s+user\s+model\s+endpoint\s+status\s+tags\s+tokens used\s+remaining\s+cost USD$/,
    );
    expect(lines.slice(2)).toHaveLength(2);
    expect(lines[2]).toMatch(
      /^2026-10-31T11:00:00\.000Z\s+acme\s+dave, "the boss"\s+gpt-4o-mini\s+\/v1\/chat\/completions\s+settled\s+-\s+15\s+1,038,735\s+0\.000005$/,
    );
    expect(lines[3]).toMatch(
      /^2026-10-29T09:10:00\.000Z\s+acme\s+alice\s+gpt-4o-mini\s+\/v1\/chat\/completions\s+voided\s+-\s+0\s+1,038,750\s+0\.000000$/,
    );

    const json = tollgate(args('history', '-n', '5', '--json'));
    expect(JSON.parse(json.stdout)).toEqual(await historyReport(ledger.reader, NOW, { limit: 5 }));

    const cfg = join(dir, 'proxy.config.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        ledger: { path: './ledger.db' },
        companies: { globex: { name: 'Globex', keys: [], allocations: [] } },
      }),
    );
    const viaConfig = tollgate(['history', '-c', cfg, '--company', 'globex', '--csv', '--now', NOW.toISOString()]);
    expect(viaConfig.stdout).toBe(
      'date,company,user,model,endpoint,feature,end_user,tags,status,tokens_used,remaining_tokens,cost_micro_usd,request_id\r\n' +
        '2026-10-28T23:59:59.999Z,globex,erin,gpt-3.5-turbo-instruct,/v1/completions,,,,settled,70,198930,115,g02\r\n' +
        '2026-10-25T14:00:00.000Z,globex,erin,gpt-4o-mini,/v1/chat/completions,summary,,,settled,1000,199000,375,g01\r\n',
    );
  });

  it('refuses bad input with exit 2 and a message, and has --help', { timeout: 120_000 }, () => {
    const badSince = tollgate(args('usage', '--since', 'yesterday'));
    expect(badSince.status).toBe(2);
    expect(badSince.stderr).toContain('since: expected an ISO 8601 instant');
    const missing = tollgate(['balance', '--ledger', join(dir, 'nope.db')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`cannot open the ledger ${join(dir, 'nope.db')}`);
    const both = tollgate(args('usage', '--period', '7d', '--since', '2026-10-01'));
    expect(both.status).not.toBe(0);
    expect(both.stderr).toContain('cannot be used with');
    for (const cmd of ['balance', 'usage', 'export', 'history']) {
      const help = tollgate([cmd, '--help']);
      expect(help.status).toBe(0);
      expect(help.stdout).toContain(`Usage: tollgate ${cmd}`);
      expect(help.stdout).toContain('--ledger <file>');
    }
  });

  it('refuses a company the config, or the ledger alone, does not know (exit 2), instead of reporting it empty', () => {
    const unknownViaLedger = tollgate(args('balance', '--company', 'initech'));
    expect(unknownViaLedger.status).toBe(2);
    expect(unknownViaLedger.stderr).toMatch(/^no company "initech" in the ledger .*\(companies: acme, globex\)\n$/);
    const cfgFile = join(dir, 'acme-only.json');
    writeFileSync(
      cfgFile,
      JSON.stringify({
        ledger: { path: './ledger.db' },
        companies: { acme: { name: 'Acme', keys: [], allocations: [] } },
      }),
    );
    const unknownViaConfig = tollgate(['history', '-c', cfgFile, '--company', 'globex']);
    expect(unknownViaConfig.status).toBe(2);
    expect(unknownViaConfig.stderr).toBe(`no company "globex" in the config ${cfgFile} (companies: acme)\n`);
  }, 60_000);
});
