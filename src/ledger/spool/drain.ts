import type { Logger } from '../../log.js';
import { withDeadline } from '../deadline.js';
import type { Ledger } from '../port.js';
import { ledgerErrorOrigin } from '../unavailable.js';
import type { SpoolEntry } from './entry.js';
import type { Spool } from './spool.js';

/** Attempts at an entry the ledger refuses as a fault (not for being unreachable) before it is set aside for an operator. */
const FAULT_ATTEMPTS = 3;

/** Applies one spooled entry to the ledger (each idempotent by request id, see `SpoolEntry`). */
function apply(ledger: Ledger, e: SpoolEntry): Promise<unknown> {
  const at = new Date(e.at);
  switch (e.op) {
    case 'settle':
      return ledger.settle(e.id, e.outcome, at);
    case 'void':
      return ledger.void(e.id, e.outcome, at);
    case 'cancel':
      return ledger.cancel(e.facts, e.outcome, at);
    case 'defer':
      return ledger.deferred.defer(e.request, new Date(e.firstPollAt), at);
  }
}

/**
 * Writes the spool's entries into the ledger, oldest first, one at a time, each bounded by `ms`;
 * notes each done once the ledger took it. Stops at the first entry the ledger cannot take for
 * being unreachable (resolves false; the caller tries again later). An entry refused as a fault
 * `FAULT_ATTEMPTS` times is set aside in `<spool file>.failed` and logged. Resolves true once the
 * spool is empty. Never rejects.
 */
export async function drainSpool(
  spool: Spool,
  ledger: Ledger,
  ms: number,
  log: Logger | undefined,
  faults: Map<string, number>,
): Promise<boolean> {
  for (const entry of spool.entries()) {
    try {
      await withDeadline(apply(ledger, entry), ms, 'a spooled write');
      faults.delete(entry.id);
      await spool.done(entry.id);
    } catch (err) {
      if (ledgerErrorOrigin(err) !== 'fault') return false;
      const n = (faults.get(entry.id) ?? 0) + 1;
      faults.set(entry.id, n);
      if (n < FAULT_ATTEMPTS) return false;
      faults.delete(entry.id);
      log?.error(
        { err, requestId: entry.id, op: entry.op, file: `${spool.file}.failed` },
        'a spooled ledger write keeps failing: set aside for an operator',
      );
      await spool.fail(entry, (err as Error)?.message ?? String(err)).catch(() => {});
    }
  }
  return spool.size === 0;
}
