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
