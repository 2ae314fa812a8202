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
 * final, then settles the row from the object's final usage, once per object id. Every object reaches
 * a final state within its kind's `schedule.maxAgeMs` (see src/settlement/settler.ts and
 * docs/ledger.md, "Deferred work", for what each ending is charged).
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

/** An upstream answer longer than the reader's bound: it will not get shorter, so reading it again is useless. */
export class BodyTooLarge extends Error {
  constructor(path: string, maxBytes: number) {
    super(`the upstream answer to GET ${path} is over ${maxBytes} bytes`);
    this.name = 'BodyTooLarge';
  }
}

/** How the settler reaches the upstream: a GET with tollgate's own credentials. */
export interface UpstreamReader {
  /**
   * GETs `path` (`/v1/files/file-abc/content`) from the upstream. Resolves to the status and the
   * body as text (at most `maxBytes`, default 64 MiB; a longer body rejects with `BodyTooLarge`).
   * Rejects on network errors.
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
  /**
   * `upstream` when the object reported its usage, `computed` when derived from its units,
   * `estimated` when tollgate had to estimate what was done (the object reports no usage, or its
   * output cannot be read): such a charge follows `admission.interruptedPolicy` (`release` voids it).
   */
  usageSource: 'upstream' | 'computed' | 'estimated';
  /** Recorded on the row (for example the upstream's error code of a failed job). */
  errorCode?: string;
  /** The `service_tier` the object reports it ran at (priced as for a live request). */
  serviceTier?: string;
  /** Built-in tool calls the object reports (a Responses object's `output`), billed per call. */
  toolCalls?: ToolCalls;
}

/** A retrieved object read by its kind's handler: not final yet, or final with its charge. */
export type ObjectState = { final: false; status: string } | { final: true; charge: FinalCharge };

/** What the request path asks of the running settler (src/settlement/settler.ts). */
export interface SettlerHandle {
  /** Polls object `id` now if it is pending (a client retrieved or cancelled it); never throws. */
  nudge(id: string): void;
  /** When an object of `kind` deferred at `now` is first polled (its schedule, or the config's `settlement.firstPollMs`). */
  firstPollAt(kind: DeferredKind, now: Date): Date;
}
