import type { FileEstimate } from '../../ledger/port.js';
import { NO_TOKENS, parseUsage, type Usage } from '../../metering/usage.js';
import { OBJECT_UNRESOLVED, type DeferredHandler, type ReadContext } from '../handler.js';
import { BodyTooLarge, type FinalCharge, type ObjectState } from '../kinds.js';
import { addUsage, splitUsage } from './usage-sum.js';

/**
 * The `batch` handler: settles a batch (`POST /v1/batches`) once it is final. Source for the shapes:
 * openai/openai-openapi, schema `Batch` (`status`, `usage`, `model`, `input_file_id`,
 * `output_file_id`, `request_counts`, `errors`) and the Batch guide's output file format (one JSON
 * line per request: `{"id","custom_id","response":{"status_code","request_id","body":{…,"model","usage"}},"error"}`).
 *
 * - Final statuses: `completed`, `failed`, `expired`, `cancelled` (`validating`, `in_progress`,
 *   `finalizing`, `cancelling` are not). A cancelled or expired batch is charged what completed.
 * - **Usage reported** (`usage.total_tokens` > 0): charged that usage at Batch prices (`batch: true`),
 *   at the batch's `model`, else the row's (a batch whose lines all name one model). The output file
 *   is not read — unless the batch ran on several models and names none, when its lines say which
 *   model did what (each part priced at its own model); when that file cannot be read, the usage is
 *   shared out over the input file's models in proportion to tollgate's estimate of each.
 * - **No usage reported**: the output file's lines are summed per model (`response.body.usage`).
 *   When it cannot be read for good (404, 410, another 4xx but 401/408/409/429, or over 64 MiB) —
 *   or at the deadline, for a read failing for a moment (5xx, network) — or when the batch completed
 *   requests but names no output file, the usage is *estimated* (`batch_output_unreadable`): the
 *   counted prompt tokens of the input file's lines × the share of requests completed
 *   (`request_counts`), per model; `admission.interruptedPolicy: "release"` voids it instead.
 * - A batch that completed nothing (no usage, no output file, no request completed) is voided.
 * - At its deadline a batch still pending is charged as above from what it reports so far
 *   (`upstream_object_unresolved`).
 */

type Json = Record<string, unknown>;

/** Error code of a batch charged an estimate because its output file could not be read. */
export const OUTPUT_UNREADABLE = 'batch_output_unreadable';

const FINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);
/** Answers to a file read that may change if asked again (HTTP: unauthorized, timeout, conflict, rate limit). */
const RETRYABLE_4XX = new Set([401, 408, 409, 429]);

const obj = (v: unknown): Json | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const count = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;

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

/**
 * A file's content, or `undefined` when it cannot be read for good (see the module comment; at the
 * deadline any failure is for good).
 * @throws Error when the read failed for a moment (the settler retries).
 */
async function fileContent(ctx: ReadContext, fileId: string): Promise<string | undefined> {
  const path = `/v1/files/${encodeURIComponent(fileId)}/content`;
  let res: { status: number; text: string };
  try {
    res = await ctx.upstream.get(path);
  } catch (err) {
    if (err instanceof BodyTooLarge || ctx.overdue) return undefined;
    throw err;
  }
  if (res.status === 200) return res.text;
  if (ctx.overdue || (res.status >= 400 && res.status < 500 && !RETRYABLE_4XX.has(res.status))) return undefined;
  throw new Error(`GET ${path} answered ${res.status}`);
}

/** The error code of a batch that did not complete: its first `errors.data[].code`, else `batch_<status>`. */
function errorCodeOf(batch: Json, status: string): string | undefined {
  const first = obj((obj(batch.errors)?.data as unknown[] | undefined)?.[0]);
  return str(first?.code) ?? (status === 'completed' ? undefined : `batch_${status}`);
}

/** A charge over `parts` (model, usage): one part is a charge at its model; several add up, the largest first. */
function over(parts: { model: string; usage: Usage }[], usageSource: FinalCharge['usageSource']) {
  const sorted = parts.filter((p) => p.usage.totalTokens > 0).sort((a, b) => b.usage.totalTokens - a.usage.totalTokens);
  if (sorted.length === 0) return { usageSource };
  const usage = sorted.map((p) => p.usage).reduce(addUsage);
  return sorted.length === 1
    ? { usage, model: sorted[0]!.model, usageSource }
    : { usage, model: sorted[0]!.model, parts: sorted, usageSource };
}

/** The input file's estimate, when the batch names one tollgate read for the row's company. */
async function inputEstimate(batch: Json, ctx: ReadContext): Promise<FileEstimate | undefined> {
  const id = str(batch.input_file_id);
  return id ? ctx.fileEstimate(id) : undefined;
}

/** The counted prompt tokens of the input file's lines × the share of requests completed, per model (Batch prices). */
function promptShare(estimate: FileEstimate | undefined, batch: Json) {
  const counts = obj(batch.request_counts);
  const total = count(counts?.total);
  const done = count(counts?.completed);
  const share = total && done !== undefined ? Math.min(1, done / total) : 1;
  const parts = (estimate?.models ?? []).map((m) => {
    const tokens = Math.round(m.promptTokens * share);
    return { model: m.model, usage: { ...NO_TOKENS, inputTokens: tokens, totalTokens: tokens, batch: true } };
  });
  return over(parts, 'estimated');
}

/** Reads a retrieved batch: not final yet, or its final charge (see the module comment). */
async function readBatch(batch: Json, ctx: ReadContext): Promise<ObjectState> {
  const status = str(batch.status) ?? 'unknown';
  const pending = !FINAL.has(status);
  if (pending && !ctx.overdue) return { final: false, status };
  const charge = (c: Omit<FinalCharge, 'status'>): ObjectState => {
    const errorCode = pending ? OBJECT_UNRESOLVED : (c.errorCode ?? errorCodeOf(batch, status));
    return { final: true, charge: { status, ...c, ...(errorCode ? { errorCode } : {}) } };
  };
  const reported = parseUsage(batch.usage);
  const did = reported && reported.totalTokens > 0 ? { ...reported, batch: true } : undefined;
  const model = str(batch.model) ?? ctx.row.model ?? undefined;
  if (did && model) return charge({ usage: did, model, usageSource: 'upstream' });

  // Several models and none named, or no usage reported: the output file says who did what.
  const outputId = str(batch.output_file_id);
  const text = outputId ? await fileContent(ctx, outputId) : undefined;
  const byModel = text === undefined ? new Map<string, Usage>() : outputUsageByModel(text);
  const parts = [...byModel].map(([m, u]) => ({ model: m, usage: { ...u, batch: true } }));
  if (parts.length > 0) {
    const read = over(parts, 'upstream');
    // One model: the batch's own usage, when reported, is the authority on the tokens.
    return charge(did && !read.parts ? { ...read, usage: did } : read);
  }
  if (did) {
    const models = (await inputEstimate(batch, ctx))?.models ?? [];
    const shares = splitUsage(
      did,
      models.map((m) => m.maxTokens),
    );
    const split = over(
      models.map((m, i) => ({ model: m.model, usage: shares[i]! })),
      'upstream',
    );
    return charge(split.usage ? split : { usage: did, usageSource: 'upstream' });
  }
  const completed = count(obj(batch.request_counts)?.completed) ?? 0;
  const unreadable = outputId !== undefined ? text === undefined : completed > 0;
  if (!unreadable) return charge({ usageSource: 'upstream' });
  return charge({ ...promptShare(await inputEstimate(batch, ctx), batch), errorCode: OUTPUT_UNREADABLE });
}

export const batchHandler: DeferredHandler = {
  kind: 'batch',
  retrievePath: (id) => `/v1/batches/${encodeURIComponent(id)}`,
  read: readBatch,
  // Batches run minutes to 24 hours (their completion window; OpenAI then expires them): first look
  // after a minute, then at most every 10 minutes; settled 72 hours after creation whatever happens.
  schedule: { firstMs: 60_000, maxMs: 600_000, maxAgeMs: 72 * 3_600_000 },
};
