/**
 * The reports bench's ledger: `rows` finished requests spread over `days` days before `end`, shaped
 * like a multi-tenant deployment — 20 companies of very different sizes (Zipf), 4,000 end users
 * (Zipf activity; a third of the traffic comes with a company key and no user), 3 keys per company,
 * 8 models, 5 endpoints, 3 feature rates, a few percent of errors — deterministic for a seed. It
 * also gives the config that serves it (the same companies, keys and grants).
 */

export const COMPANIES = 20;
export const USERS = 4_000;
export const MODELS = [
  'gpt-4o-mini',
  'gpt-4.1-mini',
  'gpt-4o',
  'gpt-5-mini',
  'gpt-4.1',
  'o4-mini',
  'gpt-5',
  'gpt-4.1-nano',
] as const;
const EMBEDDING = 'text-embedding-3-small';
export const FEATURES = ['summary', 'search', 'assistant'] as const;

/** One generated request row, the columns the loaders write. */
export interface BenchRow {
  id: string;
  /** ms since the epoch. */
  at: number;
  companyId: string;
  userId: string | null;
  keyId: string;
  model: string;
  endpoint: string;
  feature: string | null;
  status: 'settled' | 'voided';
  httpStatus: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  totalTokens: number;
  costNanoUsd: number;
  latencyMs: number;
  /** The grant it burned (`<company>-grant`). */
  grantId: string;
}

export const companyId = (i: number) => `co${String(i + 1).padStart(2, '0')}`;
export const keyIdOf = (company: string, k: number) => `${company}-k${k + 1}`;
export const grantIdOf = (company: string) => `${company}-grant`;

/** A deterministic PRNG (mulberry32), uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cumulative Zipf weights (s = 1) over n items, for sampling by binary search. */
function zipf(n: number): Float64Array {
  const c = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) c[i] = sum += 1 / (i + 1);
  for (let i = 0; i < n; i++) c[i]! /= sum;
  return c;
}
function pick(cum: Float64Array, u: number): number {
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cum[mid]! < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface User {
  id: string;
  company: number;
  key: number;
  models: [number, number];
  feature: number;
}

/**
 * Yields `rows` rows in admission order (one every `days × 86,400,000 / rows` ms, jittered within
 * the step), the last just before `end`.
 */
export function* benchRows(rows: number, days: number, end: number, seed = 29): Generator<BenchRow> {
  const r = prng(seed);
  const companyOf = zipf(COMPANIES);
  const modelOf = zipf(MODELS.length);
  // Users belong to companies in proportion to the companies' traffic; each has a usual key, two models and maybe a feature.
  const users: User[][] = Array.from({ length: COMPANIES }, () => []);
  for (let u = 0; u < USERS; u++) {
    const company = pick(companyOf, r());
    users[company]!.push({
      id: `user-${String(u).padStart(4, '0')}`,
      company,
      key: Math.floor(r() * 2),
      models: [pick(modelOf, r()), pick(modelOf, r())],
      feature: r() < 0.7 ? -1 : Math.floor(r() * FEATURES.length),
    });
  }
  const userOf = users.map((list) => zipf(Math.max(1, list.length)));
  const step = (days * 86_400_000) / rows;
  const start = end - days * 86_400_000;
  for (let i = 0; i < rows; i++) {
    const at = Math.floor(start + i * step + r() * step * 0.9);
    const company = pick(companyOf, r());
    const cid = companyId(company);
    const list = users[company]!;
    const withUser = list.length > 0 && r() >= 1 / 3;
    const user = withUser ? list[pick(userOf[company]!, r())]! : undefined;
    const e = r();
    const endpoint =
      e < 0.7
        ? '/v1/chat/completions'
        : e < 0.85
          ? '/v1/responses'
          : e < 0.95
            ? '/v1/embeddings'
            : e < 0.98
              ? '/v1/images/generations'
              : '/v1/audio/transcriptions';
    const model =
      endpoint === '/v1/embeddings' ? EMBEDDING : MODELS[user ? user.models[r() < 0.8 ? 0 : 1] : pick(modelOf, r())]!;
    const failed = r() < 0.03;
    const input = failed ? 0 : Math.floor(50 + r() * r() * 4000);
    const output = failed || endpoint === '/v1/embeddings' ? 0 : Math.floor(r() * r() * 1500);
    const cached = Math.floor(input * (r() < 0.3 ? r() * 0.8 : 0));
    const reasoning = model.startsWith('o') || model.startsWith('gpt-5') ? Math.floor(output * r() * 0.6) : 0;
    yield {
      id: `req_${at.toString(16).padStart(12, '0')}${(i >>> 0).toString(16).padStart(20, '0')}`,
      at,
      companyId: cid,
      userId: user?.id ?? null,
      keyId: keyIdOf(cid, user ? user.key : Math.floor(r() * 3)),
      model,
      endpoint,
      feature: user && user.feature >= 0 ? FEATURES[user.feature]! : null,
      status: failed && r() < 0.5 ? 'voided' : 'settled',
      httpStatus: failed ? (r() < 0.5 ? 500 : 429) : 200,
      inputTokens: input,
      cachedInputTokens: cached,
      outputTokens: output,
      reasoningTokens: reasoning,
      totalTokens: input + output,
      costNanoUsd: input * 150 + output * 600,
      latencyMs: failed ? 5 + r() * 50 : Math.round((150 + r() * r() * 6000) * 1000) / 1000,
      grantId: grantIdOf(cid),
    };
  }
}
