import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.js';
import type { Admitted } from './admission.js';
import { relay, type RelayDeps } from './relay.js';

/** The relay driven by hand, as undici's dispatcher would: its back-pressure and its aborts, without a socket. */

/** A client's response that takes `room` writes before it reports itself full. */
class Client extends EventEmitter {
  written: string[] = [];
  status = 0;
  ended = false;
  destroyed = false;
  writableFinished = false;
  room = Infinity;
  writeHead(status: number) {
    this.status = status;
    return this;
  }
  flushHeaders() {}
  write(chunk: Buffer) {
    this.written.push(chunk.toString());
    return --this.room > 0;
  }
  end(chunk?: Buffer) {
    if (chunk) this.written.push(chunk.toString());
    this.ended = true;
    this.writableFinished = true;
  }
  destroy() {
    this.destroyed = true;
  }
}

/** undici's controller, recording what the relay asked of it. */
class Controller implements Dispatcher.DispatchController {
  calls: string[] = [];
  aborted = false;
  paused = false;
  reason: Error | null = null;
  abort(reason: Error) {
    this.calls.push('abort');
    this.aborted = true;
    this.reason = reason;
  }
  pause() {
    this.calls.push('pause');
    this.paused = true;
  }
  resume() {
    this.calls.push('resume');
    this.paused = false;
  }
}

function setUp() {
  let handler: Dispatcher.DispatchHandler | undefined;
  const settled: string[] = [];
  const forwarded: string[] = [];
  const log = { info() {}, warn() {}, error() {} };
  const rt = {
    config: parseConfig({ companies: {} }),
    clock: () => new Date('2026-12-01T00:00:00Z'),
    log,
    alerts: { afterSettle() {} },
    upstream: { apiKey: 'sk-up', dispatch: (_opts: unknown, h: Dispatcher.DispatchHandler) => void (handler = h) },
    ledger: {
      forwarded: (id: string) => void forwarded.push(id),
      settle: async (id: string) => (settled.push(id), { grants: [], counters: [] }),
      void: async () => true,
    },
  } as unknown as RelayDeps;
  const admitted = {
    requestId: 'req_1',
    principal: { companyId: 'acme', keyId: 'k', userId: null, role: 'member', sessionId: null },
    held: false,
    model: null,
    stream: false,
    hideUsage: false,
    quotas: [],
    headers: {},
  } satisfies Admitted;
  const client = new Client();
  const req = { method: 'GET' as const, pathAndQuery: '/v1/files/f/content', headers: {}, outgoing: client };
  const done = relay(rt, req as never as Parameters<typeof relay>[1] & { outgoing: ServerResponse }, admitted, 0);
  return { handler: () => handler!, client, settled, forwarded, done };
}

describe('relay', () => {
  it('pauses the upstream while the client is full, resumes it on drain, and ends after the settle', async () => {
    const t = setUp();
    const c = new Controller();
    const h = t.handler();
    h.onRequestStart!(c, {});
    expect(t.forwarded).toEqual(['req_1']);
    h.onResponseStart!(c, 200, { 'content-type': 'application/octet-stream' }, 'OK');
    t.client.room = 1;
    h.onResponseData!(c, Buffer.from('a'));
    expect(c.calls).toEqual(['pause']);
    t.client.room = Infinity;
    t.client.emit('drain');
    expect(c.calls).toEqual(['pause', 'resume']);
    h.onResponseData!(c, Buffer.from('b'));
    h.onResponseEnd!(c, {});
    await t.done;
    expect(t.client.written).toEqual(['a', 'b']);
    expect(t.client.ended).toBe(true);
    expect(t.settled).toEqual(['req_1']);
  });

  it('holds the chunk completing a body of known length until the settle is durable', async () => {
    const t = setUp();
    const c = new Controller();
    const h = t.handler();
    h.onRequestStart!(c, {});
    h.onResponseStart!(c, 200, { 'content-type': 'application/octet-stream', 'content-length': '2' }, 'OK');
    h.onResponseData!(c, Buffer.from('x'));
    h.onResponseData!(c, Buffer.from('y'));
    expect(t.client.written).toEqual(['x']);
    h.onResponseEnd!(c, {});
    await t.done;
    expect(t.client.written).toEqual(['x', 'y']);
    expect(t.settled).toEqual(['req_1']);
  });

  it('aborts a request whose client left before it got a connection, without marking it sent', async () => {
    const t = setUp();
    t.client.emit('close');
    const c = new Controller();
    t.handler().onRequestStart!(c, {});
    expect(c.calls).toEqual(['abort']);
    expect(t.forwarded).toEqual([]);
    t.handler().onResponseError!(c, c.reason!);
    await t.done;
  });
});
