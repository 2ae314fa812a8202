import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteLedger } from '../src/ledger/sqlite/index.js';
import { estimateRequest } from '../src/metering/estimate.js';
import { childConfig, exited, kill9, type ChildConfig } from './support/child.js';
import { FakeUpstream } from './support/fake-upstream.js';
import { loadRecordings } from './support/fixtures.js';
import { TEST_PRICES } from './support/harness.js';
import { waitUntil } from './support/wait.js';

/**
 * `tollgate serve --workers N` on a SQLite ledger: the primary owns the file and writes it for the
 * workers. Both workers serve and write their own rows; racing admissions across workers never
 * overspend a grant beyond one estimate; a rate limit holds once across workers; kill -9 of a worker mid-stream leaves its rows resolved
 * once by its replacement while the other worker's streams finish; kill -9 of the primary loses
 * nothing and a restart resolves everything.
 */
const recordings = new Map(loadRecordings().map((r) => [r.name, r]));
const chat = recordings.get('chat-nonstream-01')!; // usage: 22 tokens
const stream = recordings.get('chat-stream-usage-02')!;
const CLI = join(import.meta.dirname, '../src/cli.ts');

let upstream: FakeUpstream;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  upstream = await new FakeUpstream(recordings).start();
  dir = mkdtempSync(join(tmpdir(), 'tollgate-sqlite-workers-'));
});
afterEach(async () => {
  for (const c of children.splice(0)) {
    for (const pid of workerPids(c)) process.kill(pid, 'SIGKILL');
    if (c.exitCode === null && c.signalCode === null) await kill9(c);
  }
  upstream.received.length = 0;
  upstream.delayMs = 3;
});
afterAll(async () => {
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The pids of the workers `primary` forked (its child processes). */
function workerPids(primary: ChildProcess): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(primary.pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
}

/** `serve --workers 2` on `c`; resolves once `listening` workers have said they listen, with the log so far. */
async function serveWorkers(c: ChildConfig, listening = 2): Promise<{ child: ChildProcess; log: () => string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CLI, 'serve', '-c', c.configFile, '--workers', '2', '--no-watch'],
    {
      env: { ...process.env, OPENAI_API_KEY: 'sk-upstream-child', LOG_LEVEL: 'info', TOLLGATE_DATABASE_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await untilListening(() => out, child, listening);
  return { child, log: () => out };
}

async function untilListening(log: () => string, child: ChildProcess, n: number): Promise<void> {
  await waitUntil(
    () => {
      if (child.exitCode !== null) throw new Error(`tollgate exited with ${child.exitCode}: ${log()}`);
      return (log().match(/tollgate listening/g) ?? []).length >= n;
    },
    { timeoutMs: 60_000, intervalMs: 50, what: `${n} workers to listen` },
  );
}

const held = (c: ChildConfig) => Number(c.rows("SELECT count(*) AS n FROM requests WHERE status = 'held'")[0]!.n);

async function verified(c: ChildConfig): Promise<void> {
  const ledger = openSqliteLedger({ path: c.ledger, readonly: true });
  try {
    expect((await ledger.reader.verify()).filter((f) => f.severity === 'error')).toEqual([]);
  } finally {
    await ledger.close();
  }
}

/** A config on a fresh ledger file `<name>.db`, with acme's fields `acme` (its allocations, limits). */
const setup = (name: string, acme: Record<string, unknown>) =>
  childConfig(dir, name, { baseUrl: upstream.url }, acme, { prices: TEST_PRICES });

/** An SDK client on its own connections (`connection: close`: the primary spreads connections over the workers). */
const client = (c: ChildConfig) => new OpenAI({ baseURL: `${c.url}/v1`, apiKey: c.key.key, maxRetries: 0 });
const spread = { connection: 'close' };

describe('tollgate serve --workers 2 on a SQLite ledger', () => {
  it('both workers serve and write their own rows; SIGTERM stops all cleanly', { timeout: 120_000 }, async () => {
    const c = await setup('two', { allocations: [{ id: 'big', tokens: 1e7 }] });
    const { child } = await serveWorkers(c);
    const sdk = client(c);
    const results = await Promise.all(
      Array.from({ length: 40 }, () =>
        sdk.chat.completions.create(chat.request.body as never, {
          headers: { 'x-test-recording': chat.name, ...spread },
        }),
      ),
    );
    expect(results).toHaveLength(40);
    await waitUntil(() => held(c) === 0, { timeoutMs: 10_000, what: 'every row to settle' });
    const rows = c.rows(
      "SELECT instance_id, count(*) AS n FROM requests WHERE status = 'settled' GROUP BY instance_id",
    );
    expect(rows.reduce((s, r) => s + Number(r.n), 0)).toBe(40);
    expect(rows).toHaveLength(2);
    child.kill('SIGTERM');
    await exited(child);
    expect(child.exitCode).toBe(0);
    await verified(c);
  });

  it('SIGHUP reloads the config in every worker: a grant added to the file admits on both', {
    timeout: 120_000,
  }, async () => {
    const c = await setup('reload', { allocations: [{ id: 'small', tokens: 1 }] });
    const { child, log } = await serveWorkers(c);
    const sdk = client(c);
    const once = () =>
      sdk.chat.completions.create(chat.request.body as never, {
        headers: { 'x-test-recording': chat.name, ...spread },
      });
    await expect(once()).rejects.toMatchObject({ status: 429, code: 'insufficient_quota' });
    const config = JSON.parse(readFileSync(c.configFile, 'utf8'));
    config.companies.acme.allocations = [
      { id: 'small', tokens: 1 },
      { id: 'more', tokens: 1e7 },
    ];
    writeFileSync(c.configFile, JSON.stringify(config));
    child.kill('SIGHUP');
    await waitUntil(() => (log().match(/config reloaded|reloaded the config/g) ?? []).length >= 2, {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: 'both workers to reload',
    });
    // Connections alternate between the workers: both admit now.
    const results = await Promise.all(Array.from({ length: 6 }, once));
    expect(results).toHaveLength(6);
    await waitUntil(() => held(c) === 0, { timeoutMs: 10_000, what: 'every row to settle' });
    expect(c.rows("SELECT DISTINCT instance_id FROM requests WHERE status = 'settled'")).toHaveLength(2);
  });

  it('racing admissions on two workers never take more than the grant plus one estimate', {
    timeout: 120_000,
  }, async () => {
    const GRANT = 2_000;
    const c = await setup('race', { allocations: [{ id: 'tight', tokens: GRANT }] });
    await serveWorkers(c);
    const body = { ...(chat.request.body as object), max_tokens: 14 };
    const hold = estimateRequest('/v1/chat/completions', 'gpt-3.5-turbo', body).promptTokens + 14;
    const sdk = client(c);
    const results: PromiseSettledResult<unknown>[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        for (let i = next++; i < 400; i = next++)
          results.push(
            ...(await Promise.allSettled([
              sdk.chat.completions.create(body as never, { headers: { 'x-test-recording': chat.name, ...spread } }),
            ])),
          );
      }),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    for (const r of results)
      if (r.status === 'rejected') expect(r.reason).toMatchObject({ status: 429, code: 'insufficient_quota' });
    await waitUntil(() => held(c) === 0, { timeoutMs: 10_000, what: 'every row to settle' });
    const rows = c.rows('SELECT instance_id, status, metered_tokens, hold_tokens FROM requests');
    expect(rows).toHaveLength(ok);
    expect(upstream.received).toHaveLength(ok);
    expect(new Set(rows.map((r) => r.instance_id)).size).toBe(2);
    const spent = rows.reduce((s, r) => s + Number(r.metered_tokens), 0);
    const excess = rows.reduce((s, r) => s + Math.max(0, Number(r.metered_tokens) - Number(r.hold_tokens)), 0);
    expect(spent).toBeLessThanOrEqual(GRANT + excess);
    expect(GRANT - spent).toBeLessThan(hold);
    const [grant] = c.rows("SELECT spent, held FROM grants WHERE id = 'tight'");
    expect(grant).toMatchObject({ spent, held: 0 });
    await verified(c);
  });

  it('a limit of 60 requests per minute holds once across the workers, not once per worker', {
    timeout: 120_000,
  }, async () => {
    const c = await setup('rpm', {
      allocations: [{ id: 'big', tokens: 1e7 }],
      limits: { key: { rateLimits: { requestsPerMinute: 60 } } },
    });
    await serveWorkers(c);
    const sdk = client(c);
    const started = Date.now();
    const results = await Promise.allSettled(
      Array.from({ length: 150 }, () =>
        sdk.chat.completions.create(chat.request.body as never, {
          headers: { 'x-test-recording': chat.name, ...spread },
        }),
      ),
    );
    // The bucket refills one request a second while the burst runs: at most that many more.
    const refilled = Math.ceil((Date.now() - started) / 1_000);
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    for (const r of results)
      if (r.status === 'rejected') expect(r.reason).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    expect(ok).toBeGreaterThanOrEqual(60);
    expect(ok).toBeLessThanOrEqual(60 + refilled);
    expect(refilled).toBeLessThan(60); // else the bound above says nothing
    await waitUntil(() => held(c) === 0, { timeoutMs: 10_000, what: 'every row to settle' });
    expect(c.rows('SELECT id FROM requests')).toHaveLength(ok);
  });

  it('kill -9 of a worker mid-stream: its rows are resolved once by its replacement, the other worker streams on', {
    timeout: 120_000,
  }, async () => {
    const c = await setup('worker-crash', { allocations: [{ id: 'big', tokens: 1e7 }] });
    const { child, log } = await serveWorkers(c);
    upstream.delayMs = 150; // SSE pieces 150 ms apart: the streams are still running when the worker dies
    const sdk = client(c);
    const STREAMS = 6;
    const firstChunks: number[] = [];
    const streams = Array.from({ length: STREAMS }, async (_, i) => {
      const s = await sdk.chat.completions.create({ ...(stream.request.body as object), stream: true } as never, {
        headers: { 'x-test-recording': stream.name, ...spread },
      });
      let chunks = 0;
      for await (const _chunk of s as unknown as AsyncIterable<unknown>) if (++chunks === 1) firstChunks.push(i);
      return chunks;
    });
    const settled = Promise.allSettled(streams);
    await waitUntil(() => firstChunks.length === STREAMS, { timeoutMs: 30_000, what: 'every stream to start' });
    const [victim] = workerPids(child);
    process.kill(victim!, 'SIGKILL');
    const outcomes = await settled;
    const broken = outcomes.filter((o) => o.status === 'rejected').length;
    const finished = outcomes.filter((o) => o.status === 'fulfilled').length;
    // The primary spreads connections over both workers in turn: some streams died with the victim, the others finished.
    expect(broken).toBeGreaterThan(0);
    expect(finished).toBeGreaterThan(0);
    await untilListening(log, child, 3); // the replacement
    await waitUntil(() => held(c) === 0, { timeoutMs: 20_000, what: 'the dead worker’s rows to be resolved' });
    const rows = c.rows('SELECT id, status, instance_id FROM requests');
    expect(rows).toHaveLength(STREAMS);
    expect(rows.filter((r) => r.status === 'interrupted')).toHaveLength(broken);
    expect(rows.filter((r) => r.status === 'settled')).toHaveLength(finished);
    // Every interrupted row was the dead worker's, and the survivor's rows are all settled.
    expect(new Set(rows.filter((r) => r.status === 'interrupted').map((r) => r.instance_id)).size).toBe(1);
    const ids = new Set(rows.map((r) => r.id));
    for (const r of upstream.received) expect(ids.has(String(r.headers['x-client-request-id']))).toBe(true);
    // The primary and the survivor keep serving.
    await expect(
      sdk.chat.completions.create(chat.request.body as never, {
        headers: { 'x-test-recording': chat.name, ...spread },
      }),
    ).resolves.toBeTruthy();
    child.kill('SIGTERM');
    await exited(child);
    await verified(c);
  });

  it('kill -9 of the primary mid-stream loses nothing: the workers stop, and a restart resolves every row', {
    timeout: 120_000,
  }, async () => {
    const c = await setup('primary-crash', { allocations: [{ id: 'big', tokens: 1e7 }] });
    const { child } = await serveWorkers(c);
    upstream.delayMs = 150;
    const sdk = client(c);
    let started = 0;
    const streams = Array.from({ length: 4 }, async () => {
      const s = await sdk.chat.completions.create({ ...(stream.request.body as object), stream: true } as never, {
        headers: { 'x-test-recording': stream.name, ...spread },
      });
      for await (const _chunk of s as unknown as AsyncIterable<unknown>) started++;
    });
    const settled = Promise.allSettled(streams);
    await waitUntil(() => started >= 4, { timeoutMs: 30_000, what: 'the streams to start' });
    const workers = workerPids(child);
    expect(workers).toHaveLength(2);
    await kill9(child);
    // Its workers see the channel close and stop at once.
    await waitUntil(() => workers.every((pid) => !alive(pid)), { timeoutMs: 10_000, what: 'the workers to stop' });
    await settled;
    expect(held(c)).toBeGreaterThan(0);
    const again = await serveWorkers(c);
    await waitUntil(() => held(c) === 0, { timeoutMs: 20_000, what: 'the restart to resolve every row' });
    const ids = new Set(c.rows('SELECT id FROM requests').map((r) => r.id));
    expect(upstream.received.length).toBeGreaterThan(0);
    for (const r of upstream.received) expect(ids.has(String(r.headers['x-client-request-id']))).toBe(true);
    again.child.kill('SIGTERM');
    await exited(again.child);
    expect(again.child.exitCode).toBe(0);
    await verified(c);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
