import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashKey } from '../src/auth/api-key.js';
import { ConfigError, loadConfig, parseConfig } from '../src/config/load.js';

/** The config's validation and the CLI commands an admin runs. */
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli.ts')];

function tollgate(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [...CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, LOG_LEVEL: 'silent', ...env },
    timeout: 20_000,
  });
}

const sample = () =>
  JSON.parse(readFileSync(join(import.meta.dirname, '../proxy.config.json'), 'utf8')) as Record<string, any>;

describe('config validation', () => {
  it('accepts the committed sample config', () => {
    const config = loadConfig(join(import.meta.dirname, '../proxy.config.json'));
    expect(config.companies.acme?.allocations.map((a) => a.id)).toEqual(['acme-2026-q4', 'acme-standing']);
    expect(config.companies.acme?.keys[0]?.expiresAt).toEqual(new Date('2027-06-30T00:00:00Z'));
  });

  it.each([
    [
      'a malformed key hash',
      (c: any) => (c.companies.acme.keys[0].sha256 = 'abc'),
      'companies.acme.keys.0.sha256: expected the lowercase hex SHA-256',
    ],
    [
      'a negative allocation',
      (c: any) => (c.companies.acme.allocations[0].tokens = -5),
      'companies.acme.allocations.0.tokens',
    ],
    [
      'an instant without offset',
      (c: any) => (c.companies.acme.allocations[0].expiresAt = '2027-01-01'),
      'companies.acme.allocations.0.expiresAt: expected an ISO 8601 instant',
    ],
    ['an unknown field', (c: any) => (c.upstream.baseURL = 'x'), 'upstream: Unrecognized key: "baseURL"'],
    [
      'a price with 7 decimals',
      (c: any) => (c.prices['gpt-4o'] = { input: 0.1234567, output: 1, source: 'test', date: '2026-01-01' }),
      'prices.gpt-4o.input: expected at most 6 decimal places',
    ],
    [
      'a duplicate allocation id',
      (c: any) => c.companies.acme.allocations.push({ id: 'acme-standing', tokens: 1 }),
      'companies.acme.allocations.2.id: duplicate allocation id',
    ],
    ['a port out of range', (c: any) => (c.listen.port = 70000), 'listen.port'],
  ])('refuses %s, naming the JSON path', (_case, edit, message) => {
    const c = sample();
    edit(c);
    expect(() => parseConfig(c)).toThrow(ConfigError);
    try {
      parseConfig(c);
    } catch (err) {
      expect((err as ConfigError).issues.join('\n')).toContain(message);
    }
  });
});

describe('tollgate serve', () => {
  it('exits non-zero naming the offending path when the config is invalid', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-cli-'));
    const c = sample();
    c.companies.acme.keys[0].prefix = 'x';
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(c));
    const viaFlag = tollgate(['serve', '--config', join(dir, 'bad.json')]);
    expect(viaFlag.status).toBe(1);
    expect(viaFlag.stderr).toContain('companies.acme.keys.0.prefix');
    const viaEnv = tollgate(['serve'], { TOLLGATE_CONFIG: join(dir, 'missing.json') });
    expect(viaEnv.status).toBe(1);
    expect(viaEnv.stderr).toContain(`invalid config ${join(dir, 'missing.json')}`);
  });

  it('refuses a file that is not JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-cli-'));
    writeFileSync(join(dir, 'broken.json'), '{ "listen": ');
    const r = tollgate(['serve', '--config', join(dir, 'broken.json')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('not valid JSON');
  });
});

describe('tollgate keys create', () => {
  it('prints the key once and a config entry holding only its hash and prefix', () => {
    const r = tollgate([
      'keys',
      'create',
      '--company',
      'acme',
      '--id',
      'acme-prod',
      '--expires',
      '2027-01-01T00:00:00Z',
    ]);
    expect(r.status).toBe(0);
    const key = /^\s+(sk-tg-[A-Za-z0-9_-]{43})$/m.exec(r.stdout)?.[1];
    expect(key).toBeDefined();
    const entry = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as Record<string, unknown>;
    expect(entry).toEqual({
      id: 'acme-prod',
      sha256: hashKey(key!),
      prefix: key!.slice(0, 10),
      expiresAt: '2027-01-01T00:00:00.000Z',
      revoked: false,
    });
    expect(r.stdout.split(key!).length - 1).toBe(1);
    // The entry is valid config as printed.
    const c = sample();
    c.companies.acme.keys.push(entry);
    expect(() => parseConfig(c)).not.toThrow();
  });
});

describe('tollgate keys create: a company that exists, and --write', () => {
  it('refuses a company the config does not have, naming the ones it has', () => {
    const r = tollgate(['keys', 'create', '--company', 'initech', '--id', 'x']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no company "initech" in');
    expect(r.stderr).toContain('(companies: acme)');
    expect(r.stdout).toBe('');
  });

  it('--write adds the entry to the config file, which then accepts the key; a duplicate id is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-cli-'));
    const file = join(dir, 'proxy.config.json');
    writeFileSync(file, JSON.stringify(sample()));
    const r = tollgate([
      'keys',
      'create',
      '--company',
      'acme',
      '--id',
      'acme-web',
      '--role',
      'admin',
      '--write',
      '-c',
      file,
    ]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`Added to companies.acme.keys in ${file}`);
    const key = /^\s+(sk-tg-[A-Za-z0-9_-]{43})$/m.exec(r.stdout)?.[1];
    const written = loadConfig(file).companies.acme!.keys.find((k) => k.id === 'acme-web');
    expect(written).toMatchObject({ sha256: hashKey(key!), role: 'admin', revoked: false });
    const again = tollgate(['keys', 'create', '--company', 'acme', '--id', 'acme-web', '--write', '-c', file]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('a key with id "acme-web" is already in');
    expect(loadConfig(file).companies.acme!.keys.filter((k) => k.id === 'acme-web')).toHaveLength(1);
  });
});

describe('CLI output into a closed pipe', () => {
  it('exits quietly (no EPIPE stack trace) when the reader stops early', () => {
    const r = spawnSync(
      'sh',
      [
        '-c',
        `node ${CLI.join(' ')} --help | head -c 1 >/dev/null; node ${CLI.join(' ')} keys create --company acme --id p | true`,
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(r.stderr).not.toContain('EPIPE');
    expect(r.stderr).toBe('');
  });
});

describe('tollgate keys revoke', () => {
  it('marks the key revoked in the config file, which then refuses it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-cli-'));
    const file = join(dir, 'proxy.config.json');
    writeFileSync(file, JSON.stringify(sample()));
    const r = tollgate(['keys', 'revoke', '--id', 'demo-key', '-c', file]);
    expect(r.status).toBe(0);
    expect(loadConfig(file).companies.acme?.keys[0]).toMatchObject({ id: 'demo-key', revoked: true });
    const missing = tollgate(['keys', 'revoke', '--id', 'nope', '-c', file]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('no key with id "nope"');
  });
});

describe('tollgate mock-upstream', () => {
  it('runs the mock OpenAI upstream alone and prints the line that points tollgate at it', async () => {
    const child = spawn(process.execPath, [...CLI, 'mock-upstream', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed within 20 s: ${out}`)), 20_000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
          if (m && out.includes('Stop with Ctrl-C')) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      expect(out).toContain(`serve --upstream ${url}`);
      const models = await fetch(`${url}/v1/models`, { headers: { authorization: 'Bearer anything' } });
      expect(models.status).toBe(200);
      expect(((await models.json()) as { object: string }).object).toBe('list');
    } finally {
      child.kill('SIGTERM');
    }
  }, 60_000);
});

describe('tollgate dashboard link', () => {
  it('refuses without the session secret (a link the server could not verify), and an unknown company', () => {
    const noSecret = tollgate(['dashboard', 'link', '--company', 'acme'], { TOLLGATE_SESSION_SECRET: '' });
    expect(noSecret.status).toBe(1);
    expect(noSecret.stderr).toContain('TOLLGATE_SESSION_SECRET is not set');
    const unknown = tollgate(['dashboard', 'link', '--company', 'initech'], {
      TOLLGATE_SESSION_SECRET: 'x'.repeat(32),
    });
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('no company "initech"');
  }, 60_000);
});
