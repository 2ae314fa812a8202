import type pg from 'pg';
import type { LedgerTimeouts } from '../../config/ledger-schema.js';
import type { Logger } from '../../log.js';
import { LedgerUnavailableError, ledgerErrorOrigin } from '../unavailable.js';
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
import { ReadTimeoutError } from '../port.js';
import { interruptedOutcome } from '../recovery.js';
import { PgArchive } from './archive.js';
import { PgFold } from './fold.js';
import { pgRollupStatus } from './rollups.js';
import { FoldLoop, Rollups } from '../rollups/folding.js';
import { admitRow, cancelRow, finishRow, markForwarded, openRow } from './book.js';
import { balanceOf } from './grants.js';
import { AMPLE } from '../capacity.js';
import { PgBuckets } from './buckets.js';
import { clientConfig, migratePool, openPool, retrying, transaction, type Queryable } from './db.js';
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
import { ForwardedMarks } from './marks.js';
import { countStatementsIfAsked } from './stats.js';
import { Pipelines } from './pipeline.js';
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
  /** Reports: connections of their own (default 2) and each statement's time budget in ms (default 5,000). */
  reads?: { threads?: number; timeoutMs?: number };
  /** Fold settled rows into the rollups every this many ms (default 1,000; one replica at a time); false: only when asked. */
  foldIntervalMs?: number | false;
  /** Bounded waits (ms); default `LEDGER_TIMEOUTS`. */
  timeouts?: LedgerTimeouts;
  /** Where fencing is reported (this replica declared gone, and registered again). */
  log?: Logger;
}

/** A Postgres error meaning a report ran past its budget: a statement cancelled by `statement_timeout`, or no connection in time. */
function timedOut(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e.code === '57014' || /timeout exceeded when trying to connect/i.test(e.message ?? '');
}

/** Connections of the hot path (admit, open, settle, void), in pipeline mode; companies are spread over them. */
const HOT_CONNECTIONS = 4;

/**
 * The Postgres adapter of the ledger port, for several processes (replicas, `--workers`) on one
 * database. Each admission and each settlement is one statement — a function the migrations own
 * (`tollgate_admit`, `tollgate_finish`) that locks the company's grants, then its quota counters,
 * each in id order (the one lock order of every writer), and commits — sent as a prepared statement
 * on one of a few pipelined connections (`Pipelines`): one round trip and one commit each, and the
 * statements of one company run in call order on its connection. `forwarded` marks are batched
 * (`ForwardedMarks`). Each process registers an instance that heartbeats on the ledger's clock; held
 * rows record their instance, and the rows of an instance another one watched lapse are resolved
 * once (the row lock and its `held` status decide). An instance found declared gone registers again
 * before admitting. Reads, the small stores and grant sync use a pool.
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
  readonly rollups: Rollups;
  readonly archive: PgArchive;
  /** This process's instance (`inst_…`), recorded on the rows it admits; a new one after it was declared gone. */
  private instance = newInstanceId();
  /** Declared gone by another replica (its heartbeat lapsed): admissions wait until it registered again. */
  private fenced: Promise<void> | undefined;
  readonly reconciliations: PgReconciliations;
  private readonly pool: pg.Pool;
  /** The reports' own connections (each statement bounded by `statement_timeout`); the serving pool when read-only. */
  private readonly readPool: pg.Pool | undefined;
  private readonly folder: FoldLoop | undefined;
  private readonly hot: Pipelines;
  private readonly marks: ForwardedMarks;
  private readonly ready: Promise<void>;
  /** The company of each request admitted here and not yet settled (its connection; the rows to take over when fenced). */
  private readonly companyOf = new Map<string, string>();
  private readonly liveness: Liveness;
  private timer: NodeJS.Timeout | undefined;
  private recovery: { policy: InterruptedPolicy; priceOf: PriceOf } | undefined;
  private closed = false;
  private ticking = false;

  constructor(private readonly opts: PgLedgerOptions) {
    countStatementsIfAsked();
    this.pool = openPool(opts.url, opts.poolSize, opts.timeouts);
    this.hot = new Pipelines(clientConfig(opts.url, opts.timeouts), HOT_CONNECTIONS);
    // Best effort (see the port): a row left unmarked is resolved without charge after a crash.
    this.marks = new ForwardedMarks((marks) => markForwarded(this.hot, marks).catch(() => {}));
    this.liveness = opts.liveness ?? DEFAULT_LIVENESS;
    this.ready = opts.readonly ? Promise.resolve() : this.start();
    this.ready.catch(() => {});
    const queries: Queryable = {
      query: async <R extends pg.QueryResultRow>(text: string | pg.QueryConfig, params?: unknown[]) => {
        await this.ready;
        return this.pool.query<R>(text as string, params);
      },
    };
    // The reports' connections: the ledger's bounded waits, with the reports' budget for each
    // statement and for a free connection (the driver's own wait a little longer, as for the ledger's).
    const budget = opts.reads?.timeoutMs ?? 5_000;
    this.readPool = opts.readonly
      ? undefined
      : openPool(opts.url, opts.reads?.threads ?? 2, opts.timeouts, {
          statement_timeout: budget,
          query_timeout: budget + 1_000,
          connectionTimeoutMillis: budget,
        });
    const readPool = this.readPool;
    const reports: Queryable = readPool
      ? {
          query: async <R extends pg.QueryResultRow>(text: string, params?: unknown[]) => {
            await this.ready;
            try {
              return await readPool.query<R>(text, params);
            } catch (err) {
              throw timedOut(err) ? new ReadTimeoutError(budget) : err;
            }
          },
        }
      : queries;
    this.reader = new PgReader(reports, (companyId, now) => this.balance(companyId, now), queries);
    const connect = async () => {
      await this.ready;
      return this.pool.connect();
    };
    const fold = new PgFold(connect);
    this.folder = opts.readonly ? undefined : new FoldLoop(() => fold.once());
    this.rollups = new Rollups(this.folder, pgRollupStatus(queries));
    this.archive = new PgArchive(queries, connect);
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

  /** This process's instance id (`inst_…`), recorded on the rows it admits. */
  get instanceId(): string {
    return this.instance;
  }

  private async start(): Promise<void> {
    try {
      await migratePool(this.pool);
      await register(this.pool, this.instance);
    } catch (err) {
      if (ledgerErrorOrigin(err) === 'fault') throw err;
      const u = new URL(this.opts.url);
      if (u.password) u.password = '***';
      throw new LedgerUnavailableError(
        `the Postgres ledger at ${u.toString()} did not answer: ${(err as Error).message}`,
        undefined,
        { cause: err },
      );
    }
    this.timer = setInterval(() => void this.tick(), this.liveness.heartbeatMs);
    this.timer.unref();
    if (this.opts.foldIntervalMs !== false) this.folder?.start(this.opts.foldIntervalMs ?? 1_000);
  }

  /**
   * One heartbeat; then, once recovery ran at start, resolves the holds of instances gone since. A
   * heartbeat that finds this instance declared gone fences it (see `reregister`).
   */
  private async tick(): Promise<void> {
    // A tick still running (a slow database, many holds to resolve) is not overlapped by the next.
    if (this.ticking) return;
    this.ticking = true;
    try {
      if (!(await heartbeat(this.pool, this.instance, this.liveness))) await this.reregister();
      if (this.recovery) await this.resolveOrphans(new Date(), this.recovery.policy, this.recovery.priceOf, false);
    } catch {
      // The database is unreachable: the next tick tries again; readiness reports it.
    } finally {
      this.ticking = false;
    }
  }

  /**
   * This instance was declared gone by another replica (its heartbeat lapsed while it was cut off
   * from the ledger): it stops admitting, registers again under a new id and takes over the rows it
   * still serves, so that no sweep resolves them; a row a sweep resolved first is corrected by its
   * late settlement (see `finishRow`). Admissions wait for this, then go on.
   */
  private reregister(): Promise<void> {
    this.fenced ??= (async () => {
      const old = this.instance;
      const next = newInstanceId();
      const adopted = await register(this.pool, next, [...this.companyOf.keys()]);
      this.instance = next;
      this.opts.log?.warn(
        { declaredGone: old, instance: next, adopted },
        'this replica was declared gone by another (its heartbeat lapsed): registered again, admitting',
      );
    })().finally(() => (this.fenced = undefined));
    return this.fenced;
  }

  private async resolveOrphans(
    now: Date,
    policy: InterruptedPolicy,
    priceOf: PriceOf,
    includeSelf: boolean,
  ): Promise<string[]> {
    const open = await orphanedHolds(this.pool, this.instance, includeSelf);
    const resolved: string[] = [];
    for (const r of open) {
      const outcome = interruptedOutcome(r, policy, priceOf);
      if ((await finishRow(this.pool, r.id, 'interrupted', outcome, now, this.instance)) !== false) resolved.push(r.id);
    }
    return resolved;
  }

  /** Runs `write` as a live instance: declared gone, it registers again and runs it once more under its new id. */
  private async live<T>(write: () => Promise<T | 'fenced'>): Promise<T> {
    await this.ready;
    if (this.fenced) await this.fenced;
    const first = await write();
    if (first !== 'fenced') return first;
    await this.reregister();
    const again = await write();
    if (again === 'fenced')
      throw new LedgerUnavailableError('this replica was declared gone and could not register again');
    return again;
  }

  /**
   * One statement (`tollgate_admit`, see `admitRow`): one round trip, one commit. A request on a bound of its uncounted
   * prompt is held on the bound where that leaves ample room (as on SQLite, `AMPLE`), else counted and asked again.
   */
  async admit(facts: RequestFacts, request: HoldRequest, now: Date, quotas: QuotaCheck[]): Promise<AdmitResult> {
    const ample = request.exact ? AMPLE : 0;
    let result = await this.live(() => admitRow(this.hot, facts, request, now, quotas, this.instance, ample));
    if (result === 'count') {
      const exact = request.exact!();
      const counted = { ...facts, estimatedPromptTokens: exact.promptTokens };
      result = (await this.live(() =>
        admitRow(this.hot, counted, exact.want, now, quotas, this.instance),
      )) as AdmitResult;
    }
    if (result.ok) this.companyOf.set(facts.id, facts.companyId);
    return result;
  }

  async open(facts: RequestFacts, now: Date): Promise<void> {
    await this.live(() => openRow(this.hot, facts, now, this.instance));
    this.companyOf.set(facts.id, facts.companyId);
  }

  /** Batched, `prompt` counted as the mark is written (see `ForwardedMarks`): with the next settlement, else 20 ms later. */
  forwarded(requestId: string, prompt?: PromptTokens): void {
    // A row no longer open here (settled, voided) needs no count.
    this.marks.add(requestId, this.companyOf.has(requestId) ? prompt : undefined);
  }

  /** One statement (`tollgate_finish`) on the company's connection, after its admission; a deadlock or serialization failure is retried. */
  private async finish(
    requestId: string,
    status: 'settled' | 'voided',
    outcome: Outcome,
    now: Date,
  ): Promise<Settled | false> {
    const key = this.companyOf.get(requestId) ?? requestId;
    this.companyOf.delete(requestId);
    this.marks.finished(requestId);
    await this.ready;
    // The marks waiting to be written ride this statement (one round trip for both).
    return this.marks.carry((marks) =>
      retrying(() => finishRow({ hot: this.hot, key }, requestId, status, outcome, now, null, marks)),
    );
  }

  settle(requestId: string, outcome: Outcome, now: Date): Promise<Settled | false> {
    return this.finish(requestId, 'settled', outcome, now);
  }

  async void(requestId: string, outcome: Omit<Outcome, 'meteredTokens' | 'costMicroUsd'>, now: Date): Promise<boolean> {
    return (await this.finish(requestId, 'voided', { ...outcome, meteredTokens: 0, costMicroUsd: 0 }, now)) !== false;
  }

  /** One transaction on the pool; whichever of it and a late admission comes second finds the other's row. */
  async cancel(
    facts: RequestFacts,
    outcome: Omit<Outcome, 'meteredTokens' | 'costMicroUsd'>,
    now: Date,
  ): Promise<boolean> {
    this.companyOf.delete(facts.id);
    this.marks.finished(facts.id);
    await this.ready;
    return transaction(this.pool, (c) => cancelRow(c, facts, outcome, now));
  }

  /**
   * Resolves the held rows of instances that are gone (stopped, or declared gone by a heartbeat
   * that watched them lapse), rows with no known instance, and this instance's own (none at start);
   * from then on, every heartbeat does the same for instances that go silent later, with this
   * policy (never this instance's rows).
   */
  async recoverOpenHolds(now: Date, policy: InterruptedPolicy, priceOf: PriceOf): Promise<string[]> {
    await this.ready;
    await this.hot.drain();
    await this.marks.flush();
    this.recovery = { policy, priceOf };
    return this.resolveOrphans(now, policy, priceOf, true);
  }

  async syncGrants(grants: GrantTerms[], purchases: PurchaseTerms[], now: Date): Promise<void> {
    await this.ready;
    await this.hot.drain();
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
    await this.folder?.stop();
    await this.readPool?.end().catch(() => {});
    await this.marks.flush();
    await this.hot.close();
    try {
      await this.ready;
      if (!this.opts.readonly) await stop(this.pool, this.instance);
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
