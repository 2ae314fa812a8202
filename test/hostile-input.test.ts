import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTollgate, type Tollgate } from './support/harness.js';
import { isOpenAiError, rawRequest } from './support/raw-http.js';
import { json, ScriptedUpstream } from './support/scripted-upstream.js';

const CHAT = {
  id: 'chatcmpl-1',
  object: 'chat.completion',
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
};

let upstream: ScriptedUpstream;
let tollgate: Tollgate;
let key: string;

beforeAll(async () => {
  upstream = await new ScriptedUpstream().start();
  tollgate = await startTollgate({
    upstreamUrl: upstream.url,
    companies: { acme: { allocations: [{ id: 'acme-grant', tokens: 50_000 }] } },
  });
  key = tollgate.keys['acme-key']!;
});
afterAll(async () => {
  await tollgate.close();
  await upstream.close();
});
beforeEach(() => {
  upstream.seen.length = 0;
  upstream.script = (_req, res) => json(res, 200, CHAT);
});

const send = (head: string, body = '') => rawRequest(tollgate.url, `${head}\r\n\r\n${body}`);
const auth = () => `authorization: Bearer ${key}`;

describe('hostile input', () => {
  it('refuses JSON nested past the bound with a 400, before any hold, on a streamed request too', async () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    for (let i = 0; i < 4; i++) {
      const body = `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"x"}],"x":${deep}}`;
      const res = await send(
        `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\n${auth()}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}`,
        body,
      );
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).error.code).toBe('json_too_deep');
    }
    expect(upstream.seen).toHaveLength(0);
    expect(tollgate.query("SELECT COUNT(*) AS n FROM requests WHERE status = 'held'")[0]!.n).toBe(0);
    expect(tollgate.query('SELECT held FROM grants')[0]!.held).toBe(0);
    // The grant is whole: a normal request is admitted.
    const ok = await tollgate.client().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      max_completion_tokens: 5,
    });
    expect(ok.id).toBe('chatcmpl-1');
  });

  it('accepts nesting an OpenAI request needs (a deep JSON Schema)', async () => {
    let schema: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 20; i++) schema = { type: 'object', properties: { a: schema } };
    const ok = await tollgate.client().chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      max_completion_tokens: 5,
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema } },
    });
    expect(ok.id).toBe('chatcmpl-1');
  });

  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    it(`refuses x-tollgate-feature: ${name} as unknown`, async () => {
      const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
      const res = await send(
        `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\n${auth()}\r\nx-tollgate-feature: ${name}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}`,
        body,
      );
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).error.code).toBe('unknown_feature');
      expect(upstream.seen).toHaveLength(0);
    });
  }

  const malformed: [string, string, number][] = [
    ['an unknown method', `FOO /v1/models HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`, 400],
    ['a bad content-length', `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n`, 400],
    [
      'content-length with transfer-encoding',
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n`,
      400,
    ],
    ['oversized headers', `GET /v1/models HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
    ['a space in the target', `GET /v1/mo dels HTTP/1.1\r\nhost: x\r\n\r\n`, 400],
  ];
  for (const [what, request, status] of malformed) {
    it(`answers ${what} with an OpenAI-shaped ${status}`, async () => {
      const res = await rawRequest(tollgate.url, request.replace('AUTH', auth()));
      expect(res.status).toBe(status);
      expect(isOpenAiError(res.body)).toBe(true);
      expect(upstream.seen).toHaveLength(0);
    });
  }

  it('closes the connection on a body with bad chunking (the request may already be on its way), and holds nothing', async () => {
    const res = await rawRequest(
      tollgate.url,
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n${auth()}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n`,
    ).catch((e: Error) => e);
    // RFC 9112 §6.3: a message whose framing is invalid may be answered 400 or the connection closed.
    if (!(res instanceof Error)) {
      expect(res.status).toBe(400);
      expect(isOpenAiError(res.body)).toBe(true);
    }
    expect(upstream.seen).toHaveLength(0);
    await tollgate.settled();
    expect(tollgate.query("SELECT COUNT(*) AS n FROM requests WHERE status = 'held'")[0]!.n).toBe(0);
  });

  for (const method of ['GET', 'DELETE', 'OPTIONS', 'HEAD']) {
    it(`answers ${method} with a body without a 5xx or an empty error`, async () => {
      upstream.script = (_req, res) => json(res, 200, { object: 'list', data: [] });
      const res = await rawRequest(
        tollgate.url,
        `${method} /v1/models HTTP/1.1\r\nhost: x\r\nconnection: close\r\n${auth()}\r\ncontent-length: 2\r\n\r\n{}`,
      );
      expect(res.status).toBeLessThan(500);
      if (res.status >= 400 && method !== 'HEAD') expect(isOpenAiError(res.body)).toBe(true);
    });
  }

  it("puts x-tollgate-request-id on tollgate's own 502 when the upstream is unreachable", async () => {
    upstream.script = (_req, res) => void res.socket?.destroy();
    const body = JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      max_completion_tokens: 5,
    });
    const res = await send(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\n${auth()}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}`,
      body,
    );
    expect(res.status).toBe(502);
    expect(isOpenAiError(res.body)).toBe(true);
    const id = res.headers['x-tollgate-request-id']!;
    await tollgate.settled();
    expect(tollgate.rows().find((r) => r.id === id)).toMatchObject({
      status: 'voided',
      error_code: 'upstream_unreachable',
    });
  });

  it('cuts a gzip bomb from the upstream and settles the row as an upstream error', async () => {
    // 64 gzip members of 16 MiB of spaces each: ~1 MB that inflates to 1 GiB (RFC 1952 allows members back to back).
    const bomb = Buffer.concat(Array(64).fill(gzipSync(Buffer.alloc(16 * 1024 * 1024, 0x20))));
    upstream.script = (_req, res) =>
      void res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(bomb);
    const body = JSON.stringify({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      max_completion_tokens: 5,
    });
    const res = await send(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\naccept-encoding: gzip\r\n${auth()}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}`,
      body,
    ).catch((e: Error) => e);
    // The response is cut: the client sees a truncated body or a reset, never a clean end.
    if (!(res instanceof Error)) expect(Buffer.byteLength(res.body, 'latin1')).toBeLessThan(bomb.length);
    await tollgate.settled();
    // Like any upstream answer broken off mid-body, the row is settled on its estimate with the error's code.
    expect(tollgate.rows().at(-1)).toMatchObject({
      status: 'settled',
      error_code: 'upstream_body_too_large',
      usage_source: 'estimated',
    });
  });
});
