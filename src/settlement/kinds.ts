import type { ToolCalls } from '../metering/tool-calls.js';
import type { Usage } from '../metering/usage.js';

/**
 * Upstream work that finishes after the request that started it, and that tollgate's settler
 * (src/settlement/) settles itself: a background Response (`"background": true`), a batch, a
 * fine-tuning job, a video. The names are OpenAI's `object` values (openai/openai-openapi).
 *
 * Lifecycle: the request that creates the object is admitted with a hold like any other; when its
 * answer names an object that is not final, its row is *deferred* (kept `held`, with the object's
 * id and kind in the ledger) instead of settled. The settler polls the object upstream until it is
 * final, then settles the row from the object's final usage, once per object id.
 */
export type DeferredKind = 'response' | 'batch' | 'fine_tuning.job' | 'video';

/**
 * The statuses in which each kind of object is still running upstream (openai/openai-openapi:
 * Response.status, Batch.status, FineTuningJob.status, VideoResource.status). A creating request
 * whose answer names an object in one of these is deferred; any other status is final.
 */
export const PENDING_STATUSES: Record<DeferredKind, ReadonlySet<string>> = {
  response: new Set(['queued', 'in_progress']),
  batch: new Set(['validating', 'in_progress', 'finalizing', 'cancelling']),
  'fine_tuning.job': new Set(['validating_files', 'queued', 'running']),
  video: new Set(['queued', 'in_progress']),
};

/** How the settler reaches the upstream: a GET with tollgate's own credentials. */
export interface UpstreamReader {
  /**
   * GETs `path` (`/v1/files/file-abc/content`) from the upstream. Resolves to the status and the
   * body as text (at most `maxBytes`, default 64 MiB; longer bodies reject). Rejects on network errors.
   */
  get(path: string, maxBytes?: number): Promise<{ status: number; text: string }>;
}

/** What final upstream work is charged: its usage (tokens, seconds…) and the model it ran on. */
export interface FinalCharge {
  /** The object's final status as the upstream names it (`completed`, `failed`, `cancelled`, …). */
  status: string;
  /** What was done; undefined when nothing billable was done (the row is voided). */
  usage?: Usage;
  /** The model to price `usage` at (a fine-tuning job's base model, a video's model…). */
  model?: string;
  /**
   * Work that ran on several models (a batch whose lines name different models): each part is
   * priced at its own model and the charge is their sum. `usage` is then the parts' total (for the
   * row's token columns) and `model` the model of the largest part. Absent: `usage` at `model`.
   */
  parts?: { model: string; usage: Usage }[];
  /** `upstream` when the object reported its usage, `computed` when derived from its units. */
  usageSource: 'upstream' | 'computed';
  /** Recorded on the row (for example the upstream's error code of a failed job). */
  errorCode?: string;
  /** The `service_tier` the object reports it ran at (priced as for a live request). */
  serviceTier?: string;
  /** Built-in tool calls the object reports (a Responses object's `output`), billed per call. */
  toolCalls?: ToolCalls;
}

/** A retrieved object read by its kind's handler: not final yet, or final with its charge. */
export type ObjectState = { final: false; status: string } | { final: true; charge: FinalCharge };

/**
 * How one kind of upstream object is retrieved, recognised as final and charged. One handler per
 * `DeferredKind`, registered in src/settlement/handlers.ts.
 */
export interface DeferredHandler {
  kind: DeferredKind;
  /** The upstream path that retrieves object `id` (`/v1/batches/batch_abc`). */
  retrievePath(id: string): string;
  /**
   * Reads a retrieved object (the parsed JSON of `retrievePath`'s answer). May GET more from the
   * upstream (a batch's output file when the batch reports no usage).
   * @throws Error when the object cannot be read (the settler retries later).
   */
  read(object: Record<string, unknown>, upstream: UpstreamReader): Promise<ObjectState>;
  /** Poll schedule: the first poll `firstMs` after the object was deferred, doubling up to `maxMs` between polls. */
  schedule: { firstMs: number; maxMs: number };
}

/** What the request path asks of the running settler (src/settlement/settler.ts). */
export interface SettlerHandle {
  /** Polls object `id` now if it is pending (a client retrieved or cancelled it); never throws. */
  nudge(id: string): void;
  /** When an object of `kind` deferred at `now` is first polled (its schedule, or the config's `settlement.firstPollMs`). */
  firstPollAt(kind: DeferredKind, now: Date): Date;
}
