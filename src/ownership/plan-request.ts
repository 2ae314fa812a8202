import type { OwnershipPlan } from './guard.js';

/**
 * The plan to follow once the body is known: a chat completion is stored (and so owned) only when
 * its request sets `store` (default false; openai-openapi CreateChatCompletionRequest), so one whose
 * JSON never names `store` records nothing. A cheap byte search: no second parse.
 */
export function keepsObjects(
  plan: OwnershipPlan | undefined,
  method: string,
  path: string,
  body: unknown,
): OwnershipPlan | undefined {
  if (!plan || method !== 'POST' || path !== '/v1/chat/completions') return plan;
  if (body instanceof Uint8Array)
    return Buffer.from(body.buffer, body.byteOffset, body.byteLength).includes('"store"') ? plan : undefined;
  if (typeof body === 'string') return body.includes('"store"') ? plan : undefined;
  return undefined;
}
