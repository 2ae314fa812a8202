import type { Logger } from 'pino';
import type { SqliteLedger } from '../../src/ledger/sqlite/index.js';
import { LedgerOwner } from '../../src/ledger/sqlite/owner.js';
import type { OwnerChannel } from '../../src/ledger/sqlite/remote.js';

/**
 * A worker's channel to a `LedgerOwner` in this process, behaving as node:cluster's IPC does for
 * `serve --workers N`: messages cross as JSON (its `json` serialization), delivered in
 * order, a later turn of the event loop, in batches per direction. Several workers: pass the
 * first one's `owner` and another `worker` number.
 */
export function loopbackChannel(
  ledger: SqliteLedger,
  worker = 1,
  log?: Logger,
  owner = new LedgerOwner(ledger, log),
): { channel: OwnerChannel; owner: LedgerOwner } {
  const listeners = new Set<(m: unknown) => void>();
  const pipe = (deliver: (m: unknown) => void) => {
    let queue: unknown[] = [];
    return (m: unknown) => {
      queue.push(JSON.parse(JSON.stringify(m)));
      if (queue.length > 1) return;
      setImmediate(() => {
        const batch = queue;
        queue = [];
        for (const x of batch) deliver(x);
      });
    };
  };
  const toWorker = pipe((m) => {
    for (const l of listeners) l(m);
  });
  const toOwner = pipe((m) => owner.receive(worker, m, toWorker));
  return {
    owner,
    channel: {
      send: toOwner,
      listen(onMessage) {
        listeners.add(onMessage);
        return () => listeners.delete(onMessage);
      },
    },
  };
}
