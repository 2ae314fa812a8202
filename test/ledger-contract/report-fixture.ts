import { grantTerms } from '../../src/config/grants.js';
import { parseConfig } from '../../src/config/load.js';
import type { Ledger } from '../../src/ledger/port.js';

/**
 * A ledger seeded through the port (admit, settle, void at fixed instants) for the report queries:
 * two companies, grants of every kind, settled, voided and held requests.
 */
/** The fixed "now" of every report: 7 days back is 2026-10-24T12:00:00.000Z. */
export const NOW = new Date('2026-10-31T12:00:00.000Z');
const SYNC_AT = new Date('2026-10-01T00:00:00.000Z');
const SOURCE = { source: 'https://platform.openai.com/docs/pricing', date: '2025-08-07' };
/** $10 per 1M tokens, in pico-USD per token: the hold price used for every seeded request. */
const PICO_PER_TOKEN = 10_000_000;
export const DAVE = 'dave, "the boss"';

export const config = parseConfig({
  ledger: { path: 'unused.db' },
  companies: {
    acme: {
      name: 'Acme',
      allocations: [
        { id: 'acme-main', tokens: 1_000_000, startsAt: '2026-10-01T00:00:00Z', purchase: 'openai-2026-10' },
        { id: 'acme-embed', tokens: 50_000, models: ['text-embedding-3-small'] },
        { id: 'acme-usd', usd: 10, models: ['gpt-4o'], expiresAt: '2099-06-30T00:00:00Z' },
        { id: 'acme-nano', unlimited: true, models: ['gpt-5-nano'], expiresAt: '2099-12-31T00:00:00Z' },
        { id: 'acme-expired', tokens: 1000, expiresAt: '2026-01-01T00:00:00Z' },
      ],
    },
    globex: {
      name: 'Globex',
      allocations: [
        { id: 'globex-main', tokens: 200_000 },
        { id: 'globex-next', tokens: 5000, startsAt: '2099-01-01T00:00:00Z' },
      ],
    },
  },
  purchases: {
    'openai-2026-10': { date: '2026-10-01', totalTokens: 5_000_000, costPerTokenUsd: 0.000002, provider: 'openai' },
  },
  prices: {
    'gpt-4o': { input: 2.5, output: 10, ...SOURCE },
    'gpt-4o-mini': { input: 0.15, output: 0.6, ...SOURCE },
  },
});

export interface Seed {
  id: string;
  at: string;
  company: string;
  key: string;
  user: string;
  endpoint: string;
  model: string;
  feature?: string;
  /** input, cached, output, reasoning, total tokens; cost micro-USD; latency ms. Absent: voided with HTTP 500. */
  usage?: [number, number, number, number, number, number, number];
  latencyMs: number;
  /** Left held (in flight), never settled. */
  held?: boolean;
}

export const CHAT = '/v1/chat/completions';
export const SEEDS: Seed[] = [
  {
    id: 'r01',
    at: '2026-10-10T09:15:00.000Z',
    company: 'acme',
    key: 'acme-web',
    user: 'alice',
    endpoint: CHAT,
    model: 'gpt-4o-mini',
    usage: [1000, 200, 500, 0, 1500, 450, 0],
    latencyMs: 120.4,
  },
  {
    id: 'r09',
    at: '2026-10-24T09:00:00.000Z',
    company: 'acme',
    key: 'acme-web',
    user: 'alice',
    endpoint: CHAT,
    model: 'gpt-4o-mini',
    usage: [500, 0, 250, 0, 750, 225, 0],
    latencyMs: 100,
  },
  // One millisecond before the 7-day cut-off, then exactly at it (since is inclusive).
  {
    id: 'r02',
    at: '2026-10-24T11:59:59.999Z',
    company: 'acme',
    key: 'acme-web',
    user: 'alice',
    endpoint: CHAT,
    model: 'gpt-4o-mini',
    usage: [2000, 0, 1000, 0, 3000, 900, 0],
    latencyMs: 200,
  },
  {
    id: 'r03',
    at: '2026-10-24T12:00:00.000Z',
    company: 'acme',
    key: 'acme-web',
    user: 'bob',
    endpoint: '/v1/embeddings',
    model: 'text-embedding-3-small',
    usage: [4000, 0, 0, 0, 4000, 80, 0],
    latencyMs: 50,
  },
  {
    id: 'g01',
    at: '2026-10-25T14:00:00.000Z',
    company: 'globex',
    key: 'globex-key',
    user: 'erin',
    endpoint: CHAT,
    model: 'gpt-4o-mini',
    feature: 'summary',
    usage: [500, 100, 500, 0, 1000, 375, 0],
    latencyMs: 300,
  },
  {
    id: 'g02',
    at: '2026-10-28T23:59:59.999Z',
    company: 'globex',
    key: 'globex-key',
    user: 'erin',
    endpoint: '/v1/completions',
    model: 'gpt-3.5-turbo-instruct',
    usage: [50, 0, 20, 0, 70, 115, 0],
    latencyMs: 250,
  },
  {
    id: 'r04',
    at: '2026-10-29T08:00:00.000Z',
    company: 'acme',
    key: 'acme-web',
    user: 'bob',
    endpoint: CHAT,
    model: 'gpt-4o',
    usage: [100, 0, 50, 0, 150, 750, 0],
    latencyMs: 800,
  },
  {
    id: 'r05',
    at: '2026-10-29T08:30:00.000Z',
    company: 'acme',
    key: 'acme-web',
    user: 'carol',
    endpoint: '/v1/responses',
    model: 'gpt-5-nano',
    usage: [300, 0, 700, 600, 1000, 290, 0],
    latencyMs: 1500,
  },
  {
    id: 'r06',
    at: '2026-10-29T09:10:00.000Z',
    company: 'acme',
    key: 'acme-web',
    user: 'alice',
    endpoint: CHAT,
    model: 'gpt-4o-mini',
    latencyMs: 30,
  },
  {
    id: 'r07',
    at: '2026-10-31T11:00:00.000Z',
    company: 'acme',
    key: 'acme-batch',
    user: DAVE,
    endpoint: CHAT,
    model: 'gpt-4o-mini',
    feature: 'chat',
    usage: [10, 0, 5, 0, 15, 5, 0],
    latencyMs: 99.5,
  },
  {
    id: 'r08',
    at: '2026-10-31T11:30:00.000Z',
    company: 'acme',
    key: 'acme-web',
    user: 'alice',
    endpoint: CHAT,
    model: 'gpt-4o-mini',
    latencyMs: 0,
    held: true,
  },
];

/** Writes the grants and the seeded requests into an empty ledger. */
export async function seedLedger(ledger: Ledger): Promise<void> {
  const { grants, purchases } = grantTerms(config, SYNC_AT);
  await ledger.syncGrants(grants, purchases, SYNC_AT);
  for (const s of SEEDS) {
    const at = new Date(s.at);
    const total = s.usage?.[4] ?? 0;
    const admitted = await ledger.admit(
      {
        id: s.id,
        companyId: s.company,
        keyId: s.key,
        userId: s.user,
        feature: s.feature ?? null,
        endpoint: s.endpoint,
        requestedModel: s.model,
        stream: false,
        estimatedPromptTokens: 100,
      },
      { minTokens: 100, maxTokens: s.held ? 2000 : total + 100, clamp: false, maxPicoPerToken: PICO_PER_TOKEN },
      at,
      [],
    );
    if (!admitted.ok) throw new Error(`seed ${s.id} refused`);
    if (s.held) continue;
    const end = new Date(at.getTime() + Math.ceil(s.latencyMs));
    if (!s.usage) {
      await ledger.void(
        s.id,
        { httpStatus: 500, usageSource: 'none', latencyMs: s.latencyMs, errorCode: 'server_error' },
        end,
      );
      continue;
    }
    const [inputTokens, cachedInputTokens, outputTokens, reasoningTokens, totalTokens, cost] = s.usage;
    await ledger.settle(
      s.id,
      {
        httpStatus: 200,
        usage: { inputTokens, cachedInputTokens, outputTokens, reasoningTokens, totalTokens },
        usageSource: 'upstream',
        meteredTokens: totalTokens,
        costMicroUsd: cost,
        latencyMs: s.latencyMs,
      },
      end,
    );
  }
}
