import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import Database from 'better-sqlite3';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../src/ledger/sqlite/verify.js';
import { childConfig, kill9, serveChild } from './support/child.js';
import { TEST_PRICES } from './support/harness.js';
import { json, ScriptedUpstream } from './support/scripted-upstream.js';
import { waitUntil } from './support/wait.js';

/**
 * The crash window, with tollgate as a child process killed by SIGKILL at a chosen moment:
 * - a response the client received in full is settled with the upstream's usage (the end of the
 *   response is released only once its settle committed);
 * - a request that never reached the upstream (waiting for the pool's only connection) is resolved
 *   without charge at the next start, while the one the upstream had is charged its prompt.
 */
const USAGE = { prompt_tokens: 123, completion_tokens: 45, total_tokens: 168 };
const completion = { id: 'chatcmpl-w', object: 'chat.completion', created: 1, model: 'gpt-4o-mini' };
const chunk = (delta: object, usage: object | null = null) =>
  `data: ${JSON.stringify({ ...completion, object: 'chat.completion.chunk', choices: delta ? [{ index: 0, delta }] : [], usage })}\n\n`;

let upstream: ScriptedUpstream;
let dir: string;
let child: ChildProcess | undefined;
const hanging: ServerResponse[] = [];

beforeAll(async () => {
  upstream = await new ScriptedUpstream().start();
  dir = mkdtempSync(join(tmpdir(), 'tollgate-crash-window-'));
});
afterEach(async () => {
  if (child) await kill9(child);
  child = undefined;
});
afterAll(async () => {
  for (const res of hanging) res.destroy();
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a config for one company with one key on a fresh ledger; returns what the test needs. */
async function setUp(name: string, connections = 8) {
  const t = await childConfig(
    dir,
    name,
    { baseUrl: upstream.url, connections },
    { allocations: [{ id: 'g', tokens: 1_000_000 }] },
    { prices: TEST_PRICES },
  );
  const client = new OpenAI({ apiKey: t.key.key, baseURL: `${t.url}/v1`, maxRetries: 0 });
  return { ...t, client };
}

describe('a response the client received in full', () => {
  it('is settled with the upstream usage even when tollgate is killed right after', async () => {
    const t = await setUp('delivered');
    upstream.script = (req, res) => {
      const body = JSON.parse(req.body.toString()) as { stream?: boolean };
      if (!body.stream)
        return json(res, 200, {
          ...completion,
          choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
          usage: USAGE,
        });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk({ role: 'assistant', content: 'h' }));
      res.write(chunk({ content: 'i' }));
      res.end(`${chunk(null as unknown as object, USAGE)}data: [DONE]\n\n`);
    };
    const messages = [{ role: 'user' as const, content: 'hello' }];

    child = await serveChild(t.configFile, t.url);
    const answer = await t.client.chat.completions.create({ model: 'gpt-4o-mini', messages });
    expect(answer.usage?.total_tokens).toBe(168);
    await kill9(child);
    child = await serveChild(t.configFile, t.url);
    const stream = await t.client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('hi');
    await kill9(child);
    // A last start: recovery finds nothing of these two to resolve.
    child = await serveChild(t.configFile, t.url);
    await kill9(child);

    const rows = t.rows(
      'SELECT status, stream, input_tokens, output_tokens, usage_source, error_code FROM requests ORDER BY id',
    );
    const settled = { status: 'settled', input_tokens: 123, output_tokens: 45, usage_source: 'upstream' };
    expect(rows).toEqual([
      { ...settled, stream: 0, error_code: null },
      { ...settled, stream: 1, error_code: null },
    ]);
  }, 60_000);
});

describe('a request the upstream never received', () => {
  it('is resolved without charge at the next start; the one it had is charged its prompt', async () => {
    const t = await setUp('unsent', 1);
    // The upstream holds the first request's response open: the pool's only connection stays busy.
    upstream.script = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      hanging.push(res);
    };
    const before = upstream.seen.length;
    child = await serveChild(t.configFile, t.url);
    const ask = () =>
      t.client.chat.completions
        .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello there' }] })
        .catch(() => undefined);
    const first = ask();
    await waitUntil(() => upstream.seen.length === before + 1, { what: 'the first request to reach the upstream' });
    const second = ask();
    // Both rows are committed; the first is marked as sent, the second waits for a connection.
    await waitUntil(
      () =>
        t
          .rows("SELECT forwarded FROM requests WHERE status = 'held' ORDER BY id")
          .map((r) => r.forwarded)
          .join() === '1,0',
      { what: 'one row forwarded and one waiting' },
    );
    await kill9(child);
    await Promise.all([first, second]);
    expect(upstream.seen.length).toBe(before + 1);

    child = await serveChild(t.configFile, t.url);
    await kill9(child);
    const rows = t.rows(
      'SELECT status, estimated_prompt_tokens AS prompt, metered_tokens, usage_source, error_code FROM requests ORDER BY id',
    );
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ status: 'interrupted', usage_source: 'estimated', error_code: 'interrupted' });
    expect(rows[0]!.metered_tokens).toBe(rows[0]!.prompt);
    expect(rows[0]!.prompt).toBeGreaterThan(0);
    // Charged nothing: it never went upstream. (Its prompt is on the row when admission counted it.)
    expect([0, rows[0]!.prompt]).toContain(rows[1]!.prompt);
    expect(rows[1]).toEqual({
      status: 'interrupted',
      prompt: rows[1]!.prompt,
      metered_tokens: 0,
      usage_source: 'none',
      error_code: 'interrupted_before_upstream',
    });
    const db = new Database(t.ledger, { readonly: true });
    try {
      expect(verifyLedger(db).filter((f) => f.severity === 'error')).toEqual([]);
      expect(db.prepare("SELECT spent, held FROM grants WHERE id = 'g'").get()).toEqual({
        spent: rows[0]!.prompt,
        held: 0,
      });
    } finally {
      db.close();
    }
  }, 60_000);
});
