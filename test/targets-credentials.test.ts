import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTollgate, UPSTREAM_KEY, type Tollgate } from './support/harness.js';
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
  tollgate = await startTollgate({ upstreamUrl: upstream.url, unknownPaths: 'reject' });
  key = tollgate.keys['acme-key']!;
});
afterAll(async () => {
  await tollgate.close();
  await upstream.close();
});
beforeEach(() => {
  upstream.seen.length = 0;
  upstream.script = (_req, res) =>
    json(res, 200, CHAT, {
      'x-request-id': 'req_up_1',
      'openai-organization': 'operator-org',
      'openai-project': 'proj_operator',
    });
});

const chatBody = JSON.stringify({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'hi' }],
  max_completion_tokens: 5,
});
const raw = (method: string, target: string, headers: Record<string, string> = {}, body = '') =>
  rawRequest(
    tollgate.url,
    `${method} ${target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}${body ? `content-length: ${Buffer.byteLength(body)}\r\n` : ''}\r\n${body}`,
  );

describe('strict request targets', () => {
  const tricks = [
    'http://evil.example/v1/chat/completions',
    'https://api.openai.com/v1/chat/completions',
    '/v1/files/..%2Fchat%2Fcompletions',
    '/v1/files/../chat/completions',
    '/v1/files/%2e%2e/chat/completions',
    '/v1/./chat/completions',
    '/v1/chat%2Fcompletions',
    '/v1/chat%2fcompletions',
    '/v1/chat%5Ccompletions',
    '/v1/chat\\completions',
    '/v1//chat/completions',
    '/v1/chat/completions/',
    '/v1/files/file-1%00',
    '*',
    'evil.example:443',
  ];
  for (const target of tricks) {
    it(`refuses ${JSON.stringify(target)} with an OpenAI 400 before authentication, nothing upstream`, async () => {
      const before = tollgate.rows().length;
      // No credential: the target is refused before authentication would answer 401.
      const res = await raw('POST', target, { 'content-type': 'application/json' }, chatBody);
      expect(res.status).toBe(400);
      expect(isOpenAiError(res.body)).toBe(true);
      expect(upstream.seen).toHaveLength(0);
      expect(tollgate.rows()).toHaveLength(before);
    });
  }

  it('forwards the matched path byte for byte, with the query kept', async () => {
    upstream.script = (_req, res) => json(res, 200, { object: 'list', data: [] });
    const res = await raw('GET', "/v1/models/gpt-4o-mini:acme:x:abc~1!$'()*+,;=@?limit=2&after=a%2Fb", {
      authorization: `Bearer ${key}`,
    });
    expect(res.status).toBe(200);
    expect(upstream.seen[0]!.url).toBe("/v1/models/gpt-4o-mini:acme:x:abc~1!$'()*+,;=@?limit=2&after=a%2Fb");
  });
});

describe('credentials', () => {
  const locations: [string, Record<string, string>, string][] = [
    ['x-api-key', { 'x-api-key': 'CALLER' }, ''],
    ['api-key', { 'api-key': 'CALLER' }, ''],
    ['openai-api-key', { 'openai-api-key': 'CALLER' }, ''],
    ['x-goog-api-key', { 'x-goog-api-key': 'CALLER' }, ''],
    ['cookie', { cookie: 'session=CALLER' }, ''],
    ['query api_key', {}, '?api_key=CALLER'],
    ['query key', {}, '?key=CALLER'],
    ['query API_KEY encoded', {}, '?%41PI_KEY=CALLER&limit=1'],
    ['query access_token', {}, '?access_token=CALLER'],
  ];
  for (const [name, headers, query] of locations) {
    it(`never forwards a credential in ${name}`, async () => {
      const res = await raw(
        'POST',
        `/v1/chat/completions${query}`,
        { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
        chatBody,
      );
      expect(res.status).toBe(200);
      const seen = upstream.seen[0]!;
      expect(seen.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
      expect(JSON.stringify(seen.headers)).not.toContain('CALLER');
      expect(JSON.stringify(seen.headers)).not.toContain(key);
      expect(seen.url).not.toContain('CALLER');
      expect(seen.url.startsWith('/v1/chat/completions')).toBe(true);
    });
  }

  it('keeps other query parameters in order when it drops a credential', async () => {
    await raw('GET', '/v1/models?limit=2&api_key=CALLER&after=x', { authorization: `Bearer ${key}` });
    expect(upstream.seen[0]!.url).toBe('/v1/models?limit=2&after=x');
  });

  it('hides the operator account headers from callers', async () => {
    const res = await raw(
      'POST',
      '/v1/chat/completions',
      { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      chatBody,
    );
    expect(res.status).toBe(200);
    expect(res.headers['openai-organization']).toBeUndefined();
    expect(res.headers['openai-project']).toBeUndefined();
    expect(res.headers['x-request-id']).toBe('req_up_1');
  });

  for (const status of [401, 403]) {
    it(`answers an upstream ${status} to tollgate's key with 502 upstream_auth_failed, never the upstream's text`, async () => {
      upstream.script = (_req, res) =>
        json(
          res,
          status,
          {
            error: {
              message: 'Incorrect API key provided: sk-upstr**********-key.',
              type: 'invalid_request_error',
              param: null,
              code: 'invalid_api_key',
            },
          },
          { 'openai-organization': 'operator-org' },
        );
      const res = await raw(
        'POST',
        '/v1/chat/completions',
        { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        chatBody,
      );
      expect(res.status).toBe(502);
      expect(JSON.parse(res.body)).toEqual({
        error: {
          message: "tollgate's upstream credentials were refused; the operator has been told.",
          type: 'api_error',
          param: null,
          code: 'upstream_auth_failed',
        },
      });
      expect(res.body).not.toContain('sk-');
      expect(res.headers['openai-organization']).toBeUndefined();
      const id = res.headers['x-tollgate-request-id']!;
      expect(id).toMatch(/^req_/);
      await tollgate.settled();
      const row = tollgate.rows().find((r) => r.id === id)!;
      expect(row).toMatchObject({
        status: 'voided',
        http_status: 502,
        error_code: 'upstream_auth_failed',
        metered_tokens: 0,
        cost_micro_usd: 0,
      });
      const metrics = await tollgate.server.runtime.metrics!.registry.metrics();
      expect(metrics).toMatch(new RegExp(`tollgate_upstream_auth_failures_total\\{status="${status}"\\} [1-9]`));
    });
  }

  it("always sends tollgate's request id upstream as X-Client-Request-Id and keeps the caller's on the row", async () => {
    const res = await raw(
      'POST',
      '/v1/chat/completions',
      { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-client-request-id': 'caller-trace-42' },
      chatBody,
    );
    const id = res.headers['x-tollgate-request-id']!;
    expect(upstream.seen[0]!.headers['x-client-request-id']).toBe(id);
    await tollgate.settled();
    expect(tollgate.rows().find((r) => r.id === id)).toMatchObject({ client_request_id: 'caller-trace-42' });
  });
});
