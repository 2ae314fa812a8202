import type pg from 'pg';
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
} from '../port.js';
import { interruptedOutcome } from '../recovery.js';
import { admitRow, finishRow, openRow, refusalWithoutLock } from './book.js';
import { balanceOf } from './grants.js';
import { PgBuckets } from './buckets.js';
import { migratePool, openPool, transaction, type Queryable } from './db.js';
import { syncGrantsIn } from './grant-sync.js';
import {
  DEFAULT_LIVENESS,
  heartbeat,
  newInstanceId,
  orphanedHolds,
  register,
  stop,
  type Liveness,
} from './instances.js';
import { Lanes } from './lanes.js';
import { PgFileEstimates } from './file-estimates.js';
import { PgDeferredStore } from './deferred.js';
import { PgClientSecrets } from './client-secrets.js';
import { PgObjectStore } from './objects.js';
import { PgReader } from './reader.js';
import { PgReconciliations } from './reconciliations.js';
import { PgSpikes } from './spikes.js';
import { PgAlerts, PgQuotaRequests } from './stores.js';

/** Where and how to open a Postgres ledger. */
export interface PgLedgerOptions {
  /** `postgres://user:password@host:port/database`. */
  url: string;
  /** Reports only: no migration, no instance registered. */
  readonly?: boolean;
  /** Heartbeat and lapse (ms); see `DEFAULT_LIVENESS`. */
  liveness?: Liveness;
  /** Connections in the pool (default 10). */
  poolSize?: number;
}

/**
 * The Postgres adapter of the ledger port, for several processes (replicas, `--workers`) on one
 * database. Each operation is one transaction on a pooled connection; admission locks the company's
 * grants, then its quota counters, each in id order (`SELECT … FOR UPDATE`), so two replicas can
 * never both take the last tokens and no two writers deadlock. Operations on one company run in
 * call order within a process (`Lanes`). Each process registers an instance that heartbeats; held
 * rows record their instance, and the rows of an instance whose heartbeat lapsed are resolved by
 * whichever live replica notices first, once (the row lock and its `held` status decide).
 * Opening is asynchronous behind a synchronous constructor: every call waits for the pool, the
 * migrations and the instance's registration; `ping()` rejects if they failed.
 */
export class PgLedger implements Ledger {
  readonly reader: PgReader;
  readonly quotaRequests: PgQuotaRequests;
  readonly alerts: PgAlerts;
  readonly objects: PgObjectStore;
  readonly fileEstimates: PgFileEstimates;
  readonly deferred: PgDeferredStore;
  readonly clientSecrets: PgClientSecrets;
  readonly buckets: PgBuckets;
  readonly spikes: PgSpikes;
  readonly reconciliations: PgReconciliations;
  /** This process's instance id (`inst_…`), recorded on the rows it admits. */
  readonly instanceId = newInstanceId();
  private readonly pool: pg.Pool;
  private readonly ready: Promise<void>;
  private readonly lanes = new Lanes();
  private readonly companyOf = new Map<string, string>();
  /** Companies whose last admission in this process was refused. */
  private readonly refusing = new Set<string>();
  private readonly liveness: Liveness;
  private timer: NodeJS.Timeout | undefined;
  private recovery: { policy: InterruptedPolicy; priceOf: PriceOf } | undefined;
  private closed = false;
  /** `forwarded` marks in flight. */
  private readonly marking = new Set<Promise<unknown>>();
  private ticking = false;

  constructor(private readonly opts: PgLedgerOptions) {
    this.pool = openPool(opts.url, opts.poolSize);
    this.liveness = opts.liveness ?? DEFAULT_LIVENESS;
    this.ready = opts.readonly ? Promise.resolve() : this.start();
    this.ready.catch(() => {});
    const queries: Queryable = {
      query: async <R extends pg.QueryResultRow>(text: string, params?: unknown[]) => {
        await this.ready;
        return this.pool.query<R>(text, params);
      },
    };
    this.reader = new PgReader(queries, (companyId, now) => this.balance(companyId, now));
    this.quotaRequests = new PgQuotaRequests(queries);
    this.alerts = new PgAlerts(queries);
    this.objects = new PgObjectStore(queries);
    this.fileEstimates = new PgFileEstimates(queries);
    this.deferred = new PgDeferredStore(queries, (requestId) => this.companyOf.delete(requestId));
    this.buckets = new PgBuckets(this.pool, this.ready);
    this.spikes = new PgSpikes(queries);
    this.clientSecrets = new PgClientSecrets(queries);
    this.reconciliations = new PgReconciliations(queries);
  }

  private async start(): Promise<void> {
    await migratePool(this.pool);
    await register(this.pool, this.instanceId);
    this.timer = setInterval(() => void this.tick(), this.liveness.heartbeatMs);
    this.timer.unref();
  }

  /** One heartbeat; then, once recovery ran at start, resolves the holds of instances gone since. */
  private async tick(): Promise<void> {
    // A tick still running (a slow database, many holds to resolve) is not overlapped by the next.
    if (this.ticking) return;
    this.ticking = true;
    try {
      await heartbeat(this.pool, this.instanceId);
      if (this.recovery) await this.resolveOrphans(new Date(), this.recovery.policy, this.recovery.priceOf, false);
    } catch {
      // The database is unreachable: the next tick tries again; readiness reports it.
    } finally {
      this.ticking = false;
    }
  }

  private async resolveOrphans(
    now: Date,
    policy: InterruptedPolicy,
    priceOf: PriceOf,
    includeSelf: boolean,
  ): Promise<string[]> {
    const open = await orphanedHolds(this.pool, this.instanceId, this.liveness.lapseMs, includeSelf);
    const resolved: string[] = [];
    for (const r of open) {
      const outcome = interruptedOutcome(r, policy, priceOf);
      if ((await transaction(this.pool, (c) => finishRow(c, r.id, 'interrupted', outcome, now))) !== false)
        resolved.push(r.id);
    }
    return resolved;
  }

  private write<T>(key: string, op: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.lanes.run(key, async () => {
      await this.ready;
      return transaction(this.pool, op);
    });
  }

  private laneOf(requestId: string): string {
    return this.companyOf.get(requestId) ?? `request:${requestId}`;
  }

  /**
   * Decided under the row locks (4 round trips: BEGIN, lock grants, [lock counters,] write, COMMIT).
   * Once a company's last admission here was refused, the next ones first try a refusal on one
   * unlocked read of the committed balance (1 round trip), so a company out of tokens costs no locks.
   */
  async admit(facts: RequestFacts, request: HoldRequest, now: Date, quotas: QuotaCheck[]): Promise<AdmitResult> {
    // An uncounted prompt is counted up front: the decision is taken under locks, in SQL.
    const exact = request.exact?.();
    const want = exact ? exact.want : request;
    if (exact) facts = { ...facts, estimatedPromptTokens: exact.promptTokens };
    const result = await this.lanes.run(facts.companyId, async () => {
      await this.ready;
      const early = this.refusing.has(facts.companyId)
        ? await refusalWithoutLock(this.pool, facts, want, now, quotas)
        : null;
      const decided =
        early ?? (await transaction(this.pool, (c) => admitRow(c, facts, want, now, quotas, this.instanceId)));
      if (decided.ok) this.refusing.delete(facts.companyId);
      else this.refusing.add(facts.companyId);
      return decided;
    });
    if (result.ok) this.companyOf.set(facts.id, facts.companyId);
    return result;
  }

  async open(facts: RequestFacts, now: Date): Promise<void> {
    await this.lanes.run(facts.companyId, async () => {
      await this.ready;
      await openRow(this.pool, facts, now, this.instanceId);
    });
    this.companyOf.set(facts.id, facts.companyId);
  }

  /**
   * One UPDATE, not awaited and outside the company's lane (it would delay the company's next
   * admission by a round trip): its row's admission has committed before its request is sent, and
   * a mark that lands after the settle matches no `held` row. Recovery and close wait for marks in flight.
   */
  forwarded(requestId: string, prompt?: PromptTokens): void {
    const mark = this.ready
      .then(() =>
        this.pool.query(
          "UPDATE requests SET forwarded = true, estimated_prompt_tokens = COALESCE($2, estimated_prompt_tokens) WHERE id = $1 AND status = 'held' AND forwarded = false",
          [requestId, prompt ? prompt.tokens() : null],
        ),
      )
      .catch(() => {
        // Best effort (see the port): the row is then resolved without charge after a crash.
      })
      .finally(() => this.marking.delete(mark));
    this.marking.add(mark);
  }

  async settle(requestId: string, outcome: Outcome, now: Date): Promise<Settled | false> {
    const lane = this.laneOf(requestId);
    this.companyOf.delete(requestId);
    return this.write(lane, (c) => finishRow(c, requestId, 'settled', outcome, now));
  }

  async void(requestId: string, outcome: Omit<Outcome, 'meteredTokens' | 'costMicroUsd'>, now: Date): Promise<boolean> {
    const lane = this.laneOf(requestId);
    this.companyOf.delete(requestId);
    return (
      (await this.write(lane, (c) =>
        finishRow(c, requestId, 'voided', { ...outcome, meteredTokens: 0, costMicroUsd: 0 }, now),
      )) !== false
    );
  }

  /**
   * Resolves the held rows of instances that are gone (stopped, or silent for `lapseMs`), rows with
   * no known instance, and this instance's own (none at start); from then on, every heartbeat does
   * the same for instances that go silent later, with this policy (never this instance's rows).
   */
  async recoverOpenHolds(now: Date, policy: InterruptedPolicy, priceOf: PriceOf): Promise<string[]> {
    await this.ready;
    await this.lanes.drain();
    await Promise.all(this.marking);
    this.recovery = { policy, priceOf };
    return this.resolveOrphans(now, policy, priceOf, true);
  }

  async syncGrants(grants: GrantTerms[], purchases: PurchaseTerms[], now: Date): Promise<void> {
    await this.ready;
    await this.lanes.drain();
    await transaction(this.pool, (c) => syncGrantsIn(c, grants, purchases, now));
  }

  async balance(companyId: string, now: Date): Promise<Balance> {
    await this.ready;
    return balanceOf(this.pool, companyId, now);
  }

  async ping(): Promise<void> {
    await this.ready;
    const { rows } = await this.pool.query<{ ok: number }>('SELECT 1 AS ok');
    if (rows[0]?.ok !== 1) throw new Error('the ledger did not answer SELECT 1');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.lanes.drain();
    await Promise.all(this.marking);
    try {
      await this.ready;
      if (!this.opts.readonly) await stop(this.pool, this.instanceId);
    } catch {
      // It never opened: nothing to mark.
    }
    await this.pool.end();
  }
}

/** Opens a Postgres ledger (see `PgLedger`); connection, migration and registration errors surface on the first call. */
export function openPgLedger(opts: PgLedgerOptions): PgLedger {
  return new PgLedger(opts);
}
