import type { DeferredRequest, Outcome, RequestFacts } from '../port.js';

/** What a void writes on a row: an outcome without a charge. */
export type VoidOutcome = Omit<Outcome, 'meteredTokens' | 'costMicroUsd'>;

/**
 * A write the ledger could not take when it was made, kept in the spool until it can. Every one is
 * idempotent by request id, so applying one twice (after a crash between applying it and noting it
 * done) changes nothing the second time. Instants are ISO 8601 UTC.
 *
 * - `settle` / `void`: the request's outcome, as `LedgerWriter.settle` / `void` take it.
 * - `cancel`: a request whose admission was not confirmed (it was never forwarded): its row is
 *   voided if written, or recorded voided so that a late admission writes nothing (`LedgerWriter.cancel`).
 * - `defer`: a held request to settle once its upstream object is final (`DeferredStore.defer`).
 */
export type SpoolEntry =
  | { op: 'settle'; id: string; at: string; outcome: Outcome }
  | { op: 'void'; id: string; at: string; outcome: VoidOutcome }
  | { op: 'cancel'; id: string; at: string; facts: RequestFacts; outcome: VoidOutcome }
  | { op: 'defer'; id: string; at: string; request: DeferredRequest; firstPollAt: string };

/** A line of a spool file: an entry, or the note that the entry of request `done` was applied. */
export type SpoolLine = SpoolEntry | { done: string };

/** The entries of `lines` (a spool file's, in order) not yet noted done, in order, one per request id (the last). */
export function pendingOf(lines: readonly SpoolLine[]): SpoolEntry[] {
  const pending = new Map<string, SpoolEntry>();
  for (const line of lines) {
    if ('done' in line) pending.delete(line.done);
    else {
      pending.delete(line.id);
      pending.set(line.id, line);
    }
  }
  return [...pending.values()];
}

/** Parses a spool file's text; a line cut short by a crash (the last one) is skipped. */
export function parseSpool(text: string): SpoolLine[] {
  const lines: SpoolLine[] = [];
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue;
    try {
      lines.push(JSON.parse(raw) as SpoolLine);
    } catch {
      // A torn last line: its write was never acknowledged, so nothing depended on it.
    }
  }
  return lines;
}
