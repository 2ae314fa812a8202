import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Ledger, Outcome, RequestFacts } from '../../src/ledger/port.js';
import { ADAPTERS, type OpenedLedger } from './adapters.js';
import { grantTerms, openWithGrants, requestFacts } from './fixtures.js';

/**
 * What the port adds for exact billing, for each adapter: `reader.contextTokens` (the earlier turn
 * a request continues, by response or conversation, within one company) and nano-USD costs that
 * reports sum exactly.
 */

const NOW = new Date('2026-11-30T10:00:00.000Z');
const grant = (id: string, companyId: string) =>
  grantTerms({ id, companyId, unit: 'micro_usd', amount: 1_000_000_000 });
const facts = (companyId: string, extra: Partial<RequestFacts> = {}) =>
  requestFacts({
    companyId,
    keyId: `${companyId}-key`,
    endpoint: '/v1/responses',
    requestedModel: 'gpt-4.1',
    ...extra,
  });
const outcome = (input: number, output: number, extra: Partial<Outcome> = {}): Outcome => ({
  httpStatus: 200,
  usage: {
    inputTokens: input,
    cachedInputTokens: 0,
    outputTokens: output,
    reasoningTokens: 0,
    totalTokens: input + output,
  },
  usageSource: 'upstream',
  meteredTokens: input + output,
  costMicroUsd: 0,
  costNanoUsd: 400,
  latencyMs: 1,
  ...extra,
});

describe.each(ADAPTERS)('exact billing reads ($name)', (adapter) => {
  let opened: OpenedLedger;
  let ledger: Ledger;
  beforeEach(async () => {
    opened = await openWithGrants(adapter, [grant('acme-usd', 'acme'), grant('beta-usd', 'beta')], NOW);
    ledger = opened.ledger;
  });
  afterEach(() => opened.close());

  const run = async (f: RequestFacts, o: Outcome) => {
    const admitted = await ledger.admit(
      f,
      { minTokens: 10, maxTokens: 10_000, clamp: false, maxPicoPerToken: 1_000_000 },
      NOW,
      [],
    );
    expect(admitted.ok).toBe(true);
    await ledger.settle(f.id, o, NOW);
  };

  it('finds the turn a response id or a conversation continues, only within the company', async () => {
    await run(facts('acme'), outcome(5000, 1000, { billedObject: { id: 'resp_1', kind: 'response' } }));
    await run(facts('acme', { conversationId: 'conv_1' }), outcome(300, 20));
    await run(facts('acme', { conversationId: 'conv_1' }), outcome(340, 30));
    expect(await ledger.reader.contextTokens('acme', { responseId: 'resp_1' })).toBe(6000);
    expect(await ledger.reader.contextTokens('acme', { conversationId: 'conv_1' })).toBe(370);
    expect(await ledger.reader.contextTokens('beta', { responseId: 'resp_1' })).toBeUndefined();
    expect(await ledger.reader.contextTokens('beta', { conversationId: 'conv_1' })).toBeUndefined();
    expect(await ledger.reader.contextTokens('acme', { responseId: 'resp_unknown' })).toBeUndefined();
    expect(await ledger.reader.contextTokens('acme', {})).toBeUndefined();
  });

  it('sums rows’ nano-USD costs exactly: three rows of 0.4 micro-USD report 1 micro-USD, not 0', async () => {
    for (let i = 0; i < 3; i++) await run(facts('acme'), outcome(2, 0));
    const [row] = await ledger.reader.usage({ companyId: 'acme' }, 'none');
    expect(row!.costMicroUsd).toBe(1);
    expect(await ledger.reader.verify()).toEqual([]);
  });
});
