import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GuardedLedger } from '../src/ledger/guarded.js';
import { parseSpool, pendingOf, type SpoolEntry } from '../src/ledger/spool/entry.js';
import { Spool } from '../src/ledger/spool/spool.js';
import { FakeUpstream } from './support/fake-upstream.js';
import { loadRecordings } from './support/fixtures.js';
import { startTollgate, type Tollgate } from './support/harness.js';
import { waitUntil } from './support/wait.js';

/**
 * No settlement lost: when the upstream has answered but the ledger cannot take the settlement, it
 * is kept (in memory and in a local file that survives a restart) and written once the ledger
 * answers again, exactly once.
 */
const recordings = new Map(loadRecordings().map((r) => [r.name, r]));
const chat = recordings.get('chat-nonstream-01')!;

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'tollgate-spool-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const entry = (id: string): SpoolEntry => ({
  op: 'void',
  id,
  at: '2026-12-01T00:00:00.000Z',
  outcome: { httpStatus: 502, usageSource: 'none', latencyMs: 1 },
});

/** A pid no process has (the kernel's pid_max is at most 2^22). */
const GONE_PID = 4_194_999;

describe('the spool file', () => {
  it('is durable once add resolves, notes what was applied, and is removed once nothing is pending', async () => {
    const dir = tempDir();
    const spool = Spool.open(dir);
    await spool.add(entry('req_a'));
    await spool.add(entry('req_b'));
    const [file] = readdirSync(dir);
    const other = Spool.open(dir);
    expect(other.size).toBe(0);
    await other.close();
    expect(pendingOf(parseSpool(readFileSync(join(dir, file!), 'utf8'))).map((e) => e.id)).toEqual(['req_a', 'req_b']);
    await spool.done('req_a');
    await spool.close();
    expect(pendingOf(parseSpool(readFileSync(join(dir, file!), 'utf8'))).map((e) => e.id)).toEqual(['req_b']);
    // A ledger opened while it was open did not take its file (above); one opened after it closed does.
    const next = Spool.open(dir);
    expect(next.entries().map((e) => e.id)).toEqual(['req_b']);
    await next.settleAdopted();
    await next.done('req_b');
    await next.close();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('adopts the file of a process that is gone, keeps it across its own crash, and skips a torn last line', async () => {
    const dir = tempDir();
    const lines = [entry('req_1'), entry('req_2'), { done: 'req_1' }, entry('req_3')].map((l) => JSON.stringify(l));
    writeFileSync(join(dir, `${hostname()}-${GONE_PID}-1.jsonl`), `${lines.join('\n')}\n{"op":"settle","id":"req_4`);
    const spool = Spool.open(dir);
    expect(spool.entries().map((e) => e.id)).toEqual(['req_2', 'req_3']);
    await spool.settleAdopted();
    expect(existsSync(join(dir, `${hostname()}-${GONE_PID}-1.jsonl`))).toBe(false);
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(pendingOf(parseSpool(readFileSync(join(dir, files[0]!), 'utf8'))).map((e) => e.id)).toEqual([
      'req_2',
      'req_3',
    ]);
    await spool.done('req_2');
    await spool.done('req_3');
    await spool.close();
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('settlements the ledger cannot take', () => {
  let upstream: FakeUpstream;
  let ledgerDir: string;
  let tollgate: Tollgate;
  beforeAll(async () => {
    upstream = await new FakeUpstream(recordings).start();
    ledgerDir = tempDir();
    tollgate = await startTollgate({ upstreamUrl: upstream.url, ledgerPath: join(ledgerDir, 'ledger.db') });
  });
  afterAll(async () => {
    await tollgate?.close();
    await upstream?.close();
  });

  const send = (t: Tollgate) =>
    t.client().chat.completions.create(chat.request.body as never, { headers: { 'x-test-recording': chat.name } });

  /** Makes the ledger's settle fail as an unreachable store would, until the returned function restores it. */
  function breakSettle(t: Tollgate): () => void {
    const inner = (t.server.runtime.ledger as GuardedLedger).inner;
    const settle = inner.settle.bind(inner);
    const ping = inner.ping.bind(inner);
    const down = () => Promise.reject(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    inner.settle = down;
    inner.ping = down;
    return () => {
      inner.settle = settle;
      inner.ping = ping;
    };
  }

  it('answers the client in full, keeps the settlement, and writes it exactly once when the ledger is back', async () => {
    const restore = breakSettle(tollgate);
    const guard = tollgate.server.runtime.ledger as GuardedLedger;
    let id: string;
    try {
      const res = await send(tollgate).withResponse();
      expect(res.data.usage?.total_tokens).toBeGreaterThan(0);
      id = res.response.headers.get('x-tollgate-request-id')!;
      expect(guard.spooled).toBe(1);
      const spoolDir = join(ledgerDir, 'spool');
      const files = readdirSync(spoolDir).filter((f) => f.endsWith('.jsonl'));
      expect(pendingOf(parseSpool(readFileSync(join(spoolDir, files[0]!), 'utf8'))).map((e) => e.id)).toEqual([id]);
      expect(tollgate.rows().find((r) => r.id === id)?.status).toBe('held');
    } finally {
      restore();
    }
    await waitUntil(() => guard.spooled === 0, { timeoutMs: 5_000, what: 'the spool to be written' });
    const row = tollgate.rows().find((r) => r.id === id!)!;
    expect(row).toMatchObject({ status: 'settled', usage_source: 'upstream' });
    expect(tollgate.query('SELECT COUNT(*) AS n FROM debits WHERE request_id = ?', id!)[0]!.n).toBe(1);
    await waitUntil(() => readdirSync(join(ledgerDir, 'spool')).filter((f) => f.endsWith('.jsonl')).length === 0, {
      what: 'the spool file to be removed',
    });
  });

  it('keeps it across a restart: the next start writes it before resolving open holds', async () => {
    const restore = breakSettle(tollgate);
    const res = await send(tollgate).withResponse();
    const id = res.response.headers.get('x-tollgate-request-id')!;
    await tollgate.close();
    restore();
    // The spool file outlives the process's ledger; the next start on the same ledger adopts it.
    tollgate = await startTollgate({ upstreamUrl: upstream.url, ledgerPath: join(ledgerDir, 'ledger.db') });
    const row = tollgate.rows().find((r) => r.id === id)!;
    expect(row).toMatchObject({ status: 'settled', usage_source: 'upstream' });
    expect(row.metered_tokens).toBe(res.data.usage!.total_tokens);
  });
});
