import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JSON_TEXT, keyMint, type ConfigJson } from './support/config-file.js';
import { TEST_PRICES, UPSTREAM_KEY } from './support/harness.js';
import { body, CLI, send, startCompanies, status, upstream, useReloadWorld } from './support/reload-world.js';

/** Hot reload of proxy.config.json: on a file change, on `reload()`, and on SIGHUP to `tollgate serve`. */
useReloadWorld();

describe('config reload', () => {
  it('swaps the config under load with zero failed requests: a new key works, a revoked key stops, a new grant counts', async () => {
    const { t, config } = await startCompanies({
      acme: { keys: ['steady'], allocations: [{ id: 'g1', tokens: 10_000_000 }] },
    });
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
    const { t, config } = await startCompanies({
      acme: { keys: ['acme-key'], allocations: [{ id: 'acme-grant', tokens: 1_000_000 }] },
      globex: { keys: ['globex-key'], allocations: [{ id: 'globex-grant', tokens: 1_000_000 }] },
    });
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
    const { t, config } = await startCompanies({
      acme: { keys: ['k'], allocations: [{ id: 'g', tokens: 1_000_000 }] },
    });
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
    const { t, config } = await startCompanies(
      { acme: { keys: ['k'], allocations: [{ id: 'g', tokens: 1_000_000 }] } },
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
