import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mintKey } from '../src/auth/api-key.js';
import { verifyLedger } from '../src/ledger/sqlite/verify.js';
import { exited, serveChild } from './support/child.js';
import { startFakeRealtime, type FakeRealtime } from './support/fake-realtime.js';
import { freePort } from './support/ports.js';

/**
 * A Realtime session whose proxy is SIGKILLed mid-response: at the next start its rows left `held`
 * (the response's lease) are resolved like any other open hold, and every invariant holds.
 */
let fake: FakeRealtime;
let dir: string;
beforeAll(async () => {
  fake = await startFakeRealtime();
  dir = mkdtempSync(join(tmpdir(), 'tollgate-rt-crash-'));
});
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

it('resolves the holds of a session cut by kill -9 at the next start', async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const key = mintKey();
  const ledger = join(dir, 'ledger.db');
  const configFile = join(dir, 'proxy.config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      listen: { host: '127.0.0.1', port },
      upstream: { baseUrl: fake.url },
      ledger: { path: ledger },
      companies: {
        acme: {
          name: 'acme',
          keys: [{ id: 'k', sha256: key.sha256, prefix: key.prefix }],
          allocations: [{ id: 'g', tokens: 1_000_000 }],
        },
      },
      prices: { 'gpt-realtime-test': { input: 4, output: 16, source: 'test', date: '2026-11-30' } },
    }),
  );
  fake.script.push({
    text: 'never finished',
    usage: { input_tokens: 1, output_tokens: 1, total_tokens: 2 },
    hold: true,
  });
  let child = await serveChild(configFile, url);
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/realtime?model=gpt-realtime-test`, {
    headers: { authorization: `Bearer ${key.key}` },
  });
  const types: string[] = [];
  ws.on('message', (d) => types.push((JSON.parse(d.toString()) as { type: string }).type));
  ws.on('error', () => undefined);
  await new Promise<void>((r) => ws.once('open', () => r()));
  ws.send(JSON.stringify({ type: 'response.create' }));
  for (let i = 0; i < 1000 && !types.includes('response.output_text.delta'); i++)
    await new Promise((r) => setTimeout(r, 5));
  expect(types).toContain('response.output_text.delta');
  child.kill('SIGKILL');
  await exited(child);

  const before = new Database(ledger, { readonly: true });
  expect(
    (
      before
        .prepare("SELECT COUNT(*) AS n FROM requests WHERE status = 'held' AND endpoint = '/v1/realtime'")
        .get() as { n: number }
    ).n,
  ).toBe(1);
  before.close();

  child = await serveChild(configFile, url);
  child.kill('SIGTERM');
  await exited(child);
  const db = new Database(ledger, { readonly: true });
  try {
    expect(db.prepare("SELECT status, error_code FROM requests WHERE endpoint = '/v1/realtime'").all()).toEqual([
      { status: 'interrupted', error_code: 'interrupted' },
    ]);
    expect(db.prepare("SELECT held FROM grants WHERE id = 'g'").get()).toEqual({ held: 0 });
    expect(verifyLedger(db).filter((f) => f.severity === 'error')).toEqual([]);
  } finally {
    db.close();
  }
}, 60_000);
