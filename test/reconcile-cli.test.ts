import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { reconcileCommand, type ReconcileOpts } from '../src/cli/reconcile.js';
import { openSqliteLedger } from '../src/ledger/sqlite/index.js';
import type { ReconciliationReport } from '../src/reconcile/report.js';
import { type FakeAdminApi, startFakeAdminApi } from './support/fake-admin-api.js';
import { ADMIN_KEY, openaiRecords, seedLedger } from './support/reconcile-fixture.js';

/** `tollgate reconcile` as an operator runs it: formats, exit codes, the threshold flag, --save, and errors on stderr. */
const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli.ts')];

/** Runs the CLI asynchronously (the fake Admin API answers from this process). */
function tollgate(args: string[], env: Record<string, string | undefined> = {}) {
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [...CLI, ...args], {
      env: { ...process.env, LOG_LEVEL: 'silent', OPENAI_ADMIN_KEY: ADMIN_KEY, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Runs the command in this process (for its refusals: no process to start), capturing what it writes and its exit code. */
async function inProcess(args: string[]) {
  const opts: Record<string, string> = { config: configFile, groupBy: 'day,model', format: 'table' };
  for (let i = 0; i < args.length; i += 2)
    opts[args[i]!.slice(2).replace(/-(\w)/g, (_, c: string) => c.toUpperCase())] = args[i + 1]!;
  const out = { stdout: '', stderr: '', exitCode: undefined as number | string | undefined };
  const write = (into: 'stdout' | 'stderr') => (chunk: string | Uint8Array) => ((out[into] += String(chunk)), true);
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation(write('stdout')),
    vi.spyOn(process.stderr, 'write').mockImplementation(write('stderr')),
  ];
  const before = process.exitCode;
  try {
    await reconcileCommand(opts as unknown as ReconcileOpts);
    out.exitCode = process.exitCode;
  } finally {
    for (const s of spies) s.mockRestore();
    process.exitCode = before;
  }
  return out;
}

let fake: FakeAdminApi;
let dir: string;
let configFile: string;
let ledgerFile: string;
const range = ['--from', '2026-11-20', '--to', '2026-11-22', '--now', '2026-11-22T12:00:00Z'];

beforeAll(async () => {
  fake = await startFakeAdminApi({
    adminKey: ADMIN_KEY,
    records: openaiRecords(),
    now: Date.parse('2026-11-23T00:00:00Z') / 1000,
  });
  dir = mkdtempSync(join(tmpdir(), 'tollgate-reconcile-cli-'));
  ledgerFile = join(dir, 'ledger.db');
  const ledger = openSqliteLedger({ path: ledgerFile, checkpointThread: false });
  await seedLedger(ledger);
  await ledger.close();
  configFile = join(dir, 'proxy.config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      ledger: { path: 'ledger.db' },
      companies: { acme: { name: 'Acme', keys: [], allocations: [{ id: 'acme-all', tokens: 1_000_000_000 }] } },
      reconciliation: { baseUrl: fake.url, upstreamKeys: { OPENAI_API_KEY: { apiKeyId: 'key_tg' } } },
    }),
  );
});
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('tollgate reconcile', () => {
  it('prints the drift as a table and exits 1 when it is beyond the threshold', async () => {
    const r = await tollgate(['reconcile', '-c', configFile, ...range]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/2026-11-20\s+gpt-4o-mini\s+drift, OVER\s+num_model_requests/);
    expect(r.stdout).toMatch(/output_tokens\s+700\s+693\s+7\s+\+1\.01%\s+</);
    expect(r.stdout).toMatch(/2026-11-20\s+drift\s+cost \(USD\)\s+\$1\.234567891\s+\$1\.234567888\s+\$0\.000000003/);
    expect(r.stdout).toMatch(
      /5 lines: 2 match, 1 drift, 0 unmatched, 1 only in the ledger, 1 only at OpenAI; 1 beyond the threshold\./,
    );
    expect(r.stdout + r.stderr).not.toContain(ADMIN_KEY);
  });

  it('exits 0 within a looser --threshold, and prints JSON', async () => {
    const loose = await tollgate(['reconcile', '-c', configFile, ...range, '--threshold', '2%', '--format', 'json']);
    expect(loose.status).toBe(0);
    const report = JSON.parse(loose.stdout) as ReconciliationReport;
    expect(report).toMatchObject({
      object: 'tollgate.reconciliation',
      from: '2026-11-20',
      to: '2026-11-22',
      threshold: { percent: 2 },
    });
    expect(report.summary.over).toBe(0);
  });

  it('prints CSV, one record per line and measure, and keeps the result in the ledger with --save', async () => {
    const r = await tollgate([
      'reconcile',
      '-c',
      configFile,
      ...range,
      '--save',
      '--format',
      'csv',
      '--group-by',
      'day',
    ]);
    expect(r.status).toBe(1);
    const records = r.stdout.split('\r\n');
    expect(records[0]).toBe(
      'section,day,model,project_id,api_key_id,status,provisional,over,measure,ledger,openai,drift,drift_percent,judged',
    );
    expect(records).toContain('line,2026-11-20,,,,drift,false,true,output_tokens,700,693,7,1.01,true');
    expect(records).toContain('line,2026-11-20,,,,drift,false,false,cost_nano_usd,1234567891,1234567888,3,0,true');
    expect(records).toContain('outside,,,proj_tg,key_other,outside,false,false,num_model_requests,,30,,,false');
    const ledger = openSqliteLedger({ path: ledgerFile, readonly: true });
    try {
      const [run] = await ledger.reconciliations.recent(1);
      expect(run).toMatchObject({
        trigger: 'cli',
        status: 'drift',
        fromDay: '2026-11-20',
        toDay: '2026-11-22',
        error: null,
      });
      expect(run!.id).toMatch(/^rec_[0-9a-f]{22}$/);
      expect((JSON.parse(run!.report!) as ReconciliationReport).groupBy).toEqual(['day']);
    } finally {
      await ledger.close();
    }
  });

  it.each([
    [['--group-by', 'day,region'], '--group-by: expected some of day, model, project, key, got "region"'],
    [['--format', 'xml'], '--format: expected table, csv, json, got "xml"'],
    [['--threshold', 'lots'], '--threshold: expected a percentage from 0 to 100'],
    [['--from', '2026-11-23'], '--from (2026-11-23) is after --to (2026-11-22)'],
    [['--group-by', 'day,day'], 'names a dimension twice'],
  ])('refuses %j with exit 2 and one line on stderr', async (args, message) => {
    const r = await inProcess([...range, ...args]);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('exits 2 without an admin key, and names the permission when OpenAI refuses the key', async () => {
    const none = await tollgate(['reconcile', '-c', configFile, ...range], { OPENAI_ADMIN_KEY: undefined });
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/the admin key is not set: export OPENAI_ADMIN_KEY=sk-admin-…/);
    const projectKey = 'sk-proj-AAAAbbbbCCCCddddEEEE';
    process.env.OPENAI_ADMIN_KEY = projectKey;
    const refused = await inProcess(range).finally(() => delete process.env.OPENAI_ADMIN_KEY);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/OpenAI refused the admin key in \$OPENAI_ADMIN_KEY \(HTTP 401/);
    expect(refused.stderr).toMatch(/read access to Usage/);
    expect(refused.stderr).not.toContain('AAAAbbbb');
  });
});
