import { randomBytes } from 'node:crypto';
import type {
  AdmitResult,
  AlertStore,
  ArchiveStore,
  Balance,
  BucketLevel,
  BucketStore,
  ClientSecretStore,
  DeferredStore,
  FileEstimateStore,
  GrantTerms,
  HoldRequest,
  InterruptedPolicy,
  Ledger,
  LedgerReader,
  ObjectStore,
  Outcome,
  PriceOf,
  PromptTokens,
  PurchaseTerms,
  QuotaCheck,
  QuotaRequestStore,
  ReconciliationStore,
  RequestFacts,
  RollupStore,
  Settled,
  SpikeStore,
} from '../port.js';
import { interruptedOutcome } from '../recovery.js';
import { LedgerUnavailableError } from '../unavailable.js';
import {
  Batcher,
  fromWire,
  isLedgerBatch,
  NEEDS_COUNT,
  type LedgerBatch,
  type LedgerCall,
  type LedgerReply,
} from './ipc.js';
import { RemoteMarks } from './remote-marks.js';
import { rowPages } from './request-rows.js';
import { pack, unpack } from './wire-value.js';
import type { HeldRow } from './state.js';
import { underLock } from './writer-lock.js';

/** How a worker reaches the ledger owner: an ordered, two-way message channel (node:cluster's IPC in `serve`). */
export interface OwnerChannel {
  send(message: LedgerBatch<LedgerCall>): void;
  /** Subscribes to the owner's messages; returns the unsubscribe. */
  listen(onMessage: (message: unknown) => void): () => void;
}

/** The cluster worker's channel to its primary (`process.send`); a call made once the primary is gone fails as unavailable. */
export function primaryChannel(): OwnerChannel {
  return {
    send(message) {
      if (!process.send || !process.connected)
        throw new LedgerUnavailableError('the ledger owner (primary process) is gone');
      process.send(message);
    },
    listen(onMessage) {
      process.on('message', onMessage);
      return () => process.off('message', onMessage);
    },
  };
}

type Call = <T>(path: string, args?: unknown[]) => Promise<T>;

/** A store whose every method is a call to the owner (`name.method`), but for the ones `local` gives. */
function remoteStore<T extends object>(call: Call, name: string, local: object = {}): T {
  return new Proxy(local, {
    get(target, prop) {
      if (prop in target) return (target as Record<string | symbol, unknown>)[prop];
      if (typeof prop !== 'string' || prop === 'then') return undefined;
      return (...args: unknown[]) => call(`${name}.${prop}`, args);
    },
  }) as T;
}

/**
 * The SQLite ledger as a worker of `tollgate serve --workers N` sees it: every call goes to the
 * process that owns the file (`LedgerOwner`, the cluster primary) and resolves with its answer —
 * `admit`/`open` once the row is committed there (group-committed with the other workers' calls),
 * so a request still goes upstream only after its row is on disk. Calls reach the owner in the
 * order they are made. Reports run on the owner's read threads; an export pages through them.
 * `recoverOpenHolds` resolves only the rows of workers no longer alive (the rows of a worker that
 * died, and at the first start every row left held), priced by this worker's `priceOf`.
 */
export class RemoteLedger implements Ledger {
  /** This worker, recorded on the rows it admits. */
  readonly instanceId = `inst_${randomBytes(8).toString('hex')}`;
  readonly reader: LedgerReader;
  readonly quotaRequests: QuotaRequestStore;
  readonly alerts: AlertStore;
  readonly objects: ObjectStore;
  readonly fileEstimates: FileEstimateStore;
  readonly deferred: DeferredStore;
  readonly rollups: RollupStore;
  readonly archive: ArchiveStore;
  readonly clientSecrets: ClientSecretStore;
  readonly reconciliations: ReconciliationStore;
  /** Shared by every worker, kept by the owner (see `OwnerBuckets`). */
  readonly buckets: BucketStore;
  /** Shared by every worker, kept by the owner (see `OwnerSpikes`). */
  readonly spikes: SpikeStore;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private next = 1;
  private readonly unlisten: () => void;
  private archiving = false;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly marks: RemoteMarks;
  private readonly outbox = new Batcher<LedgerCall>((batch) => this.send(batch));

  /**
   * @param path the ledger file (for the archive's run lock, which every process takes on the file).
   * @param channel the way to the owner (`primaryChannel()` in a cluster worker).
   */
  constructor(
    path: string,
    private readonly channel: OwnerChannel,
  ) {
    this.unlisten = channel.listen((m) => this.answer(m));
    const call: Call = (p, args) => this.call(p, args);
    this.reader = remoteStore(call, 'reader', {
      exportRows: (filter: never, pageSize = 1_000) =>
        rowPages({ run: (step, budgetMs) => call('read', [step, budgetMs]), close: async () => {} }, filter, pageSize),
    });
    this.quotaRequests = remoteStore(call, 'quotaRequests');
    this.alerts = remoteStore(call, 'alerts');
    this.objects = remoteStore(call, 'objects');
    this.fileEstimates = remoteStore(call, 'fileEstimates');
    this.deferred = remoteStore(call, 'deferred');
    this.rollups = remoteStore(call, 'rollups');
    this.archive = remoteStore(call, 'archive', {
      engine: 'sqlite',
      exclusive: async <T>(fn: () => Promise<T>): Promise<T | null> => {
        if (this.archiving) return null;
        this.archiving = true;
        try {
          return await underLock(path, 'archive', fn);
        } finally {
          this.archiving = false;
        }
      },
    });
    this.clientSecrets = remoteStore(call, 'clientSecrets');
    this.reconciliations = remoteStore(call, 'reconciliations');
    this.spikes = remoteStore(call, 'spikes');
    this.buckets = {
      take: (ids, limits, amounts, nowMs) => call('buckets.take', [ids, limits, amounts, nowMs]),
      update: async (ids, plan) => {
        const buckets = new Map(await call<[string, BucketLevel][]>('buckets.lock', [ids]));
        let written: [string, BucketLevel][] = [];
        try {
          const value = plan(buckets);
          written = [...buckets];
          return value;
        } finally {
          await call('buckets.unlock', [written]); // a plan that threw writes nothing
        }
      },
    };
    this.marks = new RemoteMarks((ids, counts) => this.tell('marks', [ids, counts]));
    this.call('hello', [this.instanceId]).catch(() => {});
  }

  private answer(m: unknown): void {
    if (!isLedgerBatch(m)) return;
    for (const reply of m.batch as LedgerReply[]) {
      const p = this.pending.get(reply.id);
      if (!p) continue;
      this.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.value === undefined ? undefined : unpack(reply.value));
      else p.reject(fromWire(reply.error!));
    }
  }

  /** Sends the calls of this turn as one message; when the owner is gone, they fail (those awaited, as unavailable). */
  private send(batch: LedgerCall[]): void {
    try {
      this.channel.send({ tg: 'ledger', batch });
    } catch (err) {
      for (const { id } of batch) {
        this.pending.get(id)?.reject(err as Error);
        this.pending.delete(id);
      }
    }
  }

  /** A message that wants no answer; dropped once the owner is gone (recovery at the next start reads the rows as they are). */
  private tell(path: string, args: unknown[]): void {
    this.outbox.push({ id: 0, path, args: pack(args) });
  }

  private call<T>(path: string, args: unknown[] = []): Promise<T> {
    const id = this.next++;
    const promise = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.outbox.push({ id, path, args: pack(args) });
    });
    this.inflight.add(promise);
    const done = () => this.inflight.delete(promise);
    promise.then(done, done);
    return promise;
  }

  /**
   * An uncounted prompt (`want.exact`) is counted only when the owner says the bound does not fit
   * (`NEEDS_COUNT`): then admitted again on the counted prompt, the request's one admission.
   */
  async admit(facts: RequestFacts, want: HoldRequest, now: Date, quotas: QuotaCheck[]): Promise<AdmitResult> {
    const { exact, ...plain } = want;
    try {
      return await this.call('admit', [facts, plain, now, quotas, exact !== undefined]);
    } catch (err) {
      if (!exact || (err as Error).name !== NEEDS_COUNT) throw err;
      const counted = exact();
      return this.call('admit', [{ ...facts, estimatedPromptTokens: counted.promptTokens }, counted.want, now, quotas]);
    }
  }

  open(facts: RequestFacts, now: Date): Promise<void> {
    return this.call('open', [facts, now]);
  }

  /** Collected and sent unanswered within 10 ms (see `RemoteMarks`); the owner writes them with its group commit. */
  forwarded(requestId: string, prompt?: PromptTokens): void {
    this.marks.add(requestId, prompt);
  }

  settle(requestId: string, outcome: Outcome, now: Date): Promise<Settled | false> {
    this.marks.finished(requestId);
    return this.call('settle', [requestId, outcome, now]);
  }

  void(requestId: string, outcome: Omit<Outcome, 'meteredTokens' | 'costMicroUsd'>, now: Date): Promise<boolean> {
    this.marks.finished(requestId);
    return this.call('void', [requestId, outcome, now]);
  }

  cancel(facts: RequestFacts, outcome: Omit<Outcome, 'meteredTokens' | 'costMicroUsd'>, now: Date): Promise<boolean> {
    this.marks.finished(facts.id);
    return this.call('cancel', [facts, outcome, now]);
  }

  /**
   * Resolves the held rows of workers no longer alive: the owner lists them, this worker prices
   * each as `interruptedOutcome` asks (its `priceOf` stays here), the owner resolves them once.
   */
  async recoverOpenHolds(now: Date, policy: InterruptedPolicy, priceOf: PriceOf): Promise<string[]> {
    this.marks.handOver();
    const rows = await this.call<HeldRow[]>('orphans');
    const prices: [string, number][] = [];
    const noted: PriceOf = (...key) => {
      const v = priceOf(...key);
      prices.push([JSON.stringify(key), v]);
      return v;
    };
    for (const r of rows)
      interruptedOutcome({ ...r, forwarded: r.forwarded === null ? null : r.forwarded === 1 }, policy, noted);
    return rows.length === 0 ? [] : this.call('recover', [rows.map((r) => r.id), policy, prices, now]);
  }

  syncGrants(grants: GrantTerms[], purchases: PurchaseTerms[], now: Date): Promise<void> {
    return this.call('syncGrants', [grants, purchases, now]);
  }

  balance(companyId: string, now: Date): Promise<Balance> {
    return this.call('balance', [companyId, now]);
  }

  ping(): Promise<void> {
    return this.call('ping');
  }

  /** Waits for the calls in flight (the owner keeps the file open for the other workers). */
  async close(): Promise<void> {
    this.marks.handOver();
    this.outbox.now();
    await Promise.allSettled(this.inflight);
    this.unlisten();
  }
}
