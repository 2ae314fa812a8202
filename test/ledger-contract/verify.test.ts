import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Ledger } from '../../src/ledger/port.js';
import { ADAPTERS, type OpenedLedger } from './adapters.js';
import { grantTerms, hold, NOW, openWithGrants, requestFacts, tokensUsed } from './fixtures.js';

/**
 * `verify`'s overdraft rule, for each adapter: a request's debits may overdraw its grants only by
 * what its settle charged beyond its hold. An overdraft by a request that held nothing (work billed
 * outside admission, as retrievals billed background responses before the settler) is an error,
 * not a warning; rows deferred on upstream work are not reported as open holds.
 */

const grant = grantTerms({ amount: 100 });
const facts = (endpoint = '/v1/responses') => requestFacts({ endpoint });
const used = (tokens: number) => tokensUsed(tokens);

describe.each(ADAPTERS)('verify: overdrafts ($name)', (adapter) => {
  let opened: OpenedLedger;
  let ledger: Ledger;
  beforeEach(async () => {
    opened = await openWithGrants(adapter, [grant], NOW);
    ledger = opened.ledger;
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
