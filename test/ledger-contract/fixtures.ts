import type { GrantTerms, HoldRequest, Outcome, RequestFacts } from '../../src/ledger/port.js';
import type { AdapterUnderTest, OpenedLedger } from './adapters.js';

/**
 * The values the ledger tests build over and over: a grant's terms, a request's facts, a hold, a
 * settled outcome and the clock. Each builder takes the test's differing values as overrides, so a
 * test shows only what matters to it.
 */

/** The tests' clock: 2026-11-22 10:00:00 UTC. */
export const NOW = new Date('2026-11-22T10:00:00.000Z');
/** Five seconds after {@link NOW}. */
export const LATER = new Date('2026-11-22T10:00:05.000Z');
/** `ms` milliseconds after {@link NOW}. */
export const at = (ms: number): Date => new Date(NOW.getTime() + ms);

/**
 * A grant's terms: by default grant `g` of company `acme`, 1000 tokens, no models, dates, purchase
 * or note; `overrides` replace any field.
 */
export const grantTerms = (overrides: Partial<GrantTerms> = {}): GrantTerms => ({
  id: 'g',
  companyId: 'acme',
  unit: 'tokens',
  amount: 1000,
  unlimited: false,
  models: null,
  startsAt: null,
  expiresAt: null,
  purchaseId: null,
  note: null,
  ...overrides,
});

let seq = 0;
/**
 * The next request id of this test file: `prefix` then the file's running sequence (1, 2, …)
 * padded with zeros to `digits` digits, e.g. `req_000001`. The sequence is one per test file
 * (vitest loads this module once per file).
 */
export const nextRequestId = (prefix = 'req_', digits = 6): string => `${prefix}${String(++seq).padStart(digits, '0')}`;

/**
 * A request's facts: by default a non-streamed `/v1/chat/completions` of `gpt-4o-mini` by key
 * `acme-key` of company `acme`, 10 estimated prompt tokens, id {@link nextRequestId}() unless
 * `overrides.id` is given (then the sequence does not advance).
 */
export const requestFacts = (overrides: Partial<RequestFacts> = {}): RequestFacts => ({
  id: overrides.id ?? nextRequestId(),
  companyId: 'acme',
  keyId: 'acme-key',
  endpoint: '/v1/chat/completions',
  requestedModel: 'gpt-4o-mini',
  stream: false,
  estimatedPromptTokens: 10,
  ...overrides,
});

/** A hold of up to `maxTokens` tokens (at least 10, or `maxTokens` if smaller), unclamped, at most 1 000 000 pico-USD a token. */
export const hold = (maxTokens: number, overrides: Partial<HoldRequest> = {}): HoldRequest => ({
  minTokens: Math.min(10, maxTokens),
  maxTokens,
  clamp: false,
  maxPicoPerToken: 1_000_000,
  ...overrides,
});

/** A 200 outcome that used `tokens` input tokens, reported by the upstream, costing `tokens` micro-USD. */
export const tokensUsed = (tokens: number, overrides: Partial<Outcome> = {}): Outcome => ({
  httpStatus: 200,
  usage: { inputTokens: tokens, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0, totalTokens: tokens },
  usageSource: 'upstream',
  meteredTokens: tokens,
  costMicroUsd: tokens,
  latencyMs: 1,
  ...overrides,
});

/** Opens a fresh, empty ledger of `adapter` and syncs `grants` (no purchases) into it at `now`. */
export async function openWithGrants(
  adapter: AdapterUnderTest,
  grants: GrantTerms[],
  now: Date = NOW,
): Promise<OpenedLedger> {
  const opened = await adapter.open();
  await opened.ledger.syncGrants(grants, [], now);
  return opened;
}
