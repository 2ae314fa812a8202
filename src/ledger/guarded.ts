import type { LedgerTimeouts } from '../config/ledger-schema.js';
import type { Logger } from '../log.js';
import { withDeadline } from './deadline.js';
import type {
  AdmitResult,
  Balance,
  GrantTerms,
  HoldRequest,
  InterruptedPolicy,
  Ledger,
  Outcome,
  PriceOf,
  PromptTokens,
  PurchaseTerms,
  QuotaCheck,
  RequestFacts,
  Settled,
  DeferredRequest,
} from './port.js';
import { classifiedStore } from './classified-store.js';
import { drainSpool } from './spool/drain.js';
import type { SpoolEntry, VoidOutcome } from './spool/entry.js';
import { Spool } from './spool/spool.js';
import { isLedgerUnavailable, LedgerUnavailableError, ledgerError, ledgerErrorOrigin } from './unavailable.js';

/** How often a ledger found unreachable is probed again (ms); also the `retry-after` of the 503s meanwhile. */
export const PROBE_MS = 500;

/** What the guard needs besides the ledger it wraps. */
export interface GuardOptions {
  timeouts: LedgerTimeouts;
  log?: Logger;
  /** Where to keep settlements the ledger cannot take (see `Spool`), and how many may wait; none: they fail as before (read-only ledgers). */
  spool?: { dir: string; maxEntries: number };
}

/** The outcome of a request refused because the ledger did not confirm its admission (see `LedgerWriter.cancel`). */
export function unconfirmedOutcome(latencyMs: number): VoidOutcome {
  return { httpStatus: 503, usageSource: 'none', latencyMs, errorCode: 'ledger_unavailable' };
}

/**
 * The ledger as the proxy uses it, whatever the engine: every call is bounded, every failure of the
 * store is classified by its origin (src/ledger/unavailable.ts), and no settlement is lost.
 *
 * - `admit` and `open` wait at most `timeouts.admitMs`. A ledger that fails or does not answer in
 *   time is marked down, the request is answered 503 (`LedgerUnavailableError`) and never
 *   forwarded, and its admission is withdrawn (`cancel`, kept in the spool until the ledger takes
 *   it). Until a probe (every `PROBE_MS`) finds the ledger answering, admissions are refused at
 *   once; likewise while the spool holds `spool.maxEntries` entries.
 * - `settle`, `void`, `cancel` and `deferred.defer` wait at most `timeouts.settleMs`; what the
 *   ledger cannot take (unreachable, timed out, a conflict that outlived its retries) is kept in
 *   the spool (memory and a local file that survives a restart) and written once it answers again,
 *   exactly once in effect (each write is idempotent by request id). A settlement kept in the spool
 *   resolves `false` (no threshold alerts for it).
 * - `recoverOpenHolds` (at start) first writes what a previous process left in the spool.
 * - `close` waits for the writes in flight, tries the spool once more, and keeps the rest on disk.
 * - `ping` (readiness) waits at most `timeouts.readyMs`.
 */
export class GuardedLedger implements Ledger {
  readonly reader: Ledger['reader'];
  readonly quotaRequests: Ledger['quotaRequests'];
  readonly alerts: Ledger['alerts'];
  readonly buckets: Ledger['buckets'];
  readonly spikes: Ledger['spikes'];
  readonly objects: Ledger['objects'];
  readonly fileEstimates: Ledger['fileEstimates'];
  readonly deferred: Ledger['deferred'];
  readonly clientSecrets: Ledger['clientSecrets'];
  readonly reconciliations: Ledger['reconciliations'];
  readonly rollups: Ledger['rollups'];
  readonly archive: Ledger['archive'];
  /** Why the ledger counts as down (the last failure), or undefined while it answers. */
  private down: string | undefined;
  private probe: NodeJS.Timeout | undefined;
  private closed = false;
  /** The ledger answered once: from then on an outage is logged (at start, the start-up failure is reported instead). */
  private answered = false;
  private readonly spool: Spool | undefined;
  private draining: Promise<boolean> | undefined;
  private readonly faults = new Map<string, number>();
  /** Writes in flight (settle, void, cancel, defer), awaited by `close`. */
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    readonly inner: Ledger,
    private readonly opts: GuardOptions,
  ) {
    this.spool = opts.spool ? Spool.open(opts.spool.dir) : undefined;
    this.reader = classifiedStore(inner.reader);
    this.quotaRequests = classifiedStore(inner.quotaRequests);
    this.alerts = classifiedStore(inner.alerts);
    this.buckets = inner.buckets && classifiedStore(inner.buckets);
    this.spikes = inner.spikes && classifiedStore(inner.spikes);
    this.objects = classifiedStore(inner.objects);
    this.fileEstimates = classifiedStore(inner.fileEstimates);
    this.clientSecrets = classifiedStore(inner.clientSecrets);
    this.reconciliations = classifiedStore(inner.reconciliations);
    // Maintenance (folding, archiving) runs in the background or from the CLI, never on a request's
    // path: its failures are classified, its waits are its own (a fold or an archive batch).
    this.rollups = classifiedStore(inner.rollups);
    this.archive = classifiedStore(inner.archive);
    const deferred = classifiedStore(inner.deferred);
    this.deferred = Object.assign(Object.create(deferred) as Ledger['deferred'], {
      defer: (request: DeferredRequest, firstPollAt: Date, now: Date) =>
        this.keep(
          () => deferred.defer(request, firstPollAt, now),
          {
            op: 'defer',
            id: request.requestId,
            at: now.toISOString(),
            request,
            firstPollAt: firstPollAt.toISOString(),
          },
          true,
        ),
    });
  }

  /** True while the ledger counts as unreachable (admissions are refused with 503 until a probe succeeds). */
  get isDown(): boolean {
    return this.down !== undefined;
  }

  /** Entries waiting in the spool. */
  get spooled(): number {
    return this.spool?.size ?? 0;
  }

  /** Runs one bounded call; a failure of the store marks the ledger down and is raised classified. */
  private bounded<T>(work: () => Promise<T>, ms: number, what: string): Promise<T> {
    let started: Promise<T>;
    try {
      started = work();
    } catch (err) {
      started = Promise.reject(err);
    }
    // Handlers made once per ledger, not an async function's state per call (every admit and settle).
    return withDeadline(started, ms, what).then(this.onAnswer as (v: T) => T, this.onFailure);
  }

  private readonly onAnswer = <T>(value: T): T => {
    this.answered = true;
    return value;
  };

  private readonly onFailure = (err: unknown): never => {
    if (ledgerErrorOrigin(err) === 'unavailable') this.markDown(err);
    throw ledgerError(err, Math.max(PROBE_MS, 1_000));
  };

  /** Refuses an admission at once while the ledger is down or the spool is full. */
  private refuseWhileDown(): void {
    if (this.down !== undefined)
      throw new LedgerUnavailableError(`the ledger is unreachable (${this.down})`, Math.max(PROBE_MS, 1_000));
    const max = this.opts.spool?.maxEntries ?? Infinity;
    if (this.spooled >= max)
      throw new LedgerUnavailableError(`${this.spooled} settlements are waiting for the ledger`, 1_000);
  }

  private markDown(err: unknown): void {
    if (this.closed) return;
    const reason = (err as Error)?.message ?? String(err);
    if (this.down === undefined && this.answered)
      this.opts.log?.warn({ err: reason }, 'the ledger is unreachable: refusing admissions (503) until it answers');
    this.down = reason;
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    if (this.probe || this.closed) return;
    this.probe = setTimeout(() => {
      this.probe = undefined;
      void this.probeOnce();
    }, PROBE_MS);
    this.probe.unref();
  }

  /** One probe: clears the down mark when the ledger answers, then writes what the spool holds; else tries again later. */
  private async probeOnce(): Promise<void> {
    if (this.down !== undefined) {
      try {
        await withDeadline(this.inner.ping(), this.opts.timeouts.readyMs, 'a probe');
        this.opts.log?.info({ spooled: this.spooled }, 'the ledger answers again: admitting');
        this.down = undefined;
      } catch (err) {
        this.down = (err as Error)?.message ?? String(err);
        this.scheduleProbe();
        return;
      }
    }
    if (this.spooled > 0 && !(await this.drain())) this.scheduleProbe();
  }

  /** Writes the spool into the ledger (one drain at a time); true once it is empty. */
  private drain(): Promise<boolean> {
    if (!this.spool) return Promise.resolve(true);
    this.draining ??= drainSpool(this.spool, this.inner, this.opts.timeouts.settleMs, this.opts.log, this.faults)
      .then((empty) => {
        if (empty && this.faults.size === 0)
          this.opts.log?.info({}, 'the spool is written: every kept settlement is in the ledger');
        return empty;
      })
      .finally(() => (this.draining = undefined));
    return this.draining;
  }

  /**
   * Makes a write the ledger may not take now: at once into the spool while the ledger is down;
   * otherwise bounded, and into the spool when it fails for being unreachable (or a conflict
   * outlived its retries). A fault (a bug, bad data) is raised as it is. Resolves what the ledger
   * answered, or `kept` once the entry is durable in the spool.
   */
  private keep<T>(work: () => Promise<T>, entry: SpoolEntry, kept: T): Promise<T> {
    const run = (async () => {
      if (this.spool && this.down !== undefined) return this.spoolIt(entry, kept);
      try {
        return await this.bounded(work, this.opts.timeouts.settleMs, 'a settlement');
      } catch (err) {
        if (!this.spool || !isLedgerUnavailable(err)) throw err;
        return this.spoolIt(entry, kept);
      }
    })();
    this.inFlight.add(run);
    const settled = () => this.inFlight.delete(run);
    run.then(settled, settled);
    return run;
  }

  private async spoolIt<T>(entry: SpoolEntry, kept: T): Promise<T> {
    await this.spool!.add(entry);
    this.opts.log?.warn({ requestId: entry.id, op: entry.op, spooled: this.spooled }, 'ledger write kept in the spool');
    this.scheduleProbe();
    return kept;
  }

  /** Withdraws an admission the ledger did not confirm (see `LedgerWriter.cancel`); never rejects. */
  private withdraw(facts: RequestFacts, now: Date): void {
    const outcome = unconfirmedOutcome(0);
    if (!this.spool) return;
    void this.keep(
      () => this.inner.cancel(facts, outcome, now),
      { op: 'cancel', id: facts.id, at: now.toISOString(), facts, outcome },
      false,
    ).catch((err: unknown) =>
      this.opts.log?.error({ err, requestId: facts.id }, 'could not withdraw an unconfirmed admission'),
    );
  }

  async admit(facts: RequestFacts, want: HoldRequest, now: Date, quotas: QuotaCheck[]): Promise<AdmitResult> {
    this.refuseWhileDown();
    try {
      return await this.bounded(
        () => this.inner.admit(facts, want, now, quotas),
        this.opts.timeouts.admitMs,
        'an admission',
      );
    } catch (err) {
      if (isLedgerUnavailable(err)) this.withdraw(facts, now);
      throw err;
    }
  }

  async open(facts: RequestFacts, now: Date): Promise<void> {
    this.refuseWhileDown();
    try {
      await this.bounded(() => this.inner.open(facts, now), this.opts.timeouts.admitMs, 'an admission');
    } catch (err) {
      if (isLedgerUnavailable(err)) this.withdraw(facts, now);
      throw err;
    }
  }

  forwarded(requestId: string, prompt?: PromptTokens): void {
    this.inner.forwarded(requestId, prompt);
  }

  settle(requestId: string, outcome: Outcome, now: Date): Promise<Settled | false> {
    return this.keep<Settled | false>(
      () => this.inner.settle(requestId, outcome, now),
      { op: 'settle', id: requestId, at: now.toISOString(), outcome },
      false,
    );
  }

  void(requestId: string, outcome: VoidOutcome, now: Date): Promise<boolean> {
    return this.keep(
      () => this.inner.void(requestId, outcome, now),
      { op: 'void', id: requestId, at: now.toISOString(), outcome },
      false,
    );
  }

  cancel(facts: RequestFacts, outcome: VoidOutcome, now: Date): Promise<boolean> {
    return this.keep(
      () => this.inner.cancel(facts, outcome, now),
      { op: 'cancel', id: facts.id, at: now.toISOString(), facts, outcome },
      false,
    );
  }

  /** Writes what a previous process left in the spool (its settlements land before its rows are resolved), then recovers. */
  async recoverOpenHolds(now: Date, policy: InterruptedPolicy, priceOf: PriceOf): Promise<string[]> {
    if (this.spool) {
      await this.spool.settleAdopted();
      if (this.spool.size > 0) {
        this.opts.log?.info(
          { entries: this.spool.size, file: this.spool.file },
          'writing the spool left by a previous process',
        );
        if (!(await this.drain()) && this.down !== undefined)
          throw new LedgerUnavailableError(`the ledger did not take the spooled settlements: ${this.down}`);
      }
    }
    return this.bounded(
      () => this.inner.recoverOpenHolds(now, policy, priceOf),
      this.opts.timeouts.statementMs * 4,
      'crash recovery',
    );
  }

  syncGrants(grants: GrantTerms[], purchases: PurchaseTerms[], now: Date): Promise<void> {
    return this.bounded(
      () => this.inner.syncGrants(grants, purchases, now),
      this.opts.timeouts.statementMs * 2,
      'the grant sync',
    );
  }

  balance(companyId: string, now: Date): Promise<Balance> {
    return this.bounded(() => this.inner.balance(companyId, now), this.opts.timeouts.statementMs, 'a balance read');
  }

  /** Readiness: the ledger answers within `timeouts.readyMs`. */
  async ping(): Promise<void> {
    try {
      await withDeadline(this.inner.ping(), this.opts.timeouts.readyMs, 'the readiness probe');
    } catch (err) {
      throw isLedgerUnavailable(err) ? err : ledgerError(err);
    }
  }

  /** Waits for the writes in flight, writes the spool if the ledger takes it, keeps the rest on disk, closes. */
  async close(): Promise<void> {
    await Promise.all([...this.inFlight].map((p) => p.catch(() => {})));
    this.closed = true;
    if (this.probe) clearTimeout(this.probe);
    this.probe = undefined;
    if (this.spool) {
      if (this.spool.size > 0 && this.down === undefined) await this.drain();
      if (this.spool.size > 0)
        this.opts.log?.warn(
          { entries: this.spool.size, file: this.spool.file },
          'stopping with settlements kept in the spool: the next start writes them',
        );
      await this.spool.close();
    }
    await this.inner.close();
  }
}
