import { toolCallsOf } from '../../metering/tool-calls.js';
import { parseUsage } from '../../metering/usage.js';
import { PENDING_STATUSES, type DeferredHandler, type ObjectState } from '../kinds.js';

/**
 * A background Response (`POST /v1/responses` with `"background": true`), retrieved with
 * `GET /v1/responses/{id}` (openai-openapi: Response). Final statuses: `completed`, `incomplete`,
 * `failed`, `cancelled` (anything not `queued`/`in_progress`). Charged from its `usage` — a failed
 * or cancelled response that reports usage is billed what was done; one without usage is voided —
 * plus the built-in tool calls in its `output`, at its `service_tier`.
 * Schedule: first poll 2 s after it was deferred, then doubling to one poll a minute.
 */
export const responseHandler: DeferredHandler = {
  kind: 'response',
  retrievePath: (id) => `/v1/responses/${encodeURIComponent(id)}`,
  async read(object): Promise<ObjectState> {
    const status = typeof object.status === 'string' ? object.status : '';
    if (status === '' || PENDING_STATUSES.response.has(status)) return { final: false, status };
    const error = object.error as { code?: unknown } | null | undefined;
    return {
      final: true,
      charge: {
        status,
        usage: parseUsage(object.usage),
        model: typeof object.model === 'string' ? object.model : undefined,
        usageSource: 'upstream',
        errorCode:
          status === 'failed'
            ? typeof error?.code === 'string'
              ? error.code
              : 'response_failed'
            : status === 'completed'
              ? undefined
              : `response_${status}`,
        serviceTier: typeof object.service_tier === 'string' ? object.service_tier : undefined,
        toolCalls: toolCallsOf(object.output),
      },
    };
  },
  schedule: { firstMs: 2_000, maxMs: 60_000 },
};
