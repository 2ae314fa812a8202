import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { Ledger, Outcome } from '../../src/ledger/port.js';
import type { Usage } from '../../src/metering/usage.js';
import { grantTerms } from '../ledger-contract/fixtures.js';
import type { FakeRecord } from './fake-admin-api.js';

/**
 * A ledger and an OpenAI organization that disagree in known ways, for the reconciliation tests:
 *
 * - 2026-11-20, gpt-4o-mini on tollgate's key `key_tg`: the ledger has 7 output tokens more than
 *   OpenAI (700 vs 693: 1.01 %, beyond a 1 % threshold) and 3 nano-USD more cost
 *   (1.234567891 vs 0.8 + 0.434567888 USD in two line items).
 * - 2026-11-21: gpt-4o with audio tokens, and text-embedding-3-small, equal on both sides; OpenAI
 *   also has 2 dall-e-3 images on `key_tg` the ledger never saw (only at OpenAI: not drift).
 * - 2026-11-22 (today, provisional): one ledger row OpenAI does not show yet.
 * - Every day, another client's key `key_other` in the same project `proj_tg`: 10 gpt-4o requests.
 */
export const RECONCILE_NOW = new Date('2026-11-22T12:00:00.000Z');
export const ADMIN_KEY = 'sk-admin-reconcile-0123456789';
const at = (iso: string) => Date.parse(iso) / 1000;

const usage = (u: Partial<Usage>): Usage => ({
  inputTokens: 0,
  cachedInputTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
  totalTokens: (u.inputTokens ?? 0) + (u.outputTokens ?? 0),
  ...u,
});

const outcome = (u: Usage, nano: number, returnedModel?: string): Outcome => ({
  httpStatus: 200,
  usage: u,
  usageSource: 'upstream',
  meteredTokens: u.inputTokens + u.outputTokens,
  costMicroUsd: Math.round(nano / 1000),
  costNanoUsd: nano,
  latencyMs: 5,
  ...(returnedModel ? { returnedModel } : {}),
});

let seq = 0;
/** Admits and settles one row of `model` at `when` (ISO UTC) on company `acme`. */
async function row(ledger: Ledger, when: string, model: string, o: Outcome, endpoint = '/v1/chat/completions') {
  const id = `req_${String(++seq).padStart(8, '0')}`;
  const facts = { id, companyId: 'acme', keyId: 'acme-key', endpoint, requestedModel: model, stream: false };
  const admitted = await ledger.admit(
    facts,
    { minTokens: 1, maxTokens: 10, clamp: false, maxPicoPerToken: 1 },
    new Date(when),
    [],
  );
  if (!admitted.ok) throw new Error(`admission refused: ${admitted.reason}`);
  if ((await ledger.settle(id, o, new Date(when))) === false) throw new Error('settle refused');
}

/** Seeds the ledger's side (grants included). */
export async function seedLedger(ledger: Ledger): Promise<void> {
  await ledger.syncGrants(
    [grantTerms({ id: 'acme-all', amount: 1_000_000_000 })],
    [],
    new Date('2026-11-01T00:00:00Z'),
  );
  const mini = 'gpt-4o-mini-2024-07-18';
  await row(
    ledger,
    '2026-11-20T01:00:00.000Z',
    'gpt-4o-mini',
    outcome(usage({ inputTokens: 1000, cachedInputTokens: 200, outputTokens: 300 }), 600_000_000, mini),
  );
  await row(
    ledger,
    '2026-11-20T09:30:00.000Z',
    'gpt-4o-mini',
    outcome(usage({ inputTokens: 2000, outputTokens: 300 }), 600_000_000, mini),
  );
  await row(
    ledger,
    '2026-11-20T23:59:59.999Z',
    'gpt-4o-mini',
    outcome(usage({ inputTokens: 500, outputTokens: 100 }), 34_567_891, mini),
  );
  await row(
    ledger,
    '2026-11-21T08:00:00.000Z',
    'gpt-4o-realtime-preview',
    outcome(
      usage({
        inputTokens: 400,
        cachedInputTokens: 100,
        outputTokens: 250,
        audioInputTokens: 300,
        cachedAudioInputTokens: 80,
        audioOutputTokens: 200,
      }),
      150_000_000,
      'gpt-4o-realtime-preview-2024-12-17',
    ),
    '/v1/realtime',
  );
  await row(
    ledger,
    '2026-11-21T09:00:00.000Z',
    'text-embedding-3-small',
    outcome(usage({ inputTokens: 42 }), 840),
    '/v1/embeddings',
  );
  await row(
    ledger,
    '2026-11-22T10:00:00.000Z',
    'gpt-4o-mini',
    outcome(usage({ inputTokens: 10, outputTokens: 5 }), 4_500, mini),
  );
}

/** OpenAI's side, as Admin API records (see the file's comment). */
export function openaiRecords(): FakeRecord[] {
  const tg = { project_id: 'proj_tg', api_key_id: 'key_tg', user_id: null };
  const other = { project_id: 'proj_tg', api_key_id: 'key_other', user_id: null };
  const records: FakeRecord[] = [
    {
      kind: 'completions',
      time: at('2026-11-20T05:00:00Z'),
      fields: {
        ...tg,
        model: 'gpt-4o-mini-2024-07-18',
        num_model_requests: 3,
        input_tokens: 3500,
        input_cached_tokens: 200,
        output_tokens: 693,
      },
    },
    {
      kind: 'costs',
      time: at('2026-11-20T05:00:00Z'),
      fields: { ...tg, line_item: 'gpt-4o-mini-2024-07-18, input', amount: '0.8' },
    },
    {
      kind: 'costs',
      time: at('2026-11-20T05:00:00Z'),
      fields: { ...tg, line_item: 'gpt-4o-mini-2024-07-18, output', amount: '0.434567888' },
    },
    {
      kind: 'completions',
      time: at('2026-11-21T08:00:00Z'),
      fields: {
        ...tg,
        model: 'gpt-4o-realtime-preview-2024-12-17',
        num_model_requests: 1,
        input_tokens: 400,
        input_cached_tokens: 100,
        output_tokens: 250,
        input_audio_tokens: 220,
        input_cached_audio_tokens: 80,
        output_audio_tokens: 200,
      },
    },
    {
      kind: 'costs',
      time: at('2026-11-21T08:00:00Z'),
      fields: { ...tg, line_item: 'gpt-4o-realtime-preview-2024-12-17, audio input', amount: '0.15' },
    },
    {
      kind: 'embeddings',
      time: at('2026-11-21T09:00:00Z'),
      fields: { ...tg, model: 'text-embedding-3-small', num_model_requests: 1, input_tokens: 42 },
    },
    {
      kind: 'costs',
      time: at('2026-11-21T09:00:00Z'),
      fields: { ...tg, line_item: 'text-embedding-3-small', amount: '0.00000084' },
    },
    {
      kind: 'images',
      time: at('2026-11-21T10:00:00Z'),
      fields: { ...tg, model: 'dall-e-3', num_model_requests: 2, images: 2 },
    },
    {
      kind: 'costs',
      time: at('2026-11-21T10:00:00Z'),
      fields: { ...tg, line_item: 'dall-e-3, images', amount: '0.08' },
    },
    { kind: 'vector_stores', time: at('2026-11-21T00:00:00Z'), fields: { project_id: 'proj_tg', usage_bytes: 2048 } },
  ];
  for (const day of ['2026-11-20', '2026-11-21', '2026-11-22'])
    records.push(
      {
        kind: 'completions',
        time: at(`${day}T12:00:00Z`),
        fields: {
          ...other,
          model: 'gpt-4o-2024-08-06',
          num_model_requests: 10,
          input_tokens: 1000,
          output_tokens: 100,
        },
      },
      {
        kind: 'costs',
        time: at(`${day}T12:00:00Z`),
        fields: { ...other, line_item: 'gpt-4o-2024-08-06, input', amount: '0.0025' },
      },
    );
  return records;
}

/** A config whose reconciliation reads the fake at `adminUrl`, with tollgate's upstream key mapped as `mapping` says. */
export function reconcileConfig(
  adminUrl: string,
  mapping: { projectId?: string; apiKeyId?: string } | null,
  extra: Record<string, unknown> = {},
): Config {
  return parseConfig({
    ledger: { path: ':memory:' },
    companies: { acme: { name: 'Acme', keys: [], allocations: [{ id: 'acme-all', tokens: 1_000_000_000 }] } },
    reconciliation: {
      baseUrl: adminUrl,
      ...(mapping ? { upstreamKeys: { OPENAI_API_KEY: mapping } } : {}),
      ...extra,
    },
  });
}
