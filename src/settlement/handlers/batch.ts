import { parseUsage, type Usage } from '../../metering/usage.js';
import type { DeferredHandler, FinalCharge, ObjectState, UpstreamReader } from '../kinds.js';
import { addUsage } from './usage-sum.js';

/**
 * The `batch` handler: settles a batch (`POST /v1/batches`) once it is final. Source for the shapes:
 * openai/openai-openapi, schema `Batch` (`status`, `usage`, `model`, `output_file_id`,
 * `request_counts`, `errors`) and the Batch guide's output file format (one JSON line per request:
 * `{"id","custom_id","response":{"status_code","request_id","body":{…,"model","usage"}},"error"}`).
 *
 * - Final statuses: `completed`, `failed`, `expired`, `cancelled` (`validating`, `in_progress`,
 *   `finalizing`, `cancelling` are not).
 * - Charged: the batch's `usage` (input / cached / output / reasoning tokens) at Batch prices
 *   (`batch: true`, the price's `batchDiscount`). The model is the batch's `model`; when it has none
 *   (OpenAI sends `model: null` for `/v1/responses` batches), or when the batch reports no usage,
 *   the output file is read (`GET /v1/files/{output_file_id}/content`) and each line's
 *   `response.body.usage` is summed per `response.body.model`: one model → one charge, several →
 *   `parts`, each at its own model's price.
 * - A cancelled or expired batch charges what completed (its usage, or its output file's lines);
 *   a failed batch with nothing done (no usage, no output file) is voided.
 */

type Json = Record<string, unknown>;

const FINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);

const obj = (v: unknown): Json | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/**
 * Usage per model summed over a batch output file's lines (JSONL text). Lines that are not JSON,
 * or carry no usage (a request that failed), count nothing.
 */
export function outputUsageByModel(text: string): Map<string, Usage> {
  const byModel = new Map<string, Usage>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue;
    }
    const body = obj(obj(obj(parsed)?.response)?.body);
    const usage = parseUsage(body?.usage);
    if (!usage) continue;
    const model = str(body?.model) ?? 'unknown';
    const before = byModel.get(model);
    byModel.set(model, before ? addUsage(before, usage) : usage);
  }
  return byModel;
}

/** GETs a file's content through the upstream reader. @throws Error on a non-200 answer (the settler retries). */
async function fileContent(upstream: UpstreamReader, fileId: string): Promise<string> {
  const res = await upstream.get(`/v1/files/${encodeURIComponent(fileId)}/content`);
  if (res.status !== 200) throw new Error(`GET /v1/files/${fileId}/content answered ${res.status}`);
  return res.text;
}

/** The error code of a batch that did not complete: its first `errors.data[].code`, else `batch_<status>`. */
function errorCodeOf(batch: Json, status: string): string | undefined {
  const first = obj((obj(batch.errors)?.data as unknown[] | undefined)?.[0]);
  return str(first?.code) ?? (status === 'completed' ? undefined : `batch_${status}`);
}

/** Reads a retrieved batch: not final yet, or its final charge (see the module comment). */
async function readBatch(batch: Json, upstream: UpstreamReader): Promise<ObjectState> {
  const status = str(batch.status) ?? 'unknown';
  if (!FINAL.has(status)) return { final: false, status };
  const errorCode = errorCodeOf(batch, status);
  const reported = parseUsage(batch.usage);
  const did = reported && reported.totalTokens > 0 ? { ...reported, batch: true } : undefined;
  const model = str(batch.model);
  const charge = (c: Omit<FinalCharge, 'status' | 'errorCode'>): ObjectState => ({
    final: true,
    charge: { status, ...c, ...(errorCode ? { errorCode } : {}) },
  });
  if (did && model) return charge({ usage: did, model, usageSource: 'upstream' });
  const outputId = str(batch.output_file_id);
  const byModel = outputId ? outputUsageByModel(await fileContent(upstream, outputId)) : new Map<string, Usage>();
  const parts = [...byModel].map(([m, u]): { model: string; usage: Usage } => ({
    model: m,
    usage: { ...u, batch: true },
  }));
  if (parts.length === 0)
    return did ? charge({ usage: did, usageSource: 'upstream' }) : charge({ usageSource: 'upstream' });
  parts.sort((a, b) => b.usage.totalTokens - a.usage.totalTokens);
  const total = parts.map((p) => p.usage).reduce(addUsage);
  if (parts.length === 1) return charge({ usage: did ?? total, model: parts[0]!.model, usageSource: 'upstream' });
  return charge({ usage: total, model: parts[0]!.model, parts, usageSource: 'upstream' });
}

export const batchHandler: DeferredHandler = {
  kind: 'batch',
  retrievePath: (id) => `/v1/batches/${encodeURIComponent(id)}`,
  read: readBatch,
  // Batches run minutes to 24 hours: first look after a minute, then at most every 10 minutes.
  schedule: { firstMs: 60_000, maxMs: 600_000 },
};
