import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { renderConfigJsonSchema } from '../src/config/json-schema.js';
import { FakeUpstream } from './support/fake-upstream.js';
import { JSON_TEXT, keyMint, startFromFile, type ConfigJson, type FileTollgate } from './support/config-file.js';
import { loadRecordings } from './support/fixtures.js';
import { TEST_PRICES, UPSTREAM_KEY } from './support/harness.js';

/** Hot reload of proxy.config.json, `tollgate config check`, and the committed JSON Schema. */
const recordings = new Map(loadRecordings().map((r) => [r.name, r]));
const chat = recordings.get('chat-nonstream-01')!;
const body = JSON.stringify({ ...(chat.request.body as object), max_tokens: 5 });
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli.ts')];

let upstream: FakeUpstream;
const open: FileTollgate[] = [];

beforeAll(async () => {
  upstream = await new FakeUpstream(recordings).start();
  upstream.next = chat;
  upstream.delayMs = 1;
});
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
  upstream.reset();
});
afterAll(() => upstream.close());

async function start(config: Parameters<typeof startFromFile>[0]['config'], watch = true): Promise<FileTollgate> {
  const t = await startFromFile({ upstreamUrl: upstream.url, config, watch });
  open.push(t);
  return t;
}

function send(t: FileTollgate, key: string): Promise<Response> {
  return fetch(`${t.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body,
  });
}

async function status(
  t: FileTollgate,
  key: string,
): Promise<{ status: number; error?: { code: string; message: string } }> {
  const res = await send(t, key);
  const json = (await res.json()) as { error?: { code: string; message: string } };
  return { status: res.status, error: json.error };
}

describe('config reload', () => {
  it('swaps the config under load with zero failed requests: a new key works, a revoked key stops, a new grant counts', async () => {
    let config!: ConfigJson;
    const t = await start(
      ({ key }) =>
        (config = {
          companies: {
            acme: { name: 'Acme', keys: [key({ id: 'steady' })], allocations: [{ id: 'g1', tokens: 10_000_000 }] },
          },
        }),
    );
    const steady = t.keys.steady!;

    // Four clients keep sending with the key that never changes, until told to stop.
    const statuses: number[] = [];
    let stop = false;
    const waiters: { n: number; resolve: () => void }[] = [];
    const loop = async () => {
      while (!stop) {
        let code = 0; // a failed fetch counts as a failure
        try {
          const res = await send(t, steady);
          await res.arrayBuffer();
          code = res.status;
        } catch {
          if (stop) return;
        }
        statuses.push(code);
        for (const w of waiters.splice(0))
          if (statuses.length >= w.n) w.resolve();
          else waiters.push(w);
      }
    };
    /** Resolves once `more` further requests have been answered. */
    const answered = (more: number) =>
      new Promise<void>((resolve) => waiters.push({ n: statuses.length + more, resolve }));
    const clients = [loop(), loop(), loop(), loop()];
    try {
      await answered(20);

      // 1. Add a key (file rewritten in place).
      const added = t.nextReload();
      config.companies.acme.keys.push(t.key({ id: 'fresh' }));
      t.write(config);
      const r1 = await added;
      expect(r1.status).toBe('applied');
      if (r1.status === 'applied')
        expect(r1.changes.map((c) => `${c.op} ${c.kind} ${c.id}`)).toEqual(['added key acme/fresh']);
      expect((await status(t, t.keys.fresh!)).status).toBe(200);
      await answered(20);

      // 2. Revoke it (file replaced by rename, as vim does).
      const revoked = t.nextReload();
      config.companies.acme.keys[1] = t.key({ id: 'fresh', revoked: true });
      t.replace(config);
      const r2 = await revoked;
      expect(r2.status).toBe('applied');
      if (r2.status === 'applied')
        expect(r2.changes).toEqual([
          { kind: 'key', op: 'changed', id: 'acme/fresh', details: ['revoked: false → true'] },
        ]);
      const refused = await status(t, t.keys.fresh!);
      expect(refused.status).toBe(401);
      expect(refused.error?.message).toContain('revoked');
      await answered(20);

      // 3. Replace the only grant by a new one, and add a price: the new grant takes the next requests.
      const regrant = t.nextReload();
      config.companies.acme.allocations = [{ id: 'g2', tokens: 5_000_000 }];
      config.prices = { ...TEST_PRICES, 'gpt-9': { input: 1, output: 1, source: 'test', date: '2026-01-01' } };
      t.write(config);
      const r3 = await regrant;
      expect(r3.status).toBe('applied');
      if (r3.status === 'applied')
        expect(r3.changes.map((c) => `${c.op} ${c.kind} ${c.id}`).sort()).toEqual([
          'added allocation acme/g2',
          'added price gpt-9',
          'removed allocation acme/g1',
        ]);
      await answered(20);
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    expect(statuses.length).toBeGreaterThanOrEqual(80);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // Every request answered has its row (the revoked key's refusal has none), settled; the last ones burned g2.
    await t.settled();
    const rows = t.rows();
    expect(rows.length).toBe(statuses.length + 1);
    expect(rows.filter((r) => r.status !== 'settled')).toEqual([]);
    const [g2] = t.query("SELECT spent FROM grants WHERE id = 'g2'");
    expect(Number(g2!.spent)).toBeGreaterThan(0);
    expect(t.query("SELECT removed_at FROM grants WHERE id = 'g1'")[0]!.removed_at).not.toBeNull();
  });

  it.each([
    ['invalid JSON', (_c: ConfigJson) => '{ "companies": ', 'not valid JSON'],
    [
      'a schema error',
      (c: ConfigJson) => ((c.companies.acme.keys[0].sha256 = 'abc'), c),
      'companies.acme.keys.0.sha256: expected the lowercase hex SHA-256',
    ],
    [
      'an unknown field',
      (c: ConfigJson) => ((c.companies.acme.allocation = []), c),
      'companies.acme: Unrecognized key: "allocation"',
    ],
    [
      'a grant moved to another company',
      (c: ConfigJson) => (
        c.companies.globex.allocations.push({ id: 'acme-grant', tokens: 5 }),
        (c.companies.acme.allocations = [{ id: 'acme-2', tokens: 1000 }]),
        c
      ),
      'allocation "acme-grant" moved from company "acme" to "globex"; give it a new id',
    ],
    [
      'a JWT secret env var that is not set',
      (c: ConfigJson) => (
        (c.companies.acme.jwt = { algorithms: ['HS256'], secretEnv: 'TOLLGATE_TEST_UNSET_SECRET' }), c
      ),
      'companies.acme.jwt.secretEnv: environment variable TOLLGATE_TEST_UNSET_SECRET is not set',
    ],
  ])('refuses %s: the error is logged precisely and the running config keeps serving', async (_case, edit, message) => {
    let config!: ConfigJson;
    const t = await start(
      ({ key }) =>
        (config = {
          companies: {
            acme: {
              name: 'Acme',
              keys: [key({ id: 'acme-key' })],
              allocations: [{ id: 'acme-grant', tokens: 1_000_000 }],
            },
            globex: {
              name: 'Globex',
              keys: [key({ id: 'globex-key' })],
              allocations: [{ id: 'globex-grant', tokens: 1_000_000 }],
            },
          },
        }),
    );
    expect((await status(t, t.keys['acme-key']!)).status).toBe(200);
    const running = t.server.runtime.config;
    const keys = t.server.runtime.keys;

    const refused = t.nextReload();
    const bad = edit(structuredClone(config));
    // A new key in the same edit must not become usable.
    if (typeof bad !== 'string') bad.companies.globex.keys.push(t.key({ id: 'sneaky' }));
    t.write(bad);
    const result = await refused;
    expect(result.status).toBe('refused');
    if (result.status === 'refused') expect(result.issues.join('\n')).toContain(message);
    const line = t.logs.find((l) => l.level === 50 && /config reload refused/.test(l.msg));
    expect(line?.issues.join('\n')).toContain(message);
    expect(line?.file).toBe(t.file);

    // Nothing was swapped: same objects, the old key works, the sneaky key does not, the grants are as they were.
    expect(t.server.runtime.config).toBe(running);
    expect(t.server.runtime.keys).toBe(keys);
    expect((await status(t, t.keys['acme-key']!)).status).toBe(200);
    if (t.keys.sneaky) expect((await status(t, t.keys.sneaky)).status).toBe(401);
    expect(t.query('SELECT id, company_id, removed_at FROM grants ORDER BY id')).toEqual([
      { id: 'acme-grant', company_id: 'acme', removed_at: null },
      { id: 'globex-grant', company_id: 'globex', removed_at: null },
    ]);

    // Fixing the file applies it.
    const fixed = t.nextReload();
    config.companies.acme.keys.push(t.key({ id: 'acme-second' }));
    t.write(config);
    expect((await fixed).status).toBe('applied');
    expect((await status(t, t.keys['acme-second']!)).status).toBe(200);
  });

  it('logs a change to listen, ledger or upstream as needing a restart and keeps the running values', async () => {
    let config!: ConfigJson;
    const t = await start(
      ({ key }) =>
        (config = {
          companies: {
            acme: { name: 'Acme', keys: [key({ id: 'k' })], allocations: [{ id: 'g', tokens: 1_000_000 }] },
          },
        }),
    );
    const listen = t.server.runtime.config.listen;
    const next = t.nextReload();
    t.write({
      ...config,
      listen: { host: '127.0.0.1', port: 1 },
      upstream: { baseUrl: 'http://127.0.0.1:9', connections: 3 },
      unknownPaths: 'passthrough',
    });
    const r = await next;
    expect(r.status).toBe('applied');
    if (r.status !== 'applied') return;
    expect(r.needsRestart.sort()).toEqual(['listen.port', 'upstream.baseUrl', 'upstream.connections']);
    expect(r.changes.find((c) => c.id === 'unknownPaths')?.details).toEqual(['unknownPaths: reject → passthrough']);
    expect(t.logs.some((l) => l.level === 40 && /needs restart: listen.port/.test(l.msg))).toBe(true);
    // The running values stay; the rest applied; requests still reach the real upstream.
    expect(t.server.runtime.config.listen).toEqual(listen);
    expect(t.server.runtime.config.upstream.baseUrl).toBe(upstream.url);
    expect(t.server.runtime.config.unknownPaths).toBe('passthrough');
    expect((await status(t, t.keys.k!)).status).toBe(200);
  });

  it('reload() applies an edit when the file is not watched', async () => {
    let config!: ConfigJson;
    const t = await start(
      ({ key }) =>
        (config = {
          companies: {
            acme: { name: 'Acme', keys: [key({ id: 'k' })], allocations: [{ id: 'g', tokens: 1_000_000 }] },
          },
        }),
      false,
    );
    config.companies.acme.keys.push(t.key({ id: 'k2' }));
    t.write(config);
    expect((await status(t, t.keys.k2!)).status).toBe(401); // not watching
    const r = await t.server.reload();
    expect(r.status).toBe('applied');
    expect((await status(t, t.keys.k2!)).status).toBe(200);
  });
});

describe('tollgate serve', () => {
  it('reloads on SIGHUP (with --no-watch) and logs the change', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-serve-'));
    const file = join(dir, 'proxy.config.json');
    const keys: Record<string, string> = {};
    const mint = keyMint(keys);
    const config: ConfigJson = {
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { baseUrl: upstream.url },
      ledger: { path: './ledger.db' },
      companies: {
        acme: { name: 'Acme', keys: [mint.key({ id: 'k' })], allocations: [{ id: 'g', tokens: 1_000_000 }] },
      },
      prices: TEST_PRICES,
    };
    writeFileSync(file, JSON_TEXT(config));
    const child = spawn(process.execPath, [...CLI, 'serve', '--config', file, '--no-watch'], {
      env: { ...process.env, LOG_LEVEL: 'info', OPENAI_API_KEY: UPSTREAM_KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: Record<string, any>[] = [];
    const waiting: { test: (l: Record<string, any>) => boolean; resolve: (l: Record<string, any>) => void }[] = [];
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const line = JSON.parse(buffer.slice(0, nl)) as Record<string, any>;
        buffer = buffer.slice(nl + 1);
        lines.push(line);
        for (const w of [...waiting]) if (w.test(line)) waiting.splice(waiting.indexOf(w), 1), w.resolve(line);
      }
    });
    const logged = (test: (l: Record<string, any>) => boolean) =>
      new Promise<Record<string, any>>((resolve) => {
        const hit = lines.find(test);
        if (hit) resolve(hit);
        else waiting.push({ test, resolve });
      });
    try {
      const { url } = await logged((l) => l.msg === 'tollgate listening');
      const post = (key: string) =>
        fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body,
        }).then(async (r) => (await r.arrayBuffer(), r.status));
      expect(await post(keys.k!)).toBe(200);
      config.companies.acme.keys.push(mint.key({ id: 'k2' }));
      writeFileSync(file, JSON_TEXT(config));
      expect(await post(keys.k2!)).toBe(401);
      child.kill('SIGHUP');
      const reloaded = await logged((l) => /^config reloaded/.test(l.msg));
      expect(reloaded.changes).toEqual(['+ key acme/k2']);
      expect(await post(keys.k2!)).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
});

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
    let config!: ConfigJson;
    const t = await start(
      ({ key }) =>
        (config = {
          companies: {
            acme: {
              name: 'Acme',
              keys: [key({ id: 'k' })],
              allocations: [
                { id: 'acme-q4', tokens: 1_000_000 },
                { id: 'acme-usd', usd: 25 },
              ],
            },
          },
        }),
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

describe('tollgate keys create', () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, [...CLI, 'keys', 'create', ...args], {
      encoding: 'utf8',
      env: { ...process.env, LOG_LEVEL: 'silent' },
      timeout: 20_000,
    });
  const sample = () =>
    JSON.parse(readFileSync(join(import.meta.dirname, '../proxy.config.json'), 'utf8')) as ConfigJson;

  it('--operator prints an entry for "operators"; --role admin an admin company key; both validate', () => {
    const op = run(['--operator', '--id', 'ops']);
    expect(op.status).toBe(0);
    expect(op.stdout).toContain('Add this entry to "operators" in proxy.config.json:');
    const opEntry = JSON.parse(op.stdout.slice(op.stdout.indexOf('{'))) as Record<string, unknown>;
    const admin = run(['--company', 'acme', '--id', 'demo-admin', '--role', 'admin']);
    expect(admin.status).toBe(0);
    const adminEntry = JSON.parse(admin.stdout.slice(admin.stdout.indexOf('{'))) as Record<string, unknown>;
    expect(adminEntry.role).toBe('admin');
    const c = sample();
    c.operators = [opEntry];
    c.companies.acme.keys.push(adminEntry);
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-keys-'));
    writeFileSync(join(dir, 'c.json'), JSON_TEXT(c));
    const check = spawnSync(
      process.execPath,
      [...CLI, 'config', 'check', join(dir, 'c.json'), '--against', join(import.meta.dirname, '../proxy.config.json')],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(check.stderr).toBe('');
    expect(check.stdout).toContain('  + key acme/demo-admin\n  + operator ops\n');
  });

  it('refuses neither or both of --company and --operator, and a bad role', () => {
    expect(run(['--id', 'x']).status).toBe(1);
    expect(run(['--id', 'x', '--company', 'acme', '--operator']).status).toBe(1);
    const bad = run(['--id', 'x', '--company', 'acme', '--role', 'owner']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('--role: expected member or admin');
  });
});

describe('the JSON Schema', () => {
  it('is committed as generated from the zod schema (run `npm run config:schema` after changing src/config/schema.ts)', () => {
    const committed = readFileSync(join(import.meta.dirname, '../proxy.config.schema.json'), 'utf8');
    expect(committed).toBe(renderConfigJsonSchema());
  });

  it('is referenced by the sample config, and describes its fields with defaults optional', () => {
    const sample = JSON.parse(readFileSync(join(import.meta.dirname, '../proxy.config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(sample.$schema).toBe('./proxy.config.schema.json');
    const schema = JSON.parse(renderConfigJsonSchema()) as { required: string[]; properties: Record<string, any> };
    expect(schema.required).toEqual(['companies']);
    for (const field of Object.keys(sample)) expect(schema.properties).toHaveProperty([field]);
    expect(schema.properties.operators.items.required).toEqual(['id', 'sha256', 'prefix']);
    expect(schema.properties.listen.properties.port).toMatchObject({ type: 'integer', default: 8787 });
  });
});
