import cluster from 'node:cluster';
import type { Logger } from 'pino';
import { openSqliteLedger } from './index.js';
import { LEDGER_OWNER_ENV } from './ipc.js';
import { LedgerOwner } from './owner.js';

/**
 * Makes this process (the primary of `tollgate serve --workers N`) the owner of the SQLite ledger
 * at `path`: takes the file's writer lock, migrates, releases the deferred claims a previous run
 * left, and answers the calls of every worker it forks from now on (`LedgerOwner`; the workers
 * open `RemoteLedger`, told by `TOLLGATE_LEDGER_OWNER`). Call before forking. `close` commits
 * what is queued and closes the file (after the workers stopped).
 * @throws LedgerBusyError when another process writes the file; an Error if it cannot be opened or migrated.
 */
export function ownLedgerForWorkers(
  path: string,
  reads: { threads?: number; timeoutMs?: number } | undefined,
  log: Logger,
): { close(): Promise<void> } {
  const ledger = openSqliteLedger({ path, reads });
  ledger.deferred.releaseClaims();
  const owner = new LedgerOwner(ledger, log);
  process.env[LEDGER_OWNER_ENV] = 'primary';
  cluster.setupPrimary({ serialization: 'json' }); // node's default, stated: the wire packs its values for it (wire-value.ts)
  cluster.on('message', (worker, message) =>
    owner.receive(worker.id, message, (reply) => {
      if (worker.isConnected()) worker.send(reply, undefined, () => {});
    }),
  );
  cluster.on('exit', (worker) => owner.forget(worker.id));
  return { close: () => ledger.close() };
}

/** True in a worker whose primary owns its SQLite ledger (see `ownLedgerForWorkers`). */
export function primaryOwnsLedger(): boolean {
  return cluster.isWorker && process.env[LEDGER_OWNER_ENV] === 'primary';
}
