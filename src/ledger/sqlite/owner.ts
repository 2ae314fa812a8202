import type { Logger } from 'pino';
import type { HoldRequest } from '../port.js';
import type { SqliteLedger } from './index.js';
import {
  Batcher,
  isLedgerBatch,
  NEEDS_COUNT,
  toWire,
  type LedgerBatch,
  type LedgerCall,
  type LedgerReply,
} from './ipc.js';
import { OwnerBuckets, OwnerSpikes } from './owner-memory.js';
import type { HeldRow } from './state.js';
import { pack, unpack } from './wire-value.js';

/** `HoldRequest.exact` of a worker's uncounted prompt: the worker counts it (see `RemoteLedger.admit`). */
const needsCount = (): never => {
  throw Object.assign(new Error('the prompt must be counted for this admission'), { name: NEEDS_COUNT });
};

/** The `Ledger` methods a worker may call by name, and its stores' (any of their methods). */
const METHODS = new Set(['settle', 'void', 'cancel', 'balance', 'ping', 'syncGrants']);
const STORES = new Set([
  'reader',
  'quotaRequests',
  'alerts',
  'objects',
  'fileEstimates',
  'deferred',
  'rollups',
  'archive',
  'clientSecrets',
  'reconciliations',
]);

/**
 * The one process that writes a SQLite ledger for the N workers of `tollgate serve --workers N`
 * (the cluster primary): it answers their calls (`RemoteLedger` sends them) on its own
 * `SqliteLedger`, so the file keeps a single writer, its in-memory grants and counters stay exact,
 * and the admissions and settlements of every worker share one group commit. A call from one
 * worker is applied in the order it was sent (the channel is ordered and each call is queued on
 * arrival).
 *
 * Each worker says `hello` with its instance id first; its rows carry that id. A worker that
 * ended (`gone`) is forgotten: calls of it still in the pipe are dropped, and its held rows become
 * orphans that the next worker to start resolves (`orphans`, then `recover`, priced by that worker's
 * config) while the others keep serving theirs. The rate-limit buckets and usage-spike minutes the
 * workers share live here too, in memory (`OwnerBuckets`, `OwnerSpikes`), so a limit holds once
 * across the workers, not once per worker.
 */
export class LedgerOwner {
  private readonly live = new Map<string | number, string>();
  private readonly gone = new Set<string | number>();
  private readonly buckets = new OwnerBuckets();
  private readonly outboxes = new Map<string | number, Batcher<LedgerReply>>();
  private readonly spikes = new OwnerSpikes();

  constructor(
    private readonly ledger: SqliteLedger,
    private readonly log?: Logger,
  ) {}

  /**
   * Handles `message` from `worker` when it is a batch of ledger calls (returns false otherwise),
   * in order, answering each through `reply` once it resolved (a write: once committed); the
   * answers of one turn go back as one batch.
   */
  receive(worker: string | number, message: unknown, reply: (m: LedgerBatch<LedgerReply>) => void): boolean {
    if (!isLedgerBatch(message)) return false;
    if (this.gone.has(worker)) return true;
    let out = this.outboxes.get(worker);
    if (!out) {
      out = new Batcher<LedgerReply>((batch) => reply({ tg: 'ledger', batch }));
      this.outboxes.set(worker, out);
    }
    for (const call of message.batch as LedgerCall[]) this.one(worker, call, out);
    return true;
  }

  private one(worker: string | number, { id, path, args }: LedgerCall, out: Batcher<LedgerReply>): void {
    let result: Promise<unknown>;
    try {
      result = Promise.resolve(this.dispatch(worker, path, unpack(args) as unknown[]));
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (value) => id !== 0 && out.push(value === undefined ? { id, ok: true } : { id, ok: true, value: pack(value) }),
      (err) => {
        if (id !== 0) out.push({ id, ok: false, error: toWire(err) });
        else this.log?.warn({ err, path }, 'a ledger call from a worker failed');
      },
    );
  }

  /** The worker ended (however): its rows are orphans from now on. */
  forget(worker: string | number): void {
    this.live.delete(worker);
    this.gone.add(worker);
    this.buckets.release(worker);
    this.outboxes.delete(worker);
  }

  /** The instances of the workers alive now but `instance` (the worker recovering at its start, which holds nothing yet). */
  private others(instance: string): ReadonlySet<string> {
    const alive = new Set(this.live.values());
    alive.delete(instance);
    return alive;
  }

  private dispatch(worker: string | number, path: string, args: unknown[]): unknown {
    const l = this.ledger;
    if (path === 'hello') return void this.live.set(worker, String(args[0]));
    const instance = this.live.get(worker);
    if (instance === undefined) throw new Error(`a worker called the ledger (${path}) before saying hello`);
    const a = args as [never, never, never, never];
    switch (path) {
      case 'admit':
        return l.admitAs(instance, a[0], args[4] ? { ...(a[1] as HoldRequest), exact: needsCount } : a[1], a[2], a[3]);
      case 'open':
        return l.openAs(instance, a[0], a[1]);
      case 'marks':
        return l.markForwarded(a[0], a[1]);
      case 'orphans':
        return l.orphans(this.others(instance));
      case 'recover':
        return this.recover(
          instance,
          args[0] as string[],
          args[1] as never,
          args[2] as [string, number][],
          args[3] as Date,
        );
      case 'read':
        return l.read(a[0], a[1]);
      case 'buckets.take':
        return this.buckets.take(a[0], a[1], a[2], a[3]);
      case 'buckets.lock':
        return this.buckets.lock(worker, a[0]);
      case 'buckets.unlock':
        return this.buckets.unlock(worker, a[0]);
      case 'spikes.add':
        return this.spikes.add(a[0], a[1]);
      case 'spikes.forget':
        return this.spikes.forget(a[0]);
    }
    const [store, method, more] = path.split('.');
    if (method === undefined && METHODS.has(store!))
      return (l as unknown as Record<string, Function>)[store!]!(...args);
    if (more === undefined && method !== undefined && STORES.has(store!) && !method.startsWith('_')) {
      const target = (l as unknown as Record<string, Record<string, unknown>>)[store!]!;
      const fn = target[method];
      if (typeof fn === 'function' && method !== 'constructor') return fn.apply(target, args);
    }
    throw new Error(`no such ledger call: ${path}`);
  }

  /**
   * Resolves the rows `ids` (from `orphans`) whose instance is still not alive (or is the caller's), each priced as the
   * worker that asked computed (`prices`: `[JSON of priceOf's arguments, micro-USD]`); returns the
   * ids resolved. A row already finished or taken over is left alone (once, as every finish).
   */
  private recover(instance: string, ids: string[], policy: never, prices: [string, number][], now: Date): string[] {
    const wanted = new Set(ids);
    const price = new Map(prices);
    const alive = this.others(instance);
    const which = (r: HeldRow) => wanted.has(r.id) && !alive.has(r.instanceId ?? '');
    return this.ledger.recoverSome(now, policy, (...key) => price.get(JSON.stringify(key)) ?? 0, which);
  }
}
