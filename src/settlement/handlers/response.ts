import { contentTokens } from '../../metering/prompt-count.js';
import { toolCallsOf } from '../../metering/tool-calls.js';
import { NO_TOKENS, parseUsage } from '../../metering/usage.js';
import { OBJECT_UNRESOLVED, type DeferredHandler, type ReadContext } from '../handler.js';
import { PENDING_STATUSES, type FinalCharge, type ObjectState } from '../kinds.js';

/**
 * A background Response (`POST /v1/responses` with `"background": true`), retrieved with
 * `GET /v1/responses/{id}` (openai-openapi: Response). Final statuses: `completed`, `incomplete`,
 * `failed`, `cancelled` (anything not `queued`/`in_progress`).
 * - Charged its `usage` — a failed, cancelled or incomplete response that reports usage is billed
 *   what was done — plus the built-in tool calls in its `output`, at its `service_tier`.
 * - Failed or cancelled without usage: voided (the upstream reports nothing done).
 * - Completed or incomplete without usage: *estimated* — the row's counted prompt plus the tokens of
 *   the output text it carries (`admission.interruptedPolicy: "release"` voids it instead).
 * - Still pending at its deadline: charged the same way from what it reports so far
 *   (`upstream_object_unresolved`).
 * Schedule: first poll 2 s after it was deferred, then doubling to one poll a minute; settled 24 h
 * after it was deferred whatever the upstream answers.
 */

type Json = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/** Tokens of the text of a Responses `output` (its message items' content), counted for `model`. */
function outputTokens(model: string, output: unknown): number {
  if (!Array.isArray(output)) return 0;
  let total = 0;
  for (const item of output)
    if (item && typeof item === 'object' && (item as Json).type === 'message')
      total += contentTokens(model, (item as Json).content);
  return total;
}

async function readResponse(object: Json, ctx: ReadContext): Promise<ObjectState> {
  const status = str(object.status) ?? '';
  const pending = status === '' || PENDING_STATUSES.response.has(status);
  if (pending && !ctx.overdue) return { final: false, status };
  const error = object.error as { code?: unknown } | null | undefined;
  const model = str(object.model);
  const charge: FinalCharge = {
    status: status || 'unknown',
    model,
    usageSource: 'upstream',
    errorCode: pending
      ? OBJECT_UNRESOLVED
      : status === 'failed'
        ? (str(error?.code) ?? 'response_failed')
        : status === 'completed'
          ? undefined
          : `response_${status}`,
    serviceTier: str(object.service_tier),
    toolCalls: toolCallsOf(object.output),
  };
  const usage = parseUsage(object.usage);
  if (usage) return { final: true, charge: { ...charge, usage } };
  if (status === 'failed' || status === 'cancelled') return { final: true, charge };
  const counted = ctx.row.model ?? model;
  const input = ctx.row.promptTokens;
  const output = counted ? outputTokens(counted, object.output) : 0;
  const estimate = { ...NO_TOKENS, inputTokens: input, outputTokens: output, totalTokens: input + output };
  return { final: true, charge: { ...charge, usage: estimate, usageSource: 'estimated' } };
}

export const responseHandler: DeferredHandler = {
  kind: 'response',
  retrievePath: (id) => `/v1/responses/${encodeURIComponent(id)}`,
  read: readResponse,
  schedule: { firstMs: 2_000, maxMs: 60_000, maxAgeMs: 24 * 3_600_000 },
};
