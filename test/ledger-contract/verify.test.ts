import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GrantTerms, Ledger, Outcome, RequestFacts } from '../../src/ledger/port.js';
import { ADAPTERS, type OpenedLedger } from './adapters.js';

/**
 * `verify`'s overdraft rule, for each adapter: a request's debits may overdraw its grants only by
 * what its settle charged beyond its hold. An overdraft by a request that held nothing (work billed
 * outside admission, as retrievals billed background responses before the settler) is an error,
 * not a warning; rows deferred on upstream work are not reported as open holds.
 */

const NOW = new Date('2026-11-22T10:00:00.000Z');
const grant: GrantTerms = {
  id: 'g',
  companyId: 'acme',
  unit: 'tokens',
  amount: 100,
  unlimited: false,
  models: null,
  startsAt: null,
  expiresAt: null,
  purchaseId: null,
  note: null,
};
let seq = 0;
const facts = (endpoint = '/v1/responses'): RequestFacts => ({
  id: `req_${String(++seq).padStart(6, '0')}`,
  companyId: 'acme',
  keyId: 'acme-key',
  endpoint,
  requestedModel: 'gpt-4o-mini',
  stream: false,
  estimatedPromptTokens: 10,
});
const used = (tokens: number): Outcome => ({
  httpStatus: 200,
  usage: { inputTokens: tokens, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0, totalTokens: tokens },
  usageSource: 'upstream',
  meteredTokens: tokens,
  costMicroUsd: tokens,
  latencyMs: 1,
});
const hold = (max: number) => ({ minTokens: 10, maxTokens: max, clamp: false, maxPicoPerToken: 1_000_000 });

describe.each(ADAPTERS)('verify: overdrafts ($name)', (adapter) => {
  let opened: OpenedLedger;
  let ledger: Ledger;
  beforeEach(async () => {
    opened = await adapter.open();
    ledger = opened.ledger;
    await ledger.syncGrants([grant], [], NOW);
  });
  afterEach(async () => {
    await opened.close();
  });
  const checks = async (severity: 'error' | 'warning') =>
    (await ledger.reader.verify()).filter((f) => f.severity === severity).map((f) => f.check);

  it('an overdraft within the charge beyond the hold is only a warning', async () => {
    const f = facts();
    await ledger.admit(f, hold(100), NOW, []);
    await ledger.settle(f.id, used(150), NOW);
    expect(await opened.raw.recordedOverdraft()).toBe(50);
    expect(await checks('error')).toEqual([]);
    expect(await checks('warning')).toEqual(['grant_overdrawn']);
  });

  it('an overdraft by a request that held nothing is an error', async () => {
    const f = facts();
    await ledger.admit(f, hold(100), NOW, []);
    await ledger.settle(f.id, used(100), NOW);
    const retrieval = facts('/v1/responses/resp_1');
    await ledger.open(retrieval, NOW);
    await ledger.settle(retrieval.id, used(52), NOW);
    expect(await opened.raw.recordedOverdraft()).toBe(52);
    const errors = (await ledger.reader.verify()).filter((x) => x.severity === 'error');
    expect(errors.map((x) => [x.check, x.rows])).toEqual([['overdraft_without_hold', [retrieval.id]]]);
  });

  it('a row deferred on upstream work is not an open hold', async () => {
    const f = facts();
    await ledger.admit(f, hold(100), NOW, []);
    await ledger.deferred.defer(
      {
        id: 'resp_a',
        kind: 'response',
        requestId: f.id,
        companyId: 'acme',
        model: null,
        multiplier: 1,
        promptTokens: 10,
        subject: 'key:acme-key',
      },
      NOW,
      NOW,
    );
    expect(await checks('error')).toEqual([]);
    expect(await checks('warning')).toEqual([]);
  });
});
