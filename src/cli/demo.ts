import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import { mintKey } from '../auth/api-key.js';
import { parseConfig } from '../config/load.js';
import type { Ledger, RequestRow } from '../ledger/port.js';
import { formatTable, type Column } from '../reports/table.js';
import { startMockUpstream } from '../demo/mock-upstream.js';
import { createLogger } from '../log.js';
import { startServer, type RunningServer } from '../server.js';

const MODEL = 'gpt-4o-mini';
const EMBEDDING_MODEL = 'text-embedding-3-small';
const PRICE_SOURCE = { source: 'https://platform.openai.com/docs/pricing', date: '2025-08-07' };
/** How long to wait for the last rows to settle after the SDK returned (ms). */
const SETTLE_TIMEOUT_MS = 2000;

/**
 * `tollgate demo`: runs everything locally with no OpenAI key and no network. Starts the built-in
 * mock upstream and a tollgate in front of it (temporary config and ledger in a fresh temp dir,
 * one company `demo` with a new key and 100,000 tokens), sends a few requests with the official
 * openai SDK, then prints the ledger rows they produced and the company's balance.
 */
export async function demoCommand(): Promise<void> {
  const out = (line = '') => process.stdout.write(`${line}\n`);
  const step = (text: string) => out(`\n▸ ${text}`);

  const mock = await startMockUpstream();
  let server: RunningServer | undefined;
  try {
    const dir = await mkdtemp(join(tmpdir(), 'tollgate-demo-'));
    const minted = mintKey();
    const raw = {
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { baseUrl: mock.url, apiKeyEnv: 'OPENAI_API_KEY', connections: 8 },
      ledger: { path: join(dir, 'ledger.db') },
      companies: {
        demo: {
          name: 'Demo Company',
          keys: [
            {
              id: 'demo-key',
              sha256: minted.sha256,
              prefix: minted.prefix,
              revoked: false,
              note: 'minted by tollgate demo',
            },
          ],
          allocations: [{ id: 'demo-allocation', tokens: 100_000, note: 'tollgate demo' }],
        },
      },
      prices: {
        [MODEL]: { input: 0.15, cachedInput: 0.075, output: 0.6, ...PRICE_SOURCE },
        [EMBEDDING_MODEL]: { input: 0.02, ...PRICE_SOURCE },
      },
    };
    const file = join(dir, 'proxy.config.json');
    await writeFile(file, `${JSON.stringify(raw, null, 2)}\n`);
    const config = parseConfig(raw, file);

    step('Starting a mock OpenAI upstream and tollgate in front of it');
    server = await startServer(config, { upstreamKey: 'sk-mock', log: createLogger('silent') });
    out(`  mock upstream  ${mock.url}`);
    out(`  tollgate       ${server.url}`);
    out(`  config         ${file}`);
    out(`  company key    ${minted.prefix}… (company "demo", 100,000 tokens)`);

    // No retries: a failed request should show up as a failure, not as extra ledger rows.
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: minted.key, maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: 'Say hello to the tollgate demo.' }];

    step('1. Chat completion, not streamed: the usage comes in the JSON body');
    const completion = await client.chat.completions.create({ model: MODEL, messages });
    out(`  ${completion.choices[0]?.message.content ?? ''}`);
    out(
      `  usage: ${JSON.stringify(completion.usage && { prompt: completion.usage.prompt_tokens, completion: completion.usage.completion_tokens })}`,
    );

    step(
      '2. Chat completion, streamed without include_usage: tollgate asks the upstream for usage and hides it from the client',
    );
    process.stdout.write('  ');
    let usageSeen = false;
    for await (const chunk of await client.chat.completions.create({ model: MODEL, messages, stream: true })) {
      process.stdout.write(chunk.choices[0]?.delta.content ?? '');
      if (chunk.usage) usageSeen = true;
    }
    out();
    out(`  usage chunk seen by the client: ${usageSeen ? 'yes (unexpected)' : 'no, as OpenAI would send it'}`);

    step('3. Chat completion, streamed with stream_options.include_usage: the usage chunk reaches the client');
    process.stdout.write('  ');
    let streamedUsage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of await client.chat.completions.create({
      model: MODEL,
      messages,
      stream: true,
      stream_options: { include_usage: true },
    })) {
      process.stdout.write(chunk.choices[0]?.delta.content ?? '');
      if (chunk.usage) streamedUsage = chunk.usage;
    }
    out();
    out(
      `  usage: ${JSON.stringify(streamedUsage && { prompt: streamedUsage.prompt_tokens, completion: streamedUsage.completion_tokens })}`,
    );

    step('4. Responses API, not streamed');
    const res = await client.responses.create({ model: MODEL, input: 'Say hello to the tollgate demo.' });
    out(`  ${res.output_text}`);
    out(`  usage: ${JSON.stringify(res.usage && { input: res.usage.input_tokens, output: res.usage.output_tokens })}`);

    step('5. Responses API, streamed: the usage arrives with response.completed');
    process.stdout.write('  ');
    for await (const event of await client.responses.create({
      model: MODEL,
      input: 'Say hello to the tollgate demo.',
      stream: true,
    })) {
      if (event.type === 'response.output_text.delta') process.stdout.write(event.delta);
      else if (event.type === 'response.completed')
        out(
          `\n  usage: ${JSON.stringify(event.response.usage && { input: event.response.usage.input_tokens, output: event.response.usage.output_tokens })}`,
        );
    }

    step('6. Embeddings');
    const emb = await client.embeddings.create({
      model: EMBEDDING_MODEL,
      input: ['tollgate meters tokens', 'one row per request'],
    });
    out(
      `  ${emb.data.length} vectors of ${emb.data[0]?.embedding.length ?? 0} floats; usage: ${JSON.stringify({ prompt: emb.usage.prompt_tokens })}`,
    );

    step('The ledger: one row per request (tokens, cost in micro-USD, latency in ms)');
    out(
      formatTable(COLUMNS, await settledRows(server.runtime.ledger))
        .replace(/^/gm, '  ')
        .trimEnd(),
    );

    step('The company balance');
    const balance = await server.runtime.ledger.balance('demo', new Date());
    for (const g of balance.grants) {
      const unit = g.unit === 'micro_usd' ? 'µUSD' : 'tokens';
      out(
        `  grant ${g.id}: ${g.unlimited ? 'unlimited' : `${g.amount} ${unit}`} granted, ${g.spent} spent, ${g.held} held, ${g.remaining ?? 'unlimited'} left`,
      );
    }
    out(`  available: ${balance.tokens} tokens`);
    out(`\nThe temporary config and ledger are kept in ${dir} (delete it when done).`);
  } finally {
    await server?.close();
    await mock.close();
  }
}

/** The demo's columns: the row's id, what was asked and returned, tokens, cost (µUSD), usage source, latency. */
const COLUMNS: Column<RequestRow>[] = [
  { title: 'id', cell: (r) => r.id },
  { title: 'endpoint', cell: (r) => r.endpoint },
  { title: 'requested', cell: (r) => r.requestedModel ?? '-' },
  { title: 'returned', cell: (r) => r.returnedModel ?? '-' },
  { title: 'stream', cell: (r) => (r.stream ? 'yes' : 'no') },
  { title: 'status', cell: (r) => r.status },
  { title: 'in', cell: (r) => String(r.inputTokens), numeric: true },
  { title: 'cached', cell: (r) => String(r.cachedInputTokens), numeric: true },
  { title: 'out', cell: (r) => String(r.outputTokens), numeric: true },
  { title: 'total', cell: (r) => String(r.totalTokens), numeric: true },
  { title: 'µUSD', cell: (r) => String(r.costMicroUsd), numeric: true },
  { title: 'usage', cell: (r) => r.usageSource ?? '-' },
  { title: 'ms', cell: (r) => (r.latencyMs === null ? '-' : r.latencyMs.toFixed(1)), numeric: true },
];

/**
 * The demo's ledger rows. A non-streamed response can reach the SDK just before tollgate settles
 * its row, so this first waits (up to SETTLE_TIMEOUT_MS) until no row is still `held`.
 */
async function settledRows(ledger: Ledger): Promise<RequestRow[]> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  while ((await ledger.reader.openHolds()) > 0 && Date.now() < deadline) await sleep(20);
  return ledger.reader.rows({});
}
