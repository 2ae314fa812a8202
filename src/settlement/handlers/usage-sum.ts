import { NO_TOKENS, type Usage } from '../../metering/usage.js';

/** The numeric token fields of a `Usage` that add up across requests (tokens). */
const ADDITIVE = [
  'inputTokens',
  'cachedInputTokens',
  'outputTokens',
  'reasoningTokens',
  'totalTokens',
  'audioInputTokens',
  'audioOutputTokens',
  'imageInputTokens',
  'imageOutputTokens',
  'cachedAudioInputTokens',
  'cachedImageInputTokens',
] as const;

/** `a + b`, field by field (tokens); optional fields stay absent when neither has them. */
export function addUsage(a: Usage, b: Usage): Usage {
  const out: Usage = { ...NO_TOKENS, ...(a.batch || b.batch ? { batch: true } : {}) };
  for (const k of ADDITIVE) {
    const sum = (a[k] ?? 0) + (b[k] ?? 0);
    if (sum !== 0 || k in NO_TOKENS) out[k] = sum;
  }
  return out;
}

/**
 * `usage` shared out in proportion to `weights` (one part per weight, weights ≥ 0; all zero: equal
 * shares), field by field: each part's fields are integers and the parts add up to `usage` exactly
 * (largest remainder first). Non-additive fields (`batch`) are copied to every part.
 */
export function splitUsage(usage: Usage, weights: number[]): Usage[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const w = sum > 0 ? weights : weights.map(() => 1);
  const total = sum > 0 ? sum : weights.length;
  const parts: Usage[] = weights.map(() => ({ ...NO_TOKENS, ...(usage.batch ? { batch: true } : {}) }));
  for (const k of ADDITIVE) {
    const v = usage[k];
    if (v === undefined || v === 0) continue;
    const exact = w.map((x) => (v * x) / total);
    const shares = exact.map(Math.floor);
    let left = v - shares.reduce((a, b) => a + b, 0);
    const byRemainder = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0]);
    for (const [, i] of byRemainder) {
      if (left-- <= 0) break;
      shares[i]! += 1;
    }
    shares.forEach((n, i) => {
      parts[i]![k] = n;
    });
  }
  return parts;
}
