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
  PurchaseTerms,
  QuotaCheck,
  RequestFacts,
  Settled,
} from './port.js';
import { classifiedStore } from './classified-store.js';
import { isLedgerUnavailable, LedgerUnavailableError, ledgerError, ledgerErrorOrigin } from './unavailable.js';

/** How often a ledger found unreachable is probed again (ms); also the `retry-after` of the 503s meanwhile. */
export const PROBE_MS = 500;

/** What the guard needs besides the ledger it wraps. */
export interface GuardOptions {
  timeouts: LedgerTimeouts;
  log?: Logger;
}

/**
 * The ledger as the proxy uses it, whatever the engine: every call is bounded, and every failure of
 * the store is classified by its origin (src/ledger/unavailable.ts), so a reset connection or a
 * timeout is answered 503 with `retry-after`, never a 4xx.
 *
 * - `admit` and `open` wait at most `timeouts.admitMs`; a ledger that does not answer in time or
 *   fails is marked down, and until a probe (every `PROBE_MS`) finds it answering again, admissions
 *   fail at once with `LedgerUnavailableError`: nothing is forwarded unmetered.
 * - `settle` and `void` wait at most `timeouts.settleMs`.
 * - `ping` (readiness) waits at most `timeouts.readyMs`.
 * - The reader and the stores raise classified errors.
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
  /** Why the ledger counts as down (the last failure), or undefined while it answers. */
  private down: string | undefined;
  private probe: NodeJS.Timeout | undefined;
  private closed = false;
  /** The ledger answered once: from then on an outage is logged (at start, the start-up failure is reported instead). */
  private answered = false;

  constructor(
    readonly inner: Ledger,
    private readonly opts: GuardOptions,
  ) {
    this.reader = classifiedStore(inner.reader);
    this.quotaRequests = classifiedStore(inner.quotaRequests);
    this.alerts = classifiedStore(inner.alerts);
    this.buckets = inner.buckets && classifiedStore(inner.buckets);
    this.spikes = inner.spikes && classifiedStore(inner.spikes);
    this.objects = classifiedStore(inner.objects);
    this.fileEstimates = classifiedStore(inner.fileEstimates);
    this.deferred = classifiedStore(inner.deferred);
  }

  /** True while the ledger counts as unreachable (admissions are refused with 503 until a probe succeeds). */
  get isDown(): boolean {
    return this.down !== undefined;
  }

  /** Runs one bounded call; a failure of the store marks the ledger down and is raised classified. */
  private async bounded<T>(work: () => Promise<T>, ms: number, what: string): Promise<T> {
    try {
      const value = await withDeadline(work(), ms, what);
      this.answered = true;
      return value;
    } catch (err) {
      const origin = ledgerErrorOrigin(err);
      if (origin === 'unavailable') this.markDown(err);
      throw ledgerError(err, PROBE_MS);
    }
  }

  /** Refuses at once while the ledger is down. */
  private refuseWhileDown(): void {
    if (this.down !== undefined)
      throw new LedgerUnavailableError(`the ledger is unreachable (${this.down})`, Math.max(PROBE_MS, 1_000));
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

  /** One probe of a ledger marked down: clears the mark when it answers, else tries again later. */
  private async probeOnce(): Promise<void> {
    try {
      await withDeadline(this.inner.ping(), this.opts.timeouts.readyMs, 'a probe');
      if (this.down !== undefined) this.opts.log?.info({}, 'the ledger answers again: admitting');
      this.down = undefined;
    } catch (err) {
      this.down = (err as Error)?.message ?? String(err);
      this.scheduleProbe();
    }
  }

  admit(facts: RequestFacts, want: HoldRequest, now: Date, quotas: QuotaCheck[]): Promise<AdmitResult> {
    this.refuseWhileDown();
    return this.bounded(() => this.inner.admit(facts, want, now, quotas), this.opts.timeouts.admitMs, 'an admission');
  }

  open(facts: RequestFacts, now: Date): Promise<void> {
    this.refuseWhileDown();
    return this.bounded(() => this.inner.open(facts, now), this.opts.timeouts.admitMs, 'an admission');
  }

  forwarded(requestId: string): void {
    this.inner.forwarded(requestId);
  }

  settle(requestId: string, outcome: Outcome, now: Date): Promise<Settled | false> {
    return this.bounded(() => this.inner.settle(requestId, outcome, now), this.opts.timeouts.settleMs, 'a settlement');
  }

  void(requestId: string, outcome: Omit<Outcome, 'meteredTokens' | 'costMicroUsd'>, now: Date): Promise<boolean> {
    return this.bounded(() => this.inner.void(requestId, outcome, now), this.opts.timeouts.settleMs, 'a settlement');
  }

  recoverOpenHolds(now: Date, policy: InterruptedPolicy, priceOf: PriceOf): Promise<string[]> {
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

  async close(): Promise<void> {
    this.closed = true;
    if (this.probe) clearTimeout(this.probe);
    this.probe = undefined;
    await this.inner.close();
  }
}
