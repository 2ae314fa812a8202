import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintKey } from '../src/auth/api-key.js';
import { parseConfig } from '../src/config/load.js';
import { createLogger } from '../src/log.js';
import { startServer, type RunningServer } from '../src/server.js';
import { type Answered, startLoad } from './support/fault-load.js';
import { FakeUpstream } from './support/fake-upstream.js';
import { loadRecordings } from './support/fixtures.js';
import { TEST_PRICES, UPSTREAM_KEY } from './support/harness.js';
import { type OwnPostgres, startOwnPostgres } from './support/own-postgres.js';
import { TcpRelay } from './support/tcp-relay.js';
import { waitUntil } from './support/wait.js';

/**
 * Postgres failing under two replicas and a bounded load, on a cluster of this file's own (never
 * the suite's shared one): stopped (fast and immediate) for 2 s and for 6 s, cut off by a relay
 * that holds every byte for 20 s, a replica cut off past its lapse while another watches, and a
 * server that accepts connections and never answers. Every request is answered within its budget
 * (200, or a 5xx with retry-after, never a 4xx); nothing reaches the upstream without a row; no row
 * is left held 5 s after Postgres is back; no live row is billed as interrupted; `ledger verify`
 * finds nothing.
 */
const recordings = new Map(loadRecordings().map((r) => [r.name, r]));
const chat = recordings.get('chat-nonstream-01')!;
const TIMEOUTS = {
  connectMs: 1_500,
  statementMs: 3_000,
  idleInTransactionMs: 10_000,
  admitMs: 1_500,
  settleMs: 1_500,
  readyMs: 500,
};
/** A request's budget: its admission and its settlement bounded, the upstream's few ms, and room for a busy machine. */
const BUDGET_MS = TIMEOUTS.admitMs + TIMEOUTS.settleMs + 3_000;

let cluster: OwnPostgres;
let upstream: FakeUpstream;
let dir: string;
const key = mintKey();
beforeAll(async () => {
  cluster = await startOwnPostgres();
  upstream = await new FakeUpstream(recordings).start();
  upstream.delayMs = 20;
  dir = mkdtempSync(join(tmpdir(), 'tollgate-faults-'));
}, 60_000);
afterAll(async () => {
  await upstream?.close();
  cluster?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function createDb(name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return cluster.url.replace(/\/postgres$/, `/${name}`);
}

/** Two replicas in this process, each on the ledger at `urls[i]`, with this file's short bounds. */
async function replicas(urls: string[], lapseMs?: number): Promise<RunningServer[]> {
  const servers: RunningServer[] = [];
  for (const [i, url] of urls.entries()) {
    const config = parseConfig({
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { baseUrl: upstream.url },
      ledger: { url, timeouts: TIMEOUTS, spool: { dir: join(dir, `spool-${i}`) }, ...(lapseMs ? { lapseMs } : {}) },
      companies: {
        acme: {
          name: 'acme',
          allocations: [{ id: 'big', tokens: 100_000_000 }],
          keys: [{ id: 'acme-key', sha256: key.sha256, prefix: key.prefix }],
        },
      },
      prices: TEST_PRICES,
    });
    servers.push(await startServer(config, { upstreamKey: UPSTREAM_KEY, log: createLogger('silent') }));
  }
  return servers;
}

/** The test's own reads of a ledger: a pool, so that Postgres going away fails a read, not the process. */
function readerOf(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => {});
  return pool;
}

const target = (servers: RunningServer[]) => ({
  origins: servers.map((s) => s.url),
  headers: { authorization: `Bearer ${key.key}`, 'x-test-recording': chat.name },
  body: JSON.stringify(chat.request.body),
});

/** The checks every fault ends with, once Postgres is back (`backAt`, performance.now() ms). */
async function afterRecovery(db: pg.Pool, answers: Answered[], backAt: number, forwardedBefore: number) {
  // Every request answered within its budget: 200, or a 5xx with retry-after; never a 4xx or no answer.
  expect(answers.filter((a) => a.failed)).toEqual([]);
  for (const a of answers) {
    expect(a.ms).toBeLessThan(BUDGET_MS);
    if (a.status !== 200) {
      expect(a).toMatchObject({ status: 503, code: 'ledger_unavailable' });
      expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
    }
  }
  // No row left held 5 s after Postgres is back.
  await waitUntil(
    async () => (await db.query("SELECT count(*)::int AS n FROM requests WHERE status = 'held'")).rows[0].n === 0,
    { timeoutMs: Math.max(100, backAt + 5_000 - performance.now()), intervalMs: 50, what: 'no held rows' },
  );
  const rows = new Map(
    (
      await db.query<{ id: string; status: string; usage_source: string | null; error_code: string | null }>(
        'SELECT id, status, usage_source, error_code FROM requests',
      )
    ).rows.map((r) => [r.id, r]),
  );
  // Nothing reached the upstream without its row.
  for (const r of upstream.received.slice(forwardedBefore))
    expect(rows.has(String(r.headers['x-client-request-id']))).toBe(true);
  // Every answered request was billed on what the upstream reported; none as interrupted.
  for (const a of answers.filter((x) => x.status === 200))
    expect(rows.get(a.requestId!)).toMatchObject({ status: 'settled', usage_source: 'upstream' });
  expect([...rows.values()].filter((r) => r.status === 'interrupted')).toEqual([]);
}

async function verifyClean(server: RunningServer) {
  expect((await server.runtime.ledger.reader.verify()).filter((f) => f.severity === 'error')).toEqual([]);
}

describe('Postgres failing under two replicas', () => {
  let servers: RunningServer[];
  let relay: TcpRelay;
  let db: pg.Pool;
  beforeAll(async () => {
    const url = await createDb('faults');
    relay = await new TcpRelay(cluster.port).start();
    const viaRelay = url.replace(`:${cluster.port}/`, `:${relay.port}/`);
    servers = await replicas([viaRelay, viaRelay]);
    db = readerOf(url);
  }, 60_000);
  afterAll(async () => {
    await db?.end();
    for (const s of servers ?? []) await s.close(500);
    await relay?.close();
  });

  /** Runs the load, breaks Postgres after a moment, mends it `forMs` later, and checks the aftermath. */
  async function underLoad(brk: () => Promise<void>, mend: () => Promise<void>, forMs: number) {
    const forwardedBefore = upstream.received.length;
    const load = startLoad(target(servers), { workers: 8, perWorkerRps: 10 });
    await waitUntil(() => load.answered.filter((a) => a.status === 200).length >= 10, {
      timeoutMs: 10_000,
      what: 'the load to be served',
    });
    await brk();
    const brokeAt = performance.now();
    // Readiness says so within its own deadline.
    await waitUntil(
      async () => {
        const started = performance.now();
        const res = await fetch(`${servers[0]!.url}/readyz`);
        expect(performance.now() - started).toBeLessThan(TIMEOUTS.readyMs + 1_000);
        return res.status === 503;
      },
      { timeoutMs: 5_000, what: '/readyz to answer 503' },
    );
    await new Promise((r) => setTimeout(r, Math.max(0, brokeAt + forMs - performance.now())));
    await mend();
    const backAt = performance.now();
    await waitUntil(() => load.answered.slice(-8).every((a) => a.status === 200), {
      timeoutMs: 10_000,
      what: 'the replicas to serve again',
    });
    const answers = await load.stop();
    expect(answers.filter((a) => a.status === 503).length).toBeGreaterThan(0);
    await afterRecovery(db, answers, backAt, forwardedBefore);
    expect((await fetch(`${servers[1]!.url}/readyz`)).status).toBe(200);
    await verifyClean(servers[1]!);
  }

  for (const [mode, seconds] of [
    ['fast', 2],
    ['immediate', 2],
    ['fast', 6],
    ['immediate', 6],
  ] as const)
    it(`stopped (${mode}) for ${seconds} s`, { timeout: 60_000 }, async () => {
      await underLoad(
        () => cluster.stop(mode),
        () => cluster.start(),
        seconds * 1000,
      );
    });

  it('cut off for 20 s by a relay that holds every byte', { timeout: 90_000 }, async () => {
    await underLoad(
      async () => relay.hold(),
      async () => relay.release(),
      20_000,
    );
  });
});

describe('a replica cut off past its lapse while another watches', () => {
  it('is declared gone, stops admitting, registers again, and its late settlements land once', {
    timeout: 90_000,
  }, async () => {
    const LAPSE = 3_000;
    const url = await createDb('fencing');
    const relay = await new TcpRelay(cluster.port).start();
    const [a, b] = await replicas([url.replace(`:${cluster.port}/`, `:${relay.port}/`), url], LAPSE);
    const db = readerOf(url);
    try {
      const forwardedBefore = upstream.received.length;
      // B must have watched a whole lapse while connected before it may declare A gone.
      await new Promise((r) => setTimeout(r, LAPSE));
      upstream.delayMs = 800;
      const load = startLoad(target([a!]), { workers: 6, perWorkerRps: 4 });
      await waitUntil(() => upstream.received.length >= forwardedBefore + 6, { what: "A's requests upstream" });
      relay.hold();
      await waitUntil(
        async () =>
          (await db.query('SELECT count(*)::int AS n FROM requests WHERE interrupted_at IS NOT NULL')).rows[0].n > 0,
        { timeoutMs: 20_000, intervalMs: 100, what: "B to resolve A's rows as interrupted" },
      );
      relay.release();
      const backAt = performance.now();
      upstream.delayMs = 20;
      await waitUntil(() => load.answered.slice(-6).every((x) => x.status === 200), {
        timeoutMs: 15_000,
        what: 'A to serve again',
      });
      const answers = await load.stop();
      await afterRecovery(db, answers, backAt, forwardedBefore);
      // A was declared gone and came back under a new id; the rows B resolved were corrected by A's late settlements.
      const instances = (await db.query('SELECT id, stopped_at FROM instances')).rows;
      expect(instances.filter((i) => i.stopped_at !== null).length).toBeGreaterThanOrEqual(1);
      const late = (
        await db.query(
          "SELECT count(*)::int AS n FROM requests WHERE interrupted_at IS NOT NULL AND status = 'settled'",
        )
      ).rows[0].n;
      expect(late).toBeGreaterThan(0);
      await verifyClean(b!);
    } finally {
      upstream.delayMs = 20;
      await db.end();
      await a!.close(500);
      await b!.close(500);
      await relay.close();
    }
  });
});

describe('a ledger server that accepts connections and never answers', () => {
  let silent: Server;
  beforeAll(async () => {
    silent = createServer((socket) => socket.on('data', () => {}));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  });
  afterAll(() => new Promise((r) => silent.close(r)));

  it('serve exits 1 with one line within its connect timeout', { timeout: 60_000 }, async () => {
    const port = (silent.address() as { port: number }).port;
    const config = join(dir, 'silent.json');
    writeFileSync(
      config,
      JSON.stringify({
        listen: { host: '127.0.0.1', port: 0 },
        upstream: { baseUrl: upstream.url },
        ledger: { url: `postgres://postgres@127.0.0.1:${port}/x`, timeouts: { connectMs: 1_500 } },
        companies: {},
        prices: TEST_PRICES,
      }),
    );
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '../src/cli.ts'), 'serve', '-c', config, '--no-watch'],
      { env: { ...process.env, OPENAI_API_KEY: UPSTREAM_KEY, LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const spawned = performance.now();
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(1);
    // tsx's start-up, then the bounded connect: far below the 25 s it used to hang.
    expect(performance.now() - spawned).toBeLessThan(15_000);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tollgate could not start: the Postgres ledger at postgres:\/\/.+ did not answer/);
  });
});
