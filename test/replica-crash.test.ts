import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintKey } from '../src/auth/api-key.js';
import { FakeUpstream } from './support/fake-upstream.js';
import { loadRecordings } from './support/fixtures.js';
import { TEST_PRICES, UPSTREAM_KEY } from './support/harness.js';
import { createDatabase, dropDatabase } from './support/postgres.js';
import { waitUntil } from './support/wait.js';

/**
 * Crash of one replica: two `tollgate serve` processes on one Postgres ledger; one is SIGKILLed
 * while requests it forwarded are still upstream. The other keeps serving, resolves the dead one's
 * holds once its heartbeat lapses (exactly once, as `interrupted`), and every request that reached
 * the upstream has exactly one row.
 */
const recordings = new Map(loadRecordings().map((r) => [r.name, r]));
const chat = recordings.get('chat-nonstream-01')!;
const CLI = join(import.meta.dirname, '../src/cli.ts');
const LAPSE_MS = 1_200;

let upstream: FakeUpstream;
let db: { name: string; url: string };
let dir: string;
let key: string;
const children: ChildProcess[] = [];

/** Starts `tollgate serve` as a child process; resolves with its URL once it logs that it listens. */
function serve(config: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'serve', '-c', config, '--no-watch'], {
    env: { ...process.env, OPENAI_API_KEY: UPSTREAM_KEY, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
      if (m) resolve({ child, url: m[1]! });
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => reject(new Error(`tollgate exited with ${code} before listening: ${out}`)));
  });
}

beforeAll(async () => {
  upstream = await new FakeUpstream(recordings).start();
  db = await createDatabase();
  dir = mkdtempSync(join(tmpdir(), 'tollgate-crash-'));
  const minted = mintKey();
  key = minted.key;
  writeFileSync(
    join(dir, 'proxy.config.json'),
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { baseUrl: upstream.url },
      ledger: { url: db.url, lapseMs: LAPSE_MS },
      admission: { interruptedPolicy: 'charge_prompt' },
      companies: {
        acme: {
          name: 'acme',
          allocations: [{ id: 'big', tokens: 10_000_000 }],
          keys: [{ id: 'acme-key', sha256: minted.sha256, prefix: minted.prefix }],
        },
      },
      prices: TEST_PRICES,
    }),
  );
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await upstream?.close();
  if (db) await dropDatabase(db.name);
  rmSync(dir, { recursive: true, force: true });
});

describe('a replica killed under load', () => {
  it("the survivor keeps serving and resolves the dead one's holds, once; every forwarded request has one row", {
    timeout: 120_000,
  }, async () => {
    const config = join(dir, 'proxy.config.json');
    const [a, b] = await Promise.all([serve(config), serve(config)]);
    const client = (url: string) => new OpenAI({ baseURL: `${url}/v1`, apiKey: key, maxRetries: 0 });
    const send = (url: string) =>
      client(url).chat.completions.create(chat.request.body as never, { headers: { 'x-test-recording': chat.name } });

    // Warm both, then hold 8 of A's requests upstream (slow upstream) and kill A mid-flight.
    await Promise.all([send(a.url), send(b.url)]);
    upstream.delayMs = 2_000;
    const before = upstream.received.length;
    const doomed = Array.from({ length: 8 }, () =>
      send(a.url).then(
        () => 'answered',
        () => 'cut',
      ),
    );
    await waitUntil(() => upstream.received.length >= before + 8, {
      timeoutMs: 20_000,
      what: "A's requests to reach the upstream",
    });
    a.child.kill('SIGKILL');
    expect(await Promise.all(doomed)).toEqual(Array(8).fill('cut'));

    // B keeps serving.
    upstream.delayMs = 3;
    const after = await Promise.all(Array.from({ length: 20 }, () => send(b.url)));
    expect(after).toHaveLength(20);

    const reader = new pg.Client({ connectionString: db.url });
    await reader.connect();
    try {
      await waitUntil(
        async () =>
          (await reader.query("SELECT count(*)::int AS n FROM requests WHERE status = 'held'")).rows[0].n === 0,
        { timeoutMs: 20_000, what: "the survivor to resolve the dead replica's holds" },
      );
      const rows = (
        await reader.query(
          'SELECT id, status, instance_id, forwarded, error_code, metered_tokens::int AS metered FROM requests',
        )
      ).rows as {
        id: string;
        status: string;
        instance_id: string;
        forwarded: boolean | null;
        error_code: string | null;
        metered: number;
      }[];
      const byId = new Map(rows.map((r) => [r.id, r]));
      // Every request that reached the upstream has exactly one row (ids are the primary key).
      for (const r of upstream.received) expect(byId.has(String(r.headers['x-client-request-id']))).toBe(true);
      expect(rows).toHaveLength(upstream.received.length);
      const interrupted = rows.filter((r) => r.status === 'interrupted');
      expect(interrupted).toHaveLength(8);
      expect(new Set(interrupted.map((r) => r.instance_id)).size).toBe(1);
      // Billed at most once: by its counted prompt (charge_prompt) when its `forwarded` mark was
      // durable before the kill, else nothing (the mark is written after the first byte went
      // upstream; docs/ledger.md, "Crashes"). Never twice.
      const debits = (
        await reader.query(
          'SELECT request_id, count(*)::int AS n FROM debits WHERE request_id = ANY($1) GROUP BY request_id',
          [interrupted.map((r) => r.id)],
        )
      ).rows as { request_id: string; n: number }[];
      expect(debits.every((d) => d.n === 1)).toBe(true);
      const marked = interrupted.filter((r) => r.forwarded !== false).map((r) => r.id);
      expect(debits.map((d) => d.request_id).sort()).toEqual(marked.sort());
      for (const r of interrupted.filter((x) => x.forwarded === false))
        expect(r).toMatchObject({ error_code: 'interrupted_before_upstream', metered: 0 });
      expect(rows.filter((r) => r.status === 'settled')).toHaveLength(rows.length - 8);
    } finally {
      await reader.end();
    }
    b.child.kill('SIGTERM');
  });
});
