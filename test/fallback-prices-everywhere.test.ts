import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { childConfig, kill9, serveChild } from './support/child.js';
import { startFakeRealtime, type FakeRealtime } from './support/fake-realtime.js';
import { startTollgate, type Tollgate } from './support/harness.js';
import { ScriptedUpstream } from './support/scripted-upstream.js';
import { waitUntil } from './support/wait.js';

/**
 * A model nothing prices, allowed to one company at its fallback price, is priced at that price
 * wherever tollgate looks a price up for that company — not only on the HTTP hot path: a Realtime
 * session is admitted and its responses billed at it, and a row left open by a crash is charged
 * its prompt at it by the interrupted policy. Another company is still refused the model.
 */
const FALLBACK = { source: 'acme agreement 7', date: '2026-12-01' };
let dir: string | undefined;
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Realtime', () => {
  let fake: FakeRealtime | undefined;
  let tg: Tollgate | undefined;
  afterAll(async () => {
    await tg?.close();
    await fake?.close();
  });

  it('admits a session on the company’s fallback price and bills its responses at it; refuses another company', async () => {
    fake = await startFakeRealtime();
    tg = await startTollgate({
      upstreamUrl: fake.url,
      companies: {
        acme: {
          allocations: [{ id: 'acme-usd', usd: 100 }],
          fallbackPrices: [
            {
              models: ['house-voice-*'],
              price: { input: 2, output: 8, audioInput: 20, audioOutput: 40, ...FALLBACK },
            },
          ],
        },
        globex: { allocations: [{ id: 'globex-usd', usd: 100 }] },
      },
    });
    const port = Number(new URL(tg.url).port);

    // globex has no price for it: refused at the handshake, never connected upstream.
    const refused = await new Promise<{ status: number; body: string }>((resolve) => {
      const ws = new WebSocket(`${tg!.url.replace('http', 'ws')}/v1/realtime?model=house-voice-1`, [
        'realtime',
        `openai-insecure-api-key.${tg!.keys['globex-key']}`,
      ]);
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      ws.on('error', () => undefined);
    });
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body).error.code).toBe('model_not_priced');
    expect(fake.attempts).toBe(0);

    fake.script.push({
      text: 'Hello!',
      usage: {
        total_tokens: 650,
        input_tokens: 400,
        output_tokens: 250,
        input_token_details: { text_tokens: 100, audio_tokens: 300, image_tokens: 0, cached_tokens: 0 },
        output_token_details: { text_tokens: 50, audio_tokens: 200 },
      },
    });
    const rt = new OpenAIRealtimeWS(
      { model: 'house-voice-1', options: { createConnection: () => netConnect(port, '127.0.0.1') } },
      tg.client(tg.keys['acme-key']) as OpenAI,
    );
    const events: { type: string }[] = [];
    const errors: Error[] = [];
    rt.on('event', (e) => events.push(e as { type: string }));
    rt.on('error', (e) => errors.push(e));
    await waitUntil(() => events.some((e) => e.type === 'session.created') || errors.length > 0, {
      what: 'session.created',
    });
    expect(errors).toEqual([]);
    rt.send({ type: 'response.create' } as never);
    await waitUntil(() => events.some((e) => e.type === 'response.done'), { what: 'response.done' });
    rt.close();
    await waitUntil(() => tg!.query("SELECT COUNT(*) AS n FROM requests WHERE status = 'held'")[0]!.n === 0, {
      what: 'every row settled',
    });
    const row = tg.rows().find((r) => r.endpoint === '/v1/realtime' && Number(r.total_tokens) > 0)!;
    // $2 / $8, audio $20 / $40: text 100 × 2,000 + audio 300 × 20,000 + text out 50 × 8,000 + audio out 200 × 40,000.
    expect(row).toMatchObject({
      company_id: 'acme',
      requested_model: 'house-voice-1',
      status: 'settled',
      cost_nano_usd: 14_600_000,
      price_source: 'fallback',
      error_code: null,
    });
    expect(String(row.price_version)).toMatch(/^house-voice-1@fallback-2026-12-01#[0-9a-f]{12}$/);
  });
});

describe('crash recovery', () => {
  const upstream = new ScriptedUpstream();
  const hanging: ServerResponse[] = [];
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child) await kill9(child);
    for (const res of hanging) res.destroy();
    await upstream.close();
  });

  it('charges a row left open by a kill -9 its prompt at the company’s fallback price', async () => {
    await upstream.start();
    // The upstream never answers: the request is in flight when tollgate dies.
    upstream.script = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      hanging.push(res);
    };
    dir = mkdtempSync(join(tmpdir(), 'tollgate-fallback-recovery-'));
    const { url, configFile, key, rows } = await childConfig(
      dir,
      'recovery',
      { baseUrl: upstream.url },
      {
        allocations: [{ id: 'usd', usd: 10 }],
        fallbackPrices: [{ models: ['house-llm'], price: { input: 5, output: 15, ...FALLBACK } }],
      },
    );
    child = await serveChild(configFile, url);
    const client = new OpenAI({ apiKey: key.key, baseURL: `${url}/v1`, maxRetries: 0 });
    const asked = client.chat.completions
      .create({ model: 'house-llm', messages: [{ role: 'user', content: 'hello there, how are you today?' }] })
      .catch(() => undefined);
    await waitUntil(() => upstream.seen.length === 1, { what: 'the request to reach the upstream' });
    await waitUntil(() => rows("SELECT forwarded FROM requests WHERE status = 'held'")[0]?.forwarded === 1, {
      what: 'its row to be marked forwarded',
    });
    await kill9(child);
    await asked;

    child = await serveChild(configFile, url);
    await kill9(child);
    child = undefined;
    const [row] = rows(
      'SELECT status, estimated_prompt_tokens AS prompt, usage_source, error_code, cost_micro_usd FROM requests',
    );
    // $5 per 1M input tokens: 5 micro-USD a prompt token.
    expect(row).toMatchObject({ status: 'interrupted', usage_source: 'estimated', error_code: 'interrupted' });
    expect(row!.prompt).toBeGreaterThan(0);
    expect(row!.cost_micro_usd).toBe(Number(row!.prompt) * 5);
    expect(rows("SELECT spent, held FROM grants WHERE id = 'usd'")[0]).toEqual({ spent: row!.cost_micro_usd, held: 0 });
  }, 60_000);
});
