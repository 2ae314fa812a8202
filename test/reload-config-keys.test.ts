import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JSON_TEXT, type ConfigJson } from './support/config-file.js';
import { CLI } from './support/reload-world.js';

/** `tollgate keys create`: the config entries it prints for operator and company keys, which validate. */

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
