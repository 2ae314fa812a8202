import type { InterruptedPolicy, Outcome, PriceOf } from './port.js';

/** A row found `held` by crash recovery: what its outcome is decided from. */
export interface OrphanRow {
  /** The company the row bills (its fallback prices price a model nothing else does). */
  companyId: string;
  requestedModel: string | null;
  /** Prompt tokens counted at admission. */
  estimatedPromptTokens: number;
  /** false: admitted with `forwardedLater` and never marked forwarded; true or null: taken as sent upstream. */
  forwarded: boolean | null;
}

/**
 * The outcome crash recovery writes on a row left `held` (status `interrupted`), shared by every
 * adapter: with `charge_prompt` its counted prompt tokens (usage source `estimated`, priced by
 * `priceOf` in micro-USD for the row's model and company), with `release` nothing (error code `interrupted`). A row whose request
 * never left tollgate (`forwarded === false`) is charged nothing whatever the policy (error code
 * `interrupted_before_upstream`): the upstream never had it.
 */
export function interruptedOutcome(row: OrphanRow, policy: InterruptedPolicy, priceOf: PriceOf): Outcome {
  const unsent = row.forwarded === false;
  const prompt = policy === 'charge_prompt' && !unsent ? row.estimatedPromptTokens : 0;
  const usage = { inputTokens: prompt, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0, totalTokens: prompt };
  return {
    httpStatus: null,
    usage,
    usageSource: prompt > 0 ? 'estimated' : 'none',
    meteredTokens: prompt,
    costMicroUsd: prompt > 0 ? priceOf(row.requestedModel, usage, row.companyId) : 0,
    latencyMs: 0,
    errorCode: unsent ? 'interrupted_before_upstream' : 'interrupted',
  };
}
