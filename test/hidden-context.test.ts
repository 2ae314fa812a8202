import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { maxInputTokens, maxOutputTokens } from '../src/metering/tokenizer.js';
import { WEB_SEARCH_TOKENS_PER_CALL, DEFAULT_TOOL_CALLS } from '../src/pricing/tool-fees.js';
import { FakeUpstream } from './support/fake-upstream.js';
import type { Recording } from './support/fixtures.js';
import { startTollgate, type Tollgate } from './support/harness.js';

/**
 * Through the SDK and a real tollgate: built-in tool calls are recorded on the row and billed in
 * nano-USD, their allowance is held at admission, and a request that continues an earlier
 * response or conversation is held for the turns it does not show — from the caller's own rows only.
 */

const response = (
  id: string,
  usage: { input_tokens: number; output_tokens: number },
  output: unknown[] = [],
): Recording => ({
  name: id,
  request: { method: 'POST', path: '/v1/responses', headers: {}, body: null },
  response: {
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: {
      id,
      object: 'response',
      created_at: 1780000000,
      status: 'completed',
      model: 'gpt-4.1-2025-04-14',
      service_tier: 'default',
      output: [
        ...output,
        {
          type: 'message',
          id: `msg_${id}`,
          status: 'completed',
          role: 'assistant',
          content: [{ type: 'output_text', text: 'ok', annotations: [] }],
        },
      ],
      usage: {
        ...usage,
        total_tokens: usage.input_tokens + usage.output_tokens,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens_details: { reasoning_tokens: 0 },
      },
    },
  },
});

const recs = new Map<string, Recording>(
  [
    response('resp_first', { input_tokens: 5000, output_tokens: 1000 }, [
      { type: 'web_search_call', id: 'ws_1', status: 'completed', action: { type: 'search', query: 'news' } },
    ]),
    response('resp_second', { input_tokens: 6020, output_tokens: 10 }),
    response('resp_conv_1', { input_tokens: 3000, output_tokens: 500 }),
    response('resp_conv_2', { input_tokens: 3520, output_tokens: 5 }),
  ].map((r) => [r.name, r]),
);

let upstream: FakeUpstream;
let tollgate: Tollgate;

beforeAll(async () => {
  upstream = await new FakeUpstream(recs).start();
  tollgate = await startTollgate({
    upstreamUrl: upstream.url,
    companies: {
      acme: { allocations: [{ id: 'acme-grant', tokens: 10_000_000 }] },
      beta: { allocations: [{ id: 'beta-grant', tokens: 10_000_000 }] },
    },
    // Conversations and responses made outside tollgate (never recorded) are visible to these keys.
    objects: { unrecordedVisibleTo: ['acme-key', 'beta-key'] },
  });
});
afterAll(async () => {
  await tollgate?.close();
  await upstream?.close();
});
beforeEach(() => upstream.reset());

const ask = async (recording: string, body: Record<string, unknown>, key?: string) => {
  await tollgate
    .client(key ? tollgate.keys[key] : undefined)
    .responses.create({ model: 'gpt-4.1', input: 'Go on.', ...body } as never, {
      headers: { 'x-test-recording': recording },
    });
  await tollgate.settled();
  return tollgate.rows().at(-1)!;
};

describe('built-in tools', () => {
  it('records the calls on the row, bills their fee in nano-USD and holds the allowance', async () => {
    const row = await ask('resp_first', { tools: [{ type: 'web_search' }] });
    expect(row.tool_calls).toBe('{"web_search":1}');
    // gpt-4.1 at $2/$8 per 1M: 5000 in, 1000 out; one web search at $10 per 1,000 calls.
    expect(row.cost_nano_usd).toBe(5000 * 2000 + 1000 * 8000 + 10_000_000);
    expect(row.cost_micro_usd).toBe(28_000);
    expect(Number(row.hold_tokens)).toBeGreaterThanOrEqual(
      Number(row.estimated_prompt_tokens) + DEFAULT_TOOL_CALLS * WEB_SEARCH_TOKENS_PER_CALL,
    );
  });
});

/**
 * What a row's hold set aside for hidden context: its hold less the model's output ceiling (these
 * requests set none) and a bound of their own short prompt (its bytes: under 300 here). Admission
 * counts the prompt only when the hold needs it, so `estimated_prompt_tokens` is not read.
 */
const contextHeld = (row: Record<string, unknown>) => Number(row.hold_tokens) - maxOutputTokens('gpt-4.1');

describe('hidden context', () => {
  it('holds a previous_response_id request for the input and output of the response it continues', async () => {
    const row = await ask('resp_second', { previous_response_id: 'resp_first' });
    expect(contextHeld(row)).toBeGreaterThanOrEqual(6000);
    expect(contextHeld(row)).toBeLessThan(6300);
  });

  it('never reads another company’s response (404, nothing held or sent); an id tollgate never saw holds the model’s whole input window', async () => {
    const rows = tollgate.rows().length;
    const err = await ask('resp_second', { previous_response_id: 'resp_first' }, 'beta-key').catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 404 });
    expect(tollgate.rows()).toHaveLength(rows);
    expect(upstream.received).toHaveLength(0);
    const row = await ask('resp_second', { previous_response_id: 'resp_made_elsewhere' }, 'beta-key');
    expect(row.company_id).toBe('beta');
    expect(contextHeld(row)).toBeGreaterThanOrEqual(maxInputTokens('gpt-4.1'));
  });

  it('holds a conversation turn for the conversation’s newest recorded turn', async () => {
    const first = await ask('resp_conv_1', { conversation: 'conv_abc' });
    expect(first.conversation_id).toBe('conv_abc');
    const second = await ask('resp_conv_2', { conversation: { id: 'conv_abc' } });
    expect(second.conversation_id).toBe('conv_abc');
    expect(contextHeld(second)).toBeGreaterThanOrEqual(3500);
    expect(contextHeld(second)).toBeLessThan(3800);
  });

  it('ignores odd values and leaves no hold behind', async () => {
    const row = await ask('resp_second', { previous_response_id: 'x'.repeat(10_000) }).catch((e: unknown) => e);
    expect(tollgate.query("SELECT COUNT(*) AS n FROM requests WHERE status = 'held'")[0]!.n).toBe(0);
    expect(row).toBeDefined();
  });
});
