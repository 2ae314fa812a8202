import type { DeferredObject, Outcome, Settled } from '../ledger/port.js';
import { NO_TOKENS } from '../metering/usage.js';
import type { Runtime } from '../runtime.js';
import { finalOutcome, OBJECT_GONE } from './charge.js';
import { OBJECT_UNRESOLVED, type DeferredHandler, type ReadContext } from './handler.js';
import { HANDLERS } from './handlers.js';
import type { DeferredKind, FinalCharge, SettlerHandle, UpstreamReader } from './kinds.js';

/** Objects claimed per ledger query; a pass claims again while it gets a full batch. */
const BATCH = 16;
/** Schedule of an object whose kind has no handler (ms), unless the config overrides it. */
const NO_HANDLER = { firstMs: 60_000, maxMs: 60_000, maxAgeMs: 24 * 3_600_000 };

/** What the settler reads: the config (`settlement`, prices), the clock, the ledger and the log. */
export type SettlerDeps = Pick<Runtime, 'config' | 'clock' | 'ledger' | 'log' | 'metrics' | 'alerts'>;

/** The endpoint that creates each kind of object: deferred rows are counted in the metrics under it when they settle. */
const CREATED_AT: Record<DeferredKind, string> = {
  response: '/v1/responses',
  batch: '/v1/batches',
  'fine_tuning.job': '/v1/fine_tuning/jobs',
  video: '/v1/videos',
};

/**
 * tollgate's settler: settles held requests deferred on upstream work that finishes later (see
 * src/settlement/kinds.ts). Every `settlement.pollIntervalMs` (and at once when nudged) it claims
 * the objects due in the ledger (`DeferredStore.claimDue`, once across replicas), GETs each from the
 * upstream with tollgate's credentials and hands the JSON to its kind's handler:
 * - final → the row is settled with the object's usage, priced like a live row (`finalOutcome`),
 *   or voided when nothing billable was done; then the object is removed. `settle` changes nothing
 *   on a row no longer held and an object id is billed once, so a poll repeated after a crash never
 *   bills twice. A charge the handler had to estimate (usage source `estimated`) follows
 *   `admission.interruptedPolicy`: `release` voids it;
 * - not final → polled again after a wait that doubles from the kind's `schedule.firstMs` (or
 *   `settlement.firstPollMs`) up to its `maxMs` (or `settlement.maxPollMs`);
 * - 404 or 410 → counted; after `settlement.missesBeforeGone` in a row the object is gone upstream
 *   (deleted, or never stored) and the row is settled by `admission.interruptedPolicy` (`unread`);
 * - network errors, other statuses, a body that is not a JSON object, a handler's failed read →
 *   retried on the same schedule.
 * Every object has a deadline: `schedule.maxAgeMs` (or `settlement.maxAgeMs`) after it was
 * deferred, the handler reads it as final whatever its status (`ReadContext.overdue`), and an
 * object the upstream still does not answer for is settled by the interrupted policy with
 * `upstream_object_unresolved`. So no row stays held for ever and each object is polled a bounded
 * number of times. Its state is the ledger's, so a restart resumes where it stopped.
 */
export class Settler implements SettlerHandle {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;

  constructor(
    private readonly deps: SettlerDeps,
    private readonly upstream: UpstreamReader,
    private readonly handlers: Partial<Record<DeferredKind, DeferredHandler>> = HANDLERS,
  ) {}

  /** Starts the loop: a first pass at once, then one every `settlement.pollIntervalMs`. */
  start(): void {
    this.stopped = false;
    this.wake();
  }

  /** Stops the loop; resolves once a pass in progress has finished (its claims are released by rescheduling or lapse). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** See `SettlerHandle.nudge`: makes `id` due now (if pending) and runs a pass. */
  nudge(id: string): void {
    this.deps.ledger.deferred
      .nudge(id, this.deps.clock())
      .then((pending) => {
        if (pending) this.wake();
      })
      .catch((err: unknown) => this.deps.log.warn({ err, object: id }, 'could not nudge the settler'));
  }

  /** See `SettlerHandle.firstPollAt`. */
  firstPollAt(kind: DeferredKind, now: Date): Date {
    return new Date(now.getTime() + this.schedule(kind).firstMs);
  }

  /** The poll schedule of `kind` (ms), the config's overrides applied. */
  private schedule(kind: DeferredKind): DeferredHandler['schedule'] {
    const s = this.deps.config.settlement;
    const own = this.handlers[kind]?.schedule ?? NO_HANDLER;
    const firstMs = s.firstPollMs ?? own.firstMs;
    return { firstMs, maxMs: Math.max(firstMs, s.maxPollMs ?? own.maxMs), maxAgeMs: s.maxAgeMs ?? own.maxAgeMs };
  }

  /** The instant (ms since the epoch) after which `d` is settled whatever the upstream answers. */
  private deadline(d: DeferredObject): number {
    return Date.parse(d.deferredAt) + this.schedule(d.kind).maxAgeMs;
  }

  /** Runs a pass now, or right after the one in progress. */
  private wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.pass()
      .then(() => {})
      .catch((err: unknown) => this.deps.log.error({ err }, 'settler pass failed; it runs again later'))
      .finally(() => {
        this.running = undefined;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.wake();
          return;
        }
        this.timer = setTimeout(() => this.wake(), this.deps.config.settlement.pollIntervalMs);
        this.timer.unref();
      });
  }

  /**
   * One pass: claims the objects due and polls them, BATCH at a time, until none is due. Exposed
   * for tests that drive the settler by hand; resolves to the number of objects polled.
   */
  async pass(): Promise<number> {
    let polled = 0;
    for (;;) {
      const due = await this.deps.ledger.deferred.claimDue(
        this.deps.clock(),
        BATCH,
        this.deps.config.settlement.leaseMs,
      );
      await Promise.all(due.map((d) => this.poll(d)));
      polled += due.length;
      if (due.length < BATCH || this.stopped) return polled;
    }
  }

  /** Polls one claimed object and settles, voids or reschedules it; never throws. */
  private async poll(d: DeferredObject): Promise<void> {
    const { log, ledger, config } = this.deps;
    const overdue = this.deps.clock().getTime() >= this.deadline(d);
    try {
      const handler = this.handlers[d.kind];
      if (!handler) {
        log.warn(
          { object: d.id, kind: d.kind },
          'no settlement handler for this kind of object; polled again until its deadline',
        );
        return await this.unsettled(d, d.misses, overdue);
      }
      let answer: { status: number; text: string };
      try {
        answer = await this.upstream.get(handler.retrievePath(d.id));
      } catch (err) {
        log.warn({ err, object: d.id }, 'could not reach the upstream to poll a deferred object; retrying later');
        return await this.unsettled(d, d.misses, overdue);
      }
      if (answer.status === 404 || answer.status === 410) return await this.missing(d, overdue);
      const object = answer.status >= 200 && answer.status < 300 ? jsonObject(answer.text) : undefined;
      if (!object) {
        log.warn({ object: d.id, status: answer.status }, 'the upstream refused a poll of a deferred object');
        return await this.unsettled(d, d.misses, overdue);
      }
      const context: ReadContext = {
        upstream: this.upstream,
        row: d,
        fileEstimate: async (id) => {
          const e = await ledger.fileEstimates.get(id);
          return e?.companyId === d.companyId ? e : undefined;
        },
        admission: config.admission,
        overdue,
      };
      const state = await handler.read(object, context);
      if (!state.final) return await this.unsettled(d, 0, overdue);
      await this.finish(d, state.charge);
    } catch (err) {
      log.warn({ err, object: d.id }, 'could not read a deferred object; retrying later');
      await this.unsettled(d, d.misses, overdue).catch(() => {});
    }
  }

  /**
   * Settles (or voids) `d`'s row with a final charge and forgets the object. An estimated charge
   * under `admission.interruptedPolicy: "release"` is voided.
   */
  private async finish(d: DeferredObject, final: FinalCharge, httpStatus?: number): Promise<void> {
    const { config, ledger, log } = this.deps;
    const release = final.usageSource === 'estimated' && config.admission.interruptedPolicy === 'release';
    const charge = release ? { ...final, usage: undefined, parts: undefined } : final;
    const now = this.deps.clock();
    const built = finalOutcome(config, d, charge, now);
    const outcome = httpStatus === undefined ? built.outcome : { ...built.outcome, httpStatus };
    const done = await (built.void ? ledger.void(d.requestId, outcome, now) : ledger.settle(d.requestId, outcome, now));
    await ledger.deferred.remove(d.id);
    this.counted(d, outcome, done);
    const fields = {
      requestId: d.requestId,
      object: d.id,
      status: charge.status,
      usage: outcome.usageSource,
      tokens: outcome.meteredTokens,
      costMicroUsd: outcome.costMicroUsd,
      errorCode: outcome.errorCode,
      already: done === false || undefined,
    };
    if (charge.usageSource === 'estimated' || outcome.errorCode === OBJECT_GONE)
      log.warn(fields, 'deferred request settled by the interrupted policy');
    else log.info(fields, built.void ? 'deferred request voided' : 'deferred request settled');
  }

  /** A poll that did not settle: rescheduled, or, past the deadline, settled as unread (`upstream_object_unresolved`). */
  private unsettled(d: DeferredObject, misses: number, overdue: boolean): Promise<void> {
    return overdue ? this.unread(d, OBJECT_UNRESOLVED, 504) : this.later(d, misses);
  }

  /**
   * A 404 or 410: counts it. Once the object has been missing `missesBeforeGone` polls in a row (or
   * at its deadline) it is gone upstream (deleted, or never stored): settled as unread with
   * `upstream_object_gone`.
   */
  private async missing(d: DeferredObject, overdue: boolean): Promise<void> {
    const misses = d.misses + 1;
    if (misses < this.deps.config.settlement.missesBeforeGone && !overdue) return this.later(d, misses);
    return this.unread(d, OBJECT_GONE, 404);
  }

  /**
   * Settles a row whose object tollgate could not read as a crash leaves a row, by
   * `admission.interruptedPolicy`: `charge_prompt` bills its counted prompt (usage source
   * `estimated`: the upstream had the request; batches, jobs and videos count none, so are voided),
   * `release` voids it; with `errorCode` and `httpStatus` on the row.
   */
  private unread(d: DeferredObject, errorCode: string, httpStatus: number): Promise<void> {
    const prompt = d.promptTokens;
    const usage = prompt > 0 ? { ...NO_TOKENS, inputTokens: prompt, totalTokens: prompt } : undefined;
    return this.finish(d, { status: errorCode, usage, usageSource: 'estimated', errorCode }, httpStatus);
  }

  /**
   * After a deferred row was settled or voided (`done`: what the ledger answered; false: it was no
   * longer held): counts it in the metrics under the endpoint that created its object and, when it
   * charged something, checks the grants it debited for balance alerts and its subject for spikes.
   * Quota threshold alerts are not checked (the quota limits of its admission are not kept).
   */
  private counted(d: DeferredObject, outcome: Outcome, done: Settled | boolean): void {
    if (done === false) return;
    const { metrics, alerts } = this.deps;
    metrics?.finished({ companyId: d.companyId, model: d.model }, CREATED_AT[d.kind], outcome.httpStatus, outcome);
    if (typeof done === 'object' && outcome.meteredTokens + outcome.costMicroUsd > 0)
      alerts.afterSettle({
        companyId: d.companyId,
        subject: d.subject,
        quotas: [],
        settled: done,
        tokens: outcome.meteredTokens,
      });
  }

  /**
   * Reschedules after a poll that did not settle: the wait doubles with each poll, up to the
   * schedule's maximum, and no later than the deadline (but at least `firstMs` away).
   */
  private later(d: DeferredObject, misses: number): Promise<void> {
    const { firstMs, maxMs } = this.schedule(d.kind);
    const now = this.deps.clock().getTime();
    const doubled = Math.min(maxMs, firstMs * 2 ** Math.min(d.polls + 1, 30));
    const wait = Math.max(firstMs, Math.min(doubled, this.deadline(d) - now));
    return this.deps.ledger.deferred.reschedule(d.id, new Date(now + wait), misses);
  }
}

/** The JSON object `text` holds, or undefined when it is not JSON or not an object. */
function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
