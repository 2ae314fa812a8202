import { ReadTimeoutError } from '../port.js';
import { SqlThreadConflict } from './thread.js';
import type { Packed } from './wire-value.js';

/**
 * The wire between the workers of `tollgate serve --workers N` on a SQLite ledger and the process
 * that owns the file (`LedgerOwner`): node:cluster's IPC channel with its default `json`
 * serialization, every argument list and answer packed (`pack`: JSON as it is, `Date`s marked, the
 * rare value JSON cannot carry as V8's structured serialisation), so they cross as they were.
 */

/** Set (to `primary`) in the workers' environment by a primary that owns their SQLite ledger. */
export const LEDGER_OWNER_ENV = 'TOLLGATE_LEDGER_OWNER';

/**
 * A worker's call: `path` names a `Ledger` method (`admit`, `reader.usage`, `objects.record`…) or
 * one of the owner's own (`hello`, `orphans`, `recover`, `read`); `id` 0 wants no reply.
 */
export interface LedgerCall {
  id: number;
  path: string;
  /** The arguments (`unknown[]`), packed. */
  args: Packed;
}

/** The owner's answer to call `id`: its value (packed; absent: `undefined`), or the error it threw (see `toWire`). */
export interface LedgerReply {
  id: number;
  ok: boolean;
  value?: Packed;
  error?: WireError;
}

/** An error as it crosses: what callers and the guard (`unavailable.ts`) tell errors apart by. */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  budgetMs?: number;
  retryAfterMs?: number;
}

/**
 * The owner's answer to an admission sent with its prompt uncounted (`HoldRequest.exact`) when the
 * bound does not fit what is left: the worker counts the prompt and admits again.
 */
export const NEEDS_COUNT = 'PromptCountNeeded';

/**
 * What crosses the channel: the calls (worker → owner) or the replies (owner → worker) of one turn
 * of the event loop, in order, as one message — a message costs both processes far more than its
 * size (measured: ~35 µs of CPU on each side per admit+settle pair sent one call a message, ~8 µs
 * batched).
 */
export interface LedgerBatch<T> {
  tg: 'ledger';
  batch: T[];
}

/** True for a batch of this wire (anything else on the channel is left alone). */
export function isLedgerBatch(m: unknown): m is LedgerBatch<unknown> {
  return (
    typeof m === 'object' &&
    m !== null &&
    (m as { tg?: unknown }).tg === 'ledger' &&
    Array.isArray((m as LedgerBatch<unknown>).batch)
  );
}

/** Collects items and hands them to `flush` as one batch once this turn of the event loop is over. */
export class Batcher<T> {
  private items: T[] = [];

  constructor(private readonly flush: (items: T[]) => void) {}

  push(item: T): void {
    this.items.push(item);
    if (this.items.length === 1) setImmediate(() => this.now());
  }

  /** Hands over what is collected now. */
  now(): void {
    if (this.items.length === 0) return;
    const items = this.items;
    this.items = [];
    this.flush(items);
  }
}

/** An error thrown in the owner, for the wire. */
export function toWire(err: unknown): WireError {
  const e = err as Partial<WireError> | null;
  const out: WireError = { name: String(e?.name ?? 'Error'), message: String(e?.message ?? err) };
  if (typeof e?.code === 'string') out.code = e.code;
  if (typeof e?.budgetMs === 'number') out.budgetMs = e.budgetMs;
  if (typeof e?.retryAfterMs === 'number') out.retryAfterMs = e.retryAfterMs;
  return out;
}

/** The error again in the worker: the classes callers test with `instanceof`, else an `Error` keeping name, code and fields. */
export function fromWire(w: WireError): Error {
  if (w.name === 'ReadTimeoutError' && w.budgetMs !== undefined) return new ReadTimeoutError(w.budgetMs);
  if (w.name === 'SqlThreadConflict') return new SqlThreadConflict(w.message);
  return Object.assign(new Error(w.message), w);
}
