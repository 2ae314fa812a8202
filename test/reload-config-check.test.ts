import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JSON_TEXT, keyMint, type ConfigJson } from './support/config-file.js';
import { TEST_PRICES } from './support/harness.js';
import { CLI, startCompanies, status, upstream, useReloadWorld } from './support/reload-world.js';

/** `tollgate config check`: a config file validated, and what it would change versus another file or the ledger's grants. */
useReloadWorld();

describe('tollgate config check', () => {
  function cli(args: string[], env: Record<string, string> = {}) {
    return spawnSync(process.execPath, [...CLI, 'config', 'check', ...args], {
      encoding: 'utf8',
      env: { ...process.env, LOG_LEVEL: 'silent', ...env },
      timeout: 20_000,
    });
  }
  const keys: Record<string, string> = {};
  const mint = keyMint(keys);
  const base = (): ConfigJson => ({
    ledger: { path: './ledger.db' },
    companies: {
      acme: {
        name: 'Acme',
        keys: [mint.key({ id: 'acme-web' }), mint.key({ id: 'acme-old' })],
        allocations: [
          { id: 'acme-q4', tokens: 1_000_000, expiresAt: '2027-01-01T00:00:00Z' },
          { id: 'acme-usd', usd: 25 },
        ],
      },
    },
    prices: { 'gpt-4o': { input: 2.5, output: 10, source: 'test', date: '2025-08-07' } },
  });

  it('prints added, changed and removed companies, keys, allocations and prices versus --against, and what needs a restart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-check-'));
    const before = base();
    const after = base();
    after.companies.acme.keys[0] = mint.key({ id: 'acme-web', revoked: true });
    after.companies.acme.keys[1] = mint.key({ id: 'acme-old', expiresAt: '2026-12-01T00:00:00Z' });
    after.companies.acme.keys.push(mint.key({ id: 'acme-batch' }));
    after.companies.acme.allocations[0].tokens = 2_000_000;
    after.companies.acme.allocations.splice(1, 1);
    after.companies.globex = { name: 'Globex', allocations: [{ id: 'globex-1', tokens: 10 }] };
    after.prices['gpt-4o'].output = 12;
    after.prices['gpt-4o-mini'] = { input: 0.15, output: 0.6, source: 'test', date: '2025-08-07' };
    after.listen = { port: 9999 };
    writeFileSync(join(dir, 'before.json'), JSON_TEXT(before));
    writeFileSync(join(dir, 'after.json'), JSON_TEXT(after));

    const r = cli([join(dir, 'after.json'), '--against', join(dir, 'before.json')]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(
      [
        `${join(dir, 'after.json')}: valid`,
        `changes versus ${join(dir, 'before.json')}:`,
        '  + company globex',
        '  ~ key acme/acme-web: revoked: false → true',
        '  ~ key acme/acme-old: expiresAt: (none) → 2026-12-01T00:00:00.000Z',
        '  + key acme/acme-batch',
        '  ~ allocation acme/acme-q4: tokens: 1000000 → 2000000',
        '  + allocation globex/globex-1',
        '  - allocation acme/acme-usd',
        '  ~ price gpt-4o: output: 10 → 12',
        '  + price gpt-4o-mini',
        '  ~ setting listen: port: 8787 → 9999',
        'needs restart (read at start only): listen.port',
        '',
      ].join('\n'),
    );
    const json = cli([join(dir, 'after.json'), '--against', join(dir, 'before.json'), '--json']);
    expect(json.status).toBe(0);
    const report = JSON.parse(json.stdout) as { valid: boolean; changes: unknown[]; needsRestart: string[] };
    expect(report.valid).toBe(true);
    expect(report.changes).toHaveLength(10);
    expect(report.needsRestart).toEqual(['listen.port']);
  });

  it('compares with the grants mirrored in the ledger by default, and exits 1 on a grant moved between companies', async () => {
    // A running tollgate mirrors the grants into the ledger; then the file is edited.
    const { t, config } = await startCompanies(
      {
        acme: {
          keys: ['k'],
          allocations: [
            { id: 'acme-q4', tokens: 1_000_000 },
            { id: 'acme-usd', usd: 25 },
          ],
        },
      },
      false,
    );
    expect((await status(t, t.keys.k!)).status).toBe(200);
    const edited = structuredClone(config);
    edited.ledger = { path: join(t.dir, 'ledger.db') };
    edited.upstream = { baseUrl: upstream.url };
    edited.companies.acme.allocations = [
      { id: 'acme-q4', tokens: 2_000_000, note: 'topped up' },
      { id: 'acme-embed', tokens: 5000, models: ['text-embedding-3-small'] },
    ];
    const file = join(t.dir, 'edited.json');
    writeFileSync(file, JSON_TEXT({ ...edited, prices: TEST_PRICES }));
    const ok = cli([file]);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain(`changes versus the grants in ${join(t.dir, 'ledger.db')}:`);
    expect(ok.stdout).toContain('  ~ allocation acme/acme-q4: amount: 1000000 → 2000000; note: (none) → topped up\n');
    expect(ok.stdout).toContain('  + allocation acme/acme-embed\n');
    expect(ok.stdout).toMatch(/ {2}- allocation acme\/acme-usd: spent 0, held 0 \(history kept\)\n/);

    edited.companies.globex = { name: 'Globex', allocations: [{ id: 'acme-usd', usd: 25 }] };
    writeFileSync(file, JSON_TEXT({ ...edited, prices: TEST_PRICES }));
    const moved = cli([file]);
    expect(moved.status).toBe(1);
    expect(moved.stdout).toBe('');
    expect(moved.stderr).toBe(
      `invalid config ${file}:\n  - companies.globex.allocations.0: allocation "acme-usd" moved from company "acme" to "globex"; give it a new id\n`,
    );
  });

  it('exits 1 with the precise errors on an invalid file, and notes a ledger that does not exist yet', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-check-'));
    const bad = base();
    bad.companies.acme.keys[0].sha256 = 'abc';
    bad.companies.acme.allocations[1].tokens = 5; // both usd and tokens
    writeFileSync(join(dir, 'bad.json'), JSON_TEXT(bad));
    const r = cli([join(dir, 'bad.json')]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`invalid config ${join(dir, 'bad.json')}:\n`);
    expect(r.stderr).toContain(
      '  - companies.acme.keys.0.sha256: expected the lowercase hex SHA-256 of the key (64 chars)\n',
    );
    expect(r.stderr).toContain(
      '  - companies.acme.allocations.1: expected exactly one of "tokens", "usd" or "unlimited": true\n',
    );

    writeFileSync(join(dir, 'broken.json'), '{ "companies": {');
    const broken = cli([join(dir, 'broken.json')]);
    expect(broken.status).toBe(1);
    expect(broken.stderr).toContain('not valid JSON');

    const jwt = base();
    jwt.companies.acme.jwt = { algorithms: ['HS256'], secretEnv: 'TOLLGATE_CHECK_SECRET' };
    writeFileSync(join(dir, 'jwt.json'), JSON_TEXT(jwt));
    expect(cli([join(dir, 'jwt.json')]).stderr).toContain(
      'companies.acme.jwt.secretEnv: environment variable TOLLGATE_CHECK_SECRET is not set',
    );
    const withSecret = cli([join(dir, 'jwt.json')], { TOLLGATE_CHECK_SECRET: 'x'.repeat(32) });
    expect(withSecret.status).toBe(0);
    expect(withSecret.stdout).toBe(
      [
        `${join(dir, 'jwt.json')}: valid`,
        `note: no ledger at ${join(dir, 'ledger.db')} yet: every allocation is new`,
        `changes versus the grants in ${join(dir, 'ledger.db')}:`,
        '  + allocation acme/acme-q4',
        '  + allocation acme/acme-usd',
        '',
      ].join('\n'),
    );
  });

  it('validates the committed sample config', () => {
    const r = cli([
      join(import.meta.dirname, '../proxy.config.json'),
      '--against',
      join(import.meta.dirname, '../proxy.config.json'),
    ]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('no changes versus');
  });
});
