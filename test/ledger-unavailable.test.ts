import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GuardedLedger } from '../src/ledger/guarded.js';
import { LedgerUnavailableError, ledgerError, ledgerErrorOrigin } from '../src/ledger/unavailable.js';
import { FakeUpstream } from './support/fake-upstream.js';
import { loadRecordings } from './support/fixtures.js';
import { startTollgate, type Tollgate } from './support/harness.js';

/**
 * A ledger that fails or does not answer is a failing dependency: its errors are classified by
 * where they came from and answered 503 with `retry-after`, within the request's budget, never a
 * 4xx and never read as the client leaving; nothing is forwarded unmetered.
 */
const recordings = new Map(loadRecordings().map((r) => [r.name, r]));
const chat = recordings.get('chat-nonstream-01')!;

const err = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('ledger errors by origin', () => {
  it.each([
    ['ECONNRESET', 'unavailable'],
    ['ECONNREFUSED', 'unavailable'],
    ['ETIMEDOUT', 'unavailable'],
    ['57P01', 'unavailable'],
    ['57P03', 'unavailable'],
    ['57014', 'unavailable'],
    ['08006', 'unavailable'],
    ['08003', 'unavailable'],
    ['53300', 'unavailable'],
    ['55P03', 'unavailable'],
    ['SQLITE_BUSY', 'unavailable'],
    ['SQLITE_IOERR_WRITE', 'unavailable'],
    ['SQLITE_FULL', 'unavailable'],
    ['40001', 'conflict'],
    ['40P01', 'conflict'],
    ['23505', 'fault'],
    ['42P01', 'fault'],
    ['SQLITE_CONSTRAINT_PRIMARYKEY', 'fault'],
  ])('%s is %s', (code, origin) => {
    expect(ledgerErrorOrigin(err(code))).toBe(origin);
  });

  it("reads node-postgres's own connection failures as unavailable", () => {
    for (const message of [
      'Connection terminated unexpectedly',
      'Connection terminated due to connection timeout',
      'timeout exceeded when trying to connect',
      'Query read timeout',
      'Client has encountered a connection error and is not queryable',
    ])
      expect(ledgerErrorOrigin(new Error(message))).toBe('unavailable');
    expect(ledgerErrorOrigin(new Error('column "x" does not exist'))).toBe('fault');
  });

  it('wraps an unavailable error without its socket code, so nothing reads it as the client leaving', () => {
    const wrapped = ledgerError(err('ECONNRESET', 'read ECONNRESET'));
    expect(wrapped).toBeInstanceOf(LedgerUnavailableError);
    expect((wrapped as { code?: string }).code).toBeUndefined();
    const bug = err('23505');
    expect(ledgerError(bug)).toBe(bug);
  });
});

describe('a ledger that fails while serving', () => {
  let upstream: FakeUpstream;
  let tollgate: Tollgate;
  let guard: GuardedLedger;
  beforeAll(async () => {
    upstream = await new FakeUpstream(recordings).start();
    tollgate = await startTollgate({
      upstreamUrl: upstream.url,
      ledgerTimeouts: { admitMs: 300, readyMs: 200 },
    });
    guard = tollgate.server.runtime.ledger as GuardedLedger;
  });
  afterAll(async () => {
    await tollgate?.close();
    await upstream?.close();
  });

  const send = () =>
    fetch(`${tollgate.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${Object.values(tollgate.keys)[0]}`,
        'content-type': 'application/json',
        'x-test-recording': chat.name,
      },
      body: JSON.stringify(chat.request.body),
    });

  /** Makes the ledger's admission fail with `fail` (or hang, when undefined) until the returned function restores it. */
  function breakAdmission(fail?: Error): () => Promise<void> {
    const inner = guard.inner;
    const admit = inner.admit.bind(inner);
    const ping = inner.ping.bind(inner);
    inner.admit = () => (fail ? Promise.reject(fail) : new Promise(() => {}));
    inner.ping = () => (fail ? Promise.reject(fail) : new Promise(() => {}));
    return async () => {
      inner.admit = admit;
      inner.ping = ping;
      // The guard probes the ledger it marked down; it admits again once a probe succeeds.
      const deadline = Date.now() + 5_000;
      while (guard.isDown && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(guard.isDown).toBe(false);
    };
  }

  it.each([
    ['a reset connection', err('ECONNRESET', 'read ECONNRESET')],
    ['a server shutting down', err('57P01', 'terminating connection due to administrator command')],
    ['a busy SQLite file', err('SQLITE_BUSY', 'database is locked')],
  ])('%s: 503 ledger_unavailable with retry-after, nothing forwarded', async (_, failure) => {
    const forwarded = upstream.received.length;
    const restore = breakAdmission(failure);
    try {
      const res = await send();
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(res.headers.get('x-should-retry')).toBe('true');
      const body = (await res.json()) as { error: { type: string; code: string } };
      expect(body.error).toMatchObject({ type: 'server_error', code: 'ledger_unavailable' });
      // Marked down: the next request is refused at once, without waiting on the ledger.
      const started = performance.now();
      expect((await send()).status).toBe(503);
      expect(performance.now() - started).toBeLessThan(250);
    } finally {
      await restore();
    }
    expect(upstream.received.length).toBe(forwarded);
    expect((await send()).status).toBe(200);
  });

  it('a ledger that does not answer: 503 within the admission budget, /readyz 503 within its own', async () => {
    const forwarded = upstream.received.length;
    const restore = breakAdmission();
    try {
      let started = performance.now();
      const res = await send();
      expect(res.status).toBe(503);
      expect(performance.now() - started).toBeLessThan(300 + 500);
      started = performance.now();
      const ready = await fetch(`${tollgate.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(performance.now() - started).toBeLessThan(200 + 500);
    } finally {
      await restore();
    }
    expect(upstream.received.length).toBe(forwarded);
    expect((await fetch(`${tollgate.url}/readyz`)).status).toBe(200);
    expect((await send()).status).toBe(200);
  });
});
