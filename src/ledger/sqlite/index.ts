import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
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
import { Checkpointer } from './checkpointer.js';
import { openLedgerDb, openLedgerDbReadOnly, type LedgerDb } from './db.js';
import { FORWARDED_MARK_DELAY_MS, ForwardedMarks } from './forwarded.js';
import { syncGrants } from './grant-sync.js';
import { SqliteFileEstimates } from './file-estimates.js';
import { SyncLedger } from './ledger.js';
import { SqliteDeferredStore } from './deferred.js';
import { SqliteClientSecrets } from './client-secrets.js';
import { SqliteObjectStore } from './objects.js';
import { LedgerQueue } from './queue.js';
import { SqliteArchive } from './archive.js';
import { SqliteFold } from './fold.js';
import { FoldLoop, Rollups } from '../rollups/folding.js';
import { SharedGate } from './gate.js';
import { ReadPool } from './read-pool.js';
import { SqliteReader } from './reader.js';
import { sqliteRollupStatus } from './rollups.js';
import { inline, pooled, type ReadRunner } from './runner.js';
import { SqliteReconciliations } from './reconciliations.js';
import { SqliteAlerts, SqliteQuotaRequests } from './stores.js';
import { LazySqlThread, SqlThread, type Step } from './thread.js';
import type { HeldRow } from './state.js';
import { OPEN_REQUESTS } from './statements.js';
import { WriterLock } from './writer-lock.js';

/** What runs beside a writable ledger file: read threads for reports, and the folder. */
export interface SqliteBackground {
  /** The ledger file: reads and folds go to threads of their own on it (none for `:memory:`). */
  path?: string;
  /** Reports: read threads (default 2) and each read's time budget in ms (default 5,000). */
  reads?: { threads?: number; timeoutMs?: number };
  /** Fold settled rows into the rollups every this many ms (default 1,000); false: only when asked (`rollups.fold()`). */
  foldIntervalMs?: number | false;
  /** Open read-only: nothing folds, nothing can be archived. */
  readonly?: boolean;
}

/**
 * The SQLite adapter of the ledger port: one file, one writing process, WAL mode.
 *
 * Writes made while serving (`admit`, `open`, `settle`, `void`) are group-committed: the ones
 * queued in one turn of the event loop run in one `BEGIN IMMEDIATE` transaction, in call order, and
 * each promise resolves only after that transaction committed — a request goes upstream only once
 * its row is on disk, while a busy proxy pays one commit per batch. SQLite's write lock serialises
 * admissions, so two can never both take the last tokens. Grants, quota counters and open rows'
 * holds are carried in memory between calls (see `LedgerState`; sound as one process writes the
 * file), and `forwarded` marks ride with later batches (see `ForwardedMarks`). WAL checkpoints (which fsync) run on a
 * worker thread, never inside a commit on the event loop (see `Checkpointer`). `syncGrants` and `recoverOpenHolds` run synchronously in their own transaction.
 */
export class SqliteLedger implements Ledger {
  readonly reader: SqliteReader;
  readonly quotaRequests: SqliteQuotaRequests;
  readonly alerts: SqliteAlerts;
  /** This process, recorded on the rows it admits (one process writes a SQLite ledger: recovery at start resolves every held row). */
  readonly instanceId = `inst_${randomBytes(8).toString('hex')}`;
  readonly objects: SqliteObjectStore;
  readonly fileEstimates: SqliteFileEstimates;
  readonly clientSecrets: SqliteClientSecrets;
  readonly deferred: SqliteDeferredStore;
  readonly rollups: Rollups;
  readonly archive: SqliteArchive;
  readonly reconciliations: SqliteReconciliations;
  private readonly book: SyncLedger;
  private readonly queue: LedgerQueue;
  private readonly marks: ForwardedMarks;
  private readonly runner: ReadRunner;
  private readonly side: LazySqlThread | undefined;
  private readonly folder: FoldLoop | undefined;
  private openRows: Database.Statement | undefined;

  constructor(
    private readonly handle: LedgerDb,
    private readonly checkpointer?: Checkpointer,
    private readonly lock?: WriterLock,
    background: SqliteBackground = {},
  ) {
    this.book = new SyncLedger(handle.sqlite, this.instanceId);
    this.queue = new LedgerQueue((fn) => this.book.transaction(fn));
    this.marks = new ForwardedMarks(
      this.queue,
      (ids, promptTokens) => this.book.markForwarded(ids, promptTokens),
      (id) => this.book.isOpen(id),
    );
    const gate = new SharedGate(this.queue);
    checkpointer?.attach(handle.sqlite, gate.lease());
    const here = inline(handle.sqlite);
    const threaded = background.path !== undefined && !background.readonly;
    this.runner = threaded
      ? pooled(new ReadPool(background.path!, background.reads?.threads ?? 2, background.reads?.timeoutMs ?? 5_000))
      : here;
    // Checkpoints are the checkpointer's (or, without it, the serving connection's): never inside a fold or archive commit, which holds the queue.
    this.side = threaded
      ? new LazySqlThread(background.path!, { readonly: false, walAutocheckpoint: checkpointer ? 0 : undefined })
      : undefined;
    const exec = this.side ?? here;
    if (!background.readonly) {
      const fold = new SqliteFold(exec, this.side ? gate.lease() : undefined);
      this.folder = new FoldLoop(() => fold.once());
      if (background.foldIntervalMs !== false && !process.env.TG_NOFOLD)
        this.folder.start(background.foldIntervalMs ?? 1_000);
    }
    this.rollups = new Rollups(this.folder, sqliteRollupStatus(exec));
    this.archive = new SqliteArchive(exec, this.side ? gate.lease() : undefined, background.path);
    this.reader = new SqliteReader(
      handle.db,
      handle.sqlite,
      (companyId, now) => this.book.balance(companyId, now),
      this.runner,
    );
    this.quotaRequests = new SqliteQuotaRequests(handle.db);
    this.alerts = new SqliteAlerts(handle.db);
    this.objects = new SqliteObjectStore(handle.sqlite, this.queue);
    this.fileEstimates = new SqliteFileEstimates(handle.sqlite, this.queue);
    this.deferred = new SqliteDeferredStore(handle.sqlite, this.queue);
    this.clientSecrets = new SqliteClientSecrets(handle.sqlite, this.queue);
    this.reconciliations = new SqliteReconciliations(handle.sqlite, this.runner);
  }

  admit(facts: RequestFacts, want: HoldRequest, now: Date, quotas: QuotaCheck[]): Promise<AdmitResult> {
    return this.queue.run(() => this.book.admit(facts, want, now, quotas));
  }

  open(facts: RequestFacts, now: Date): Promise<void> {
    return this.queue.run(() => this.book.open(facts, now));
  }

  /** Marks are collected, then written with a group commit, 10–30 ms after the send (see `ForwardedMarks`). */
  forwarded(requestId: string, prompt?: PromptTokens): void {
    this.marks.add(requestId, prompt);
  }

  settle(requestId: string, outcome: Outcome, now: Date): Promise<Settled | false> {
    return this.queue.run(() => this.book.settle(requestId, outcome, now));
  }

  void(requestId: string, outcome: Omit<Outcome, 'meteredTokens' | 'costMicroUsd'>, now: Date): Promise<boolean> {
    return this.queue.run(() => this.book.void(requestId, outcome, now));
  }

  /** Calls apply in order in this process, so the admission ran before: voiding its row is all there is to do. */
  cancel(facts: RequestFacts, outcome: Omit<Outcome, 'meteredTokens' | 'costMicroUsd'>, now: Date): Promise<boolean> {
    return this.void(facts.id, outcome, now);
  }

  async recoverOpenHolds(now: Date, policy: InterruptedPolicy, priceOf: PriceOf): Promise<string[]> {
    this.marks.handOver();
    this.queue.flush();
    return this.book.transaction(() => {
      this.deferred.releaseClaims();
      return this.book.recoverOpenHolds(now, policy, priceOf);
    });
  }

  /**
   * The ledger owner of `serve --workers N` (see `LedgerOwner`): `admit`/`open` on behalf of the
   * worker whose instance is `instance`, recorded on the row.
   */
  admitAs(
    instance: string,
    facts: RequestFacts,
    want: HoldRequest,
    now: Date,
    quotas: QuotaCheck[],
  ): Promise<AdmitResult> {
    return this.queue.run(this.as(instance, () => this.book.admit(facts, want, now, quotas)));
  }

  /** `open` for the worker whose instance is `instance` (see `admitAs`). */
  openAs(instance: string, facts: RequestFacts, now: Date): Promise<void> {
    return this.queue.run(this.as(instance, () => this.book.open(facts, now)));
  }

  /** A worker's `forwarded` marks, with its counted prompts (see `RemoteMarks`): written by the next group commit. */
  markForwarded(ids: readonly string[], promptTokens: readonly (number | undefined)[]): void {
    this.queue.later(() => this.book.markForwarded(ids, promptTokens), FORWARDED_MARK_DELAY_MS);
  }

  private as<T>(instance: string, fn: () => T): () => T {
    return () => {
      const own = this.book.instanceId;
      this.book.instanceId = instance;
      try {
        return fn();
      } finally {
        this.book.instanceId = own;
      }
    };
  }

  /**
   * Held rows (not deferred) whose instance `spare` does not name, after the `forwarded` marks
   * called before: what a worker that died left open (`LedgerOwner`), for its successor to price.
   */
  orphans(spare: ReadonlySet<string>): HeldRow[] {
    this.marks.handOver();
    this.queue.flush();
    this.openRows ??= this.handle.sqlite.prepare(OPEN_REQUESTS);
    return (this.openRows.all() as HeldRow[]).filter((r) => !spare.has(r.instanceId ?? ''));
  }

  /**
   * Recovery of some rows only (`which`), leaving deferred claims alone: the workers of one owner
   * resolve the rows of a worker that died while the others keep serving theirs.
   */
  recoverSome(now: Date, policy: InterruptedPolicy, priceOf: PriceOf, which: (r: HeldRow) => boolean): string[] {
    this.marks.handOver();
    this.queue.flush();
    return this.book.transaction(() => this.book.recoverOpenHolds(now, policy, priceOf, which));
  }

  /** One statement on the report threads (the owner answers a worker's paged export with it). */
  read<T>(step: Step, budgetMs?: number): Promise<T> {
    return this.runner.run<T>(step, budgetMs);
  }

  /** Runs synchronously before resolving (see `syncGrants`), so a config swap after it races no admission. */
  syncGrants(grants: GrantTerms[], purchases: PurchaseTerms[], now: Date): Promise<void> {
    try {
      this.queue.flush();
      syncGrants(this.handle.db, grants, purchases, now);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    } finally {
      this.book.grantsChanged();
    }
  }

  async balance(companyId: string, now: Date): Promise<Balance> {
    return this.book.balance(companyId, now);
  }

  async ping(): Promise<void> {
    const row = this.handle.sqlite.prepare('SELECT 1 AS ok').get() as { ok: number } | undefined;
    if (row?.ok !== 1) throw new Error('the ledger did not answer SELECT 1');
  }

  async close(): Promise<void> {
    await this.folder?.stop();
    await this.runner.close();
    await this.side?.close();
    this.marks.handOver();
    this.queue.flush();
    await this.checkpointer?.stop();
    this.handle.sqlite.close();
    this.lock?.release();
  }
}

/** Where and how to open a SQLite ledger. */
export interface SqliteLedgerOptions {
  /** The ledger file (created, with its folder, when missing; `:memory:` for a throwaway one). */
  path: string;
  /** Open an existing file read-only, for reports: no migration, no checkpointer; writes fail. */
  readonly?: boolean;
  /** Run WAL checkpoints on a worker thread (default true); off, SQLite's own auto-checkpoint does it. */
  checkpointThread?: boolean;
  /** WAL pages past which the checkpoint thread resets the WAL (default ~32 MiB worth; tests use fewer). */
  walResetPages?: number;
  /** Reports: read threads (default 2) and each read's time budget in ms (default 5,000). */
  reads?: { threads?: number; timeoutMs?: number };
  /** Fold settled rows into the rollups every this many ms (default 1,000); false: only when asked. */
  foldIntervalMs?: number | false;
}

/**
 * Opens a SQLite ledger: creates the file if needed and applies pending migrations (unless
 * read-only), takes the file's writer lock (one writing process per ledger, see `WriterLock`), and
 * starts the checkpoint thread for a writable file.
 * @throws LedgerBusyError when another process writes the file; an Error if it cannot be opened,
 *   does not exist (read-only), or a migration fails.
 */
export function openSqliteLedger(opts: SqliteLedgerOptions): SqliteLedger {
  if (opts.readonly) return new SqliteLedger(openLedgerDbReadOnly(opts.path), undefined, undefined, { readonly: true });
  const background = { reads: opts.reads, foldIntervalMs: opts.foldIntervalMs };
  if (opts.path === ':memory:') return new SqliteLedger(openLedgerDb(opts.path), undefined, undefined, background);
  mkdirSync(dirname(opts.path), { recursive: true });
  const lock = WriterLock.acquire(opts.path);
  try {
    const handle = openLedgerDb(opts.path);
    return new SqliteLedger(
      handle,
      opts.checkpointThread === false ? undefined : new Checkpointer(opts.path, opts.walResetPages),
      lock,
      { ...background, path: opts.path },
    );
  } catch (err) {
    lock.release();
    throw err;
  }
}

/**
 * Archiving a ledger file that a running server writes (`tollgate ledger archive` beside `serve`):
 * its own writable connection on a thread, no writer lock; each delete is one short transaction
 * that the server's commits wait for at most once (SQLite's busy timeout).
 */
export function sqliteArchiveBeside(path: string): { archive: SqliteArchive; close(): Promise<void> } {
  const thread = new SqlThread(path, { readonly: false });
  return { archive: new SqliteArchive(thread, undefined, path), close: () => thread.close() };
}
