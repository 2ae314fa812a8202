import type { Config } from '../config/schema.js';
import type { DeferredObject, FileEstimate } from '../ledger/port.js';
import type { DeferredKind, ObjectState, UpstreamReader } from './kinds.js';

/** Error code of a deferred row settled at its deadline, its object never seen final (`schedule.maxAgeMs`). */
export const OBJECT_UNRESOLVED = 'upstream_object_unresolved';

/** What a handler reads besides the object itself. */
export interface ReadContext {
  /** The upstream, with tollgate's own key (a batch's output file). */
  upstream: UpstreamReader;
  /** The deferred row: its model (null for a batch over several), counted prompt tokens, company. */
  row: DeferredObject;
  /** tollgate's estimate of an input file the row's company uploaded through it, or undefined. */
  fileEstimate(fileId: string): Promise<FileEstimate | undefined>;
  /** The admission settings (a fine-tuning job's `"auto"` epochs). */
  admission: Config['admission'];
  /**
   * The object is past its deadline (`schedule.maxAgeMs` since it was deferred): this is the last
   * poll, so the handler must answer final — an object still pending is charged what it reports so
   * far (or an estimate) with `OBJECT_UNRESOLVED`, and a read that failed for a moment counts as failed for good.
   */
  overdue: boolean;
}

/**
 * How one kind of upstream object is retrieved, recognised as final and charged. One handler per
 * `DeferredKind`, registered in src/settlement/handlers.ts.
 */
export interface DeferredHandler {
  kind: DeferredKind;
  /** The upstream path that retrieves object `id` (`/v1/batches/batch_abc`). */
  retrievePath(id: string): string;
  /**
   * Reads a retrieved object (the parsed JSON object of `retrievePath`'s answer). May GET more from
   * the upstream (a batch's output file when the batch's usage does not say which model did what).
   * Always final when `context.overdue`.
   * @throws Error when something it needs cannot be read for a moment (the settler retries later).
   */
  read(object: Record<string, unknown>, context: ReadContext): Promise<ObjectState>;
  /**
   * Poll schedule (ms): the first poll `firstMs` after the object was deferred, the wait doubling up
   * to `maxMs` between polls; `maxAgeMs` after it was deferred the object is settled whatever the
   * upstream answers (its deadline), so it is polled at most about `log2(maxMs / firstMs) + maxAgeMs / maxMs` times.
   */
  schedule: { firstMs: number; maxMs: number; maxAgeMs: number };
}
