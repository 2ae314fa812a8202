import type { DeferredObject, Outcome, Settled } from '../ledger/port.js';
import { NO_TOKENS } from '../metering/usage.js';
import type { Runtime } from '../runtime.js';
import { finalOutcome, OBJECT_GONE } from './charge.js';
import { HANDLERS } from './handlers.js';
import type { DeferredHandler, DeferredKind, SettlerHandle, UpstreamReader } from './kinds.js';

/** Objects claimed per ledger query; a pass claims again while it gets a full batch. */
const BATCH = 16;
/** Wait between polls of an object whose kind has no handler (ms), unless `maxPollMs` is set. */
const NO_HANDLER_MS = 60_000;

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
 *   bills twice;
 * - not final → polled again after a wait that doubles from the kind's `schedule.firstMs` (or
 *   `settlement.firstPollMs`) up to its `maxMs` (or `settlement.maxPollMs`);
 * - 404 → counted; after `settlement.missesBeforeGone` in a row the object is gone upstream (deleted,
 *   or never stored) and the row is settled by `admission.interruptedPolicy` (`missing`);
 * - network errors, other statuses, an unreadable body → retried on the same schedule.
 * Its state is the ledger's, so a restart resumes where it stopped.
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
  private schedule(kind: DeferredKind): { firstMs: number; maxMs: number } {
    const s = this.deps.config.settlement;
    const own = this.handlers[kind]?.schedule ?? { firstMs: NO_HANDLER_MS, maxMs: NO_HANDLER_MS };
    const firstMs = s.firstPollMs ?? own.firstMs;
    return { firstMs, maxMs: Math.max(firstMs, s.maxPollMs ?? own.maxMs) };
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
    const log = this.deps.log;
    try {
      const handler = this.handlers[d.kind];
      if (!handler) {
        log.warn({ object: d.id, kind: d.kind }, 'no settlement handler for this kind of object; it stays pending');
        return await this.later(d, d.misses);
      }
      let answer: { status: number; text: string };
      try {
        answer = await this.upstream.get(handler.retrievePath(d.id));
      } catch (err) {
        log.warn({ err, object: d.id }, 'could not reach the upstream to poll a deferred object; retrying later');
        return await this.later(d, d.misses);
      }
      if (answer.status === 404) return await this.missing(d);
      if (answer.status < 200 || answer.status >= 300) {
        log.warn({ object: d.id, status: answer.status }, 'the upstream refused a poll of a deferred object');
        return await this.later(d, d.misses);
      }
      const state = await handler.read(JSON.parse(answer.text) as Record<string, unknown>, this.upstream);
      if (!state.final) return await this.later(d, 0);
      const now = this.deps.clock();
      const { void: nothing, outcome } = finalOutcome(this.deps.config, d, state.charge, now);
      const done = nothing
        ? await this.deps.ledger.void(d.requestId, outcome, now)
        : await this.deps.ledger.settle(d.requestId, outcome, now);
      await this.deps.ledger.deferred.remove(d.id);
      this.counted(d, outcome, done);
      log.info(
        {
          requestId: d.requestId,
          object: d.id,
          status: state.charge.status,
          tokens: outcome.meteredTokens,
          costMicroUsd: outcome.costMicroUsd,
          already: done === false || undefined,
        },
        nothing ? 'deferred request voided' : 'deferred request settled',
      );
    } catch (err) {
      log.warn({ err, object: d.id }, 'could not read a deferred object; retrying later');
      await this.later(d, d.misses).catch(() => {});
    }
  }

  /**
   * A 404: counts it. Once the object has been missing `missesBeforeGone` polls in a row it is gone
   * upstream (deleted, or never stored): the row is settled as a crash leaves it, by
   * `admission.interruptedPolicy` — `charge_prompt` bills its counted prompt (usage source
   * `estimated`: the upstream had the request), `release` voids it — with `upstream_object_gone`.
   */
  private async missing(d: DeferredObject): Promise<void> {
    const misses = d.misses + 1;
    const { config, ledger, log } = this.deps;
    if (misses < config.settlement.missesBeforeGone) return this.later(d, misses);
    const now = this.deps.clock();
    const prompt = config.admission.interruptedPolicy === 'charge_prompt' ? d.promptTokens : 0;
    const usage = { ...NO_TOKENS, inputTokens: prompt, totalTokens: prompt };
    const charge = { status: 'gone', usage: prompt > 0 ? usage : undefined, usageSource: 'computed' as const };
    const { void: nothing, outcome } = finalOutcome(config, d, { ...charge, errorCode: OBJECT_GONE }, now);
    const gone = { ...outcome, httpStatus: 404, usageSource: nothing ? ('none' as const) : ('estimated' as const) };
    const done = await (nothing ? ledger.void(d.requestId, gone, now) : ledger.settle(d.requestId, gone, now));
    await ledger.deferred.remove(d.id);
    this.counted(d, gone, done);
    log.warn(
      { requestId: d.requestId, object: d.id, misses, tokens: gone.meteredTokens },
      'deferred object gone upstream; row settled by the interrupted policy',
    );
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

  /** Reschedules after a poll that did not settle: the wait doubles with each poll, up to the schedule's maximum. */
  private later(d: DeferredObject, misses: number): Promise<void> {
    const { firstMs, maxMs } = this.schedule(d.kind);
    const wait = Math.min(maxMs, firstMs * 2 ** Math.min(d.polls + 1, 30));
    return this.deps.ledger.deferred.reschedule(d.id, new Date(this.deps.clock().getTime() + wait), misses);
  }
}
