import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../src/observability/metrics.js';
import { notReady } from '../src/observability/routes.js';
import type { Runtime } from '../src/runtime.js';
import { FakeUpstream } from './support/fake-upstream.js';
import { startFromFile, type ConfigJson, type FileTollgate } from './support/config-file.js';
import { loadRecordings, postRecording } from './support/fixtures.js';

/** Prometheus metrics after known traffic, /healthz and /readyz, and the request id on log lines. */
const recordings = new Map(loadRecordings().map((r) => [r.name, r]));

let upstream: FakeUpstream;
let t: FileTollgate;
let config: ConfigJson;
let finishedId: string;

/** Parsed exposition: `name{a="1",b="2"}` (labels sorted) → value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsed metrics line: ${line}`);
    const labels = m[2] ? [...m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => `${k}="${v}"`).sort() : [];
    out.set(`${m[1]}{${labels.join(',')}}`, Number(m[3]));
  }
  return out;
}

const key = (name: string, labels: Record<string, string> = {}) =>
  `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',')}}`;

async function scrape(credential?: string): Promise<Map<string, number>> {
  const res = await fetch(`${t.url}/metrics`, { headers: credential ? { authorization: `Bearer ${credential}` } : {} });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return parse(await res.text());
}

async function send(recording: string, credential: string, model?: string): Promise<Response> {
  const rec = recordings.get(recording)!;
  const body = { ...(rec.request.body as object), ...(model ? { model } : {}) };
  const res = await postRecording(t.url, rec, credential, { body });
  await res.arrayBuffer();
  return res;
}

beforeAll(async () => {
  upstream = await new FakeUpstream(recordings).start();
  upstream.delayMs = 1;
  t = await startFromFile({
    upstreamUrl: upstream.url,
    config: ({ key: k, operator }) =>
      (config = {
        companies: {
          acme: {
            name: 'Acme',
            keys: [k({ id: 'acme-key' })],
            allocations: [{ id: 'acme-grant', tokens: 10_000_000 }],
          },
          globex: {
            name: 'Globex',
            keys: [k({ id: 'globex-key' })],
            allocations: [{ id: 'globex-grant', tokens: 10_000_000 }],
          },
        },
        operators: [operator('ops')],
      }),
  });
  const acme = t.keys['acme-key']!;
  // Known traffic.
  const first = await send('chat-nonstream-01', acme); // gpt-3.5-turbo: 18 in, 4 out
  finishedId = first.headers.get('x-tollgate-request-id')!;
  await send('chat-nonstream-01', acme, 'gpt-3.5-turbo-0125'); // a dated snapshot: the gpt-3.5-turbo series
  await send('chat-nonstream-03', acme); // gpt-4o: 1220 in of which 1152 cached, 100 out
  await send('embeddings-01', t.keys['globex-key']!); // text-embedding-3-small: 2 in
  expect((await send('error-429-01', acme)).status).toBe(429); // the upstream's own 429: forwarded, voided
  expect((await send('chat-nonstream-01', 'sk-tg-unknown')).status).toBe(401); // refused: unknown key
  expect((await send('chat-nonstream-01', acme, 'no-such-model-anywhere')).status).toBe(400); // refused: no price
  const models = await fetch(`${t.url}/v1/models/gpt-4o`, { headers: { authorization: `Bearer ${acme}` } }); // pass-through; the fake has no recording: 500
  expect(models.status).toBe(500);
  await models.arrayBuffer();
  await t.settled();
});
afterAll(async () => {
  await t?.close();
  await upstream?.close();
});

describe('/metrics after known traffic', () => {
  it('counts requests by company, model, endpoint, status class and usage source', async () => {
    const m = await scrape();
    const chat = '/v1/chat/completions';
    const requests = (company: string, model: string, endpoint: string, status_class: string, usage_source: string) =>
      m.get(key('tollgate_requests_total', { company, model, endpoint, status_class, usage_source }));
    expect(requests('acme', 'gpt-3.5-turbo', chat, '2xx', 'upstream')).toBe(2);
    expect(requests('acme', 'gpt-4o', chat, '2xx', 'upstream')).toBe(1);
    expect(requests('globex', 'text-embedding-3-small', '/v1/embeddings', '2xx', 'upstream')).toBe(1);
    expect(requests('acme', 'gpt-3.5-turbo', chat, '4xx', 'none')).toBe(1);
    expect(requests('acme', 'gpt-4o', '/v1/models/:id', '5xx', 'none')).toBe(1); // the model named in the path
    const total = [...m].filter(([k]) => k.startsWith('tollgate_requests_total{')).reduce((s, [, v]) => s + v, 0);
    expect(total).toBe(6);
  });

  it('counts tokens by kind (input uncached, cached, output) and cost in micro-USD, exactly as the ledger has them', async () => {
    const m = await scrape();
    const tokens = (company: string, model: string, kind: string) =>
      m.get(key('tollgate_tokens_total', { company, model, kind }));
    expect(tokens('acme', 'gpt-3.5-turbo', 'input')).toBe(36);
    expect(tokens('acme', 'gpt-3.5-turbo', 'output')).toBe(8);
    expect(tokens('acme', 'gpt-3.5-turbo', 'cached')).toBeUndefined();
    expect(tokens('acme', 'gpt-4o', 'input')).toBe(68);
    expect(tokens('acme', 'gpt-4o', 'cached')).toBe(1152);
    expect(tokens('acme', 'gpt-4o', 'output')).toBe(100);
    expect(tokens('globex', 'text-embedding-3-small', 'input')).toBe(2);
    const ledgerCost = (company: string, where: string) =>
      Number(
        t.query(
          `SELECT COALESCE(SUM(cost_micro_usd), 0) AS c FROM requests WHERE company_id = ? AND ${where}`,
          company,
        )[0]!.c,
      );
    const gpt35 = ledgerCost('acme', "requested_model LIKE 'gpt-3.5-turbo%'");
    const gpt4o = ledgerCost('acme', "requested_model = 'gpt-4o'");
    expect(gpt35).toBeGreaterThan(0);
    expect(gpt4o).toBeGreaterThan(0);
    expect(m.get(key('tollgate_cost_micro_usd_total', { company: 'acme', model: 'gpt-3.5-turbo' }))).toBe(gpt35);
    expect(m.get(key('tollgate_cost_micro_usd_total', { company: 'acme', model: 'gpt-4o' }))).toBe(gpt4o);
    expect(m.get(key('tollgate_cost_micro_usd_total', { company: 'globex', model: 'text-embedding-3-small' }))).toBe(
      ledgerCost('globex', '1'),
    );
  });

  it('counts refusals by company and code; an unknown caller is company "other"', async () => {
    const m = await scrape();
    expect(
      m.get(
        key('tollgate_refusals_total', { company: 'other', endpoint: '/v1/chat/completions', code: 'invalid_api_key' }),
      ),
    ).toBe(1);
    expect(
      m.get(
        key('tollgate_refusals_total', { company: 'acme', endpoint: '/v1/chat/completions', code: 'invalid_request' }),
      ),
    ).toBe(1);
  });

  it('times admission (every request, refused or not) and the upstream (forwarded ones) per endpoint, and reads open holds from the ledger', async () => {
    const m = await scrape();
    expect(m.get(key('tollgate_admission_latency_ms_count', { endpoint: '/v1/chat/completions' }))).toBe(6);
    expect(m.get(key('tollgate_admission_latency_ms_count', { endpoint: '/v1/embeddings' }))).toBe(1);
    expect(m.get(key('tollgate_upstream_latency_ms_count', { endpoint: '/v1/chat/completions' }))).toBe(4);
    expect(m.get(key('tollgate_upstream_latency_ms_count', { endpoint: '/v1/models/:id' }))).toBe(1);
    expect(m.get(key('tollgate_request_duration_ms_count', { endpoint: '/v1/chat/completions' }))).toBe(4);
    expect(m.get(key('tollgate_admission_latency_ms_bucket', { endpoint: '/v1/chat/completions', le: '+Inf' }))).toBe(
      6,
    );
    expect(m.get(key('tollgate_open_holds'))).toBe(0);
    // No process metrics were asked for; nothing else leaks in from prom-client's global registry.
    expect([...m.keys()].every((k) => k.startsWith('tollgate_'))).toBe(true);
  });
});

describe('bounded labels', () => {
  const rt = (companies: string[], prices: string[]) =>
    ({
      config: {
        companies: Object.fromEntries(companies.map((c) => [c, {}])),
        prices: Object.fromEntries(prices.map((p) => [p, {}])),
      },
    }) as unknown as Runtime;
  const metrics = (r: Runtime) =>
    new Metrics({ config: () => r.config, openHolds: async () => 0, processMetrics: false });

  it('maps companies outside the config, unpriced models and unknown paths to "other", and ids in paths to :id', () => {
    const m = metrics(rt(['acme'], ['gpt-4o', 'gpt-4o-mini']));
    expect(m.companyLabel('acme')).toBe('acme');
    expect(m.companyLabel('evil-corp')).toBe('other');
    expect(m.companyLabel('__proto__')).toBe('other');
    expect(m.companyLabel(null)).toBe('other');
    expect(m.modelLabel('gpt-4o')).toBe('gpt-4o');
    expect(m.modelLabel('gpt-4o-2024-08-06')).toBe('gpt-4o');
    expect(m.modelLabel('ft:gpt-4o-mini:acme::abc123')).toBe('gpt-4o-mini');
    expect(m.modelLabel('my-model-123456')).toBe('other');
    expect(m.modelLabel(null)).toBe('other');
    expect(m.endpointLabel('/v1/chat/completions?x=1')).toBe('/v1/chat/completions');
    expect(m.endpointLabel('/v1/responses/resp_abc123/cancel')).toBe('/v1/responses/:id/cancel');
    expect(m.endpointLabel('/v1/files/file-abc/content')).toBe('/v1/files/:id/content');
    expect(m.endpointLabel('/v1/whatever/abc')).toBe('other');
    expect(m.endpointLabel('/v1/models/a/b/c/d/e/f')).toBe('other');
    expect(m.endpointLabel('/healthz')).toBe('other');
  });

  it('labels a row priced by a price entry with that entry’s name', () => {
    const m = metrics(rt(['acme'], []));
    m.finished({ companyId: 'acme', model: 'gpt-4o-2024-08-06' }, '/v1/chat/completions', 200, {
      usageSource: 'upstream',
      costMicroUsd: 5,
      latencyMs: 10,
      priceVersion: 'gpt-4o@2025-08-07',
      usage: { inputTokens: 10, cachedInputTokens: 4, outputTokens: 3, reasoningTokens: 0, totalTokens: 13 },
    });
    return m.registry.metrics().then((text) => {
      const p = parse(text);
      expect(p.get(key('tollgate_tokens_total', { company: 'acme', model: 'gpt-4o', kind: 'input' }))).toBe(6);
      expect(p.get(key('tollgate_tokens_total', { company: 'acme', model: 'gpt-4o', kind: 'cached' }))).toBe(4);
      expect(p.get(key('tollgate_cost_micro_usd_total', { company: 'acme', model: 'gpt-4o' }))).toBe(5);
    });
  });
});

describe('/metrics protection', () => {
  it('asks for an operator key once metrics.requireAuth is set (applied by a reload), and counts reloads', async () => {
    const next = t.nextReload();
    t.write({ ...config, metrics: { requireAuth: true } });
    expect((await next).status).toBe('applied');
    expect((await fetch(`${t.url}/metrics`)).status).toBe(401);
    expect(
      (await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${t.keys['acme-key']}` } })).status,
    ).toBe(401);
    const m = await scrape(t.keys.ops);
    expect(m.get(key('tollgate_config_reloads_total', { result: 'applied' }))).toBe(1);
    const back = t.nextReload();
    t.write(config);
    expect((await back).status).toBe('applied');
    expect((await fetch(`${t.url}/metrics`)).status).toBe(200);
  });
});

describe('health and readiness', () => {
  it('/healthz is ok; /readyz is ready while the ledger answers', async () => {
    const h = await fetch(`${t.url}/healthz`);
    expect([h.status, await h.json()]).toEqual([200, { status: 'ok' }]);
    const r = await fetch(`${t.url}/readyz`);
    expect([r.status, await r.json()]).toEqual([200, { status: 'ready' }]);
  });

  it('is not ready when the ledger does not answer or no config is loaded', async () => {
    const broken = {
      config: { companies: {} },
      ledger: { ping: () => Promise.reject(new Error('database is closed')) },
    } as unknown as Runtime;
    expect(await notReady(broken)).toBe('the ledger did not answer: database is closed');
    expect(await notReady({ ...broken, config: undefined } as unknown as Runtime)).toBe('no config loaded');
    expect(await notReady(t.server.runtime)).toBeUndefined();
  });
});

describe('logs', () => {
  it("carry the request id on the request's lines, equal to x-tollgate-request-id", () => {
    const finished = t.logs.filter((l) => l.msg === 'request finished');
    expect(finished).toHaveLength(6);
    const line = finished.find((l) => l.requestId === finishedId);
    expect(line).toMatchObject({ requestId: finishedId, status: 200, usage: 'upstream', level: 30 });
    expect(finishedId).toMatch(/^req_[0-9a-f]{32}$/);
    expect(t.logs.filter((l) => l.msg === 'request refused').map((l) => [l.company, l.status, l.code])).toEqual([
      [null, 401, 'invalid_api_key'],
      ['acme', 400, 'invalid_request'],
    ]);
  });
});
