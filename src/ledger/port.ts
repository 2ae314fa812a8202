import type { ArchiveStore, RollupStore } from './port/maintenance.js';
import type { LedgerReader } from './port/reader.js';
import type { ReconciliationStore } from './port/reconciliations.js';
import type {
  AlertStore,
  BucketStore,
  ClientSecretStore,
  DeferredStore,
  FileEstimateStore,
  ObjectStore,
  QuotaRequestStore,
  SpikeStore,
} from './port/stores.js';
import type { LedgerWriter } from './port/writer.js';

/**
 * The ledger port: what tollgate asks of a ledger, whatever engine stores it. One adapter per
 * engine implements it (`src/ledger/sqlite/`, `src/ledger/postgres/`); `test/ledger-contract/` is the suite every
 * adapter must pass. Nothing outside an adapter's folder knows its engine.
 *
 * What an adapter must guarantee (see src/ledger/README.md for the whole list):
 * - `admit` checks the grants and quota counters and places the hold in ONE atomic step: two
 *   admissions racing (in this process or in another sharing the store) can never both take the
 *   last tokens. A resolved `admit`/`open` means the row is durable: tollgate forwards only after.
 * - `settle` and `void` are idempotent: on a row that is no longer `held` they change nothing.
 * - Running totals (`grants.spent`/`held`, quota counters) always equal the rows they summarise.
 * - Money is integer micro-USD (1 USD = 1,000,000), tokens are integers, times are UTC instants.
 * - Calls made in one turn of the event loop are applied in call order (a client's next request is
 *   admitted after its previous one settled).
 */

export * from './port/maintenance.js';
export * from './port/reader.js';
export * from './port/reconciliations.js';
export * from './port/stores.js';
export * from './port/writer.js';

/** A whole ledger: the hot path, the reader and the small stores, on one store. */
export interface Ledger extends LedgerWriter {
  readonly reader: LedgerReader;
  readonly quotaRequests: QuotaRequestStore;
  readonly alerts: AlertStore;
  /** Rate-limit buckets shared by every process on this ledger; absent for a single-process store (SQLite). */
  readonly buckets?: BucketStore;
  /** The usage-spike alert's minutes shared by every process on this ledger; absent for a single-process store (SQLite). */
  readonly spikes?: SpikeStore;
  /** Owners of the upstream objects created through tollgate (src/ownership/). */
  readonly objects: ObjectStore;
  /** Estimates of batch input and training files uploaded through tollgate (src/files/). */
  readonly fileEstimates: FileEstimateStore;
  /** Held requests waiting for upstream work that finishes later (src/settlement/). */
  readonly deferred: DeferredStore;
  /** Usage per UTC hour and day, folded in from settled rows (reports read them). */
  readonly rollups: RollupStore;
  /** Old raw rows written to a file and deleted (src/ledger/archive/). */
  readonly archive: ArchiveStore;
  /** Realtime client secrets tollgate minted: single-use across every process on this ledger (src/realtime/). */
  readonly clientSecrets: ClientSecretStore;
  /** The ledger's side of a reconciliation with OpenAI's usage and costs, and the runs' results (src/reconcile/). */
  readonly reconciliations: ReconciliationStore;
  /** Resolves when the store answers a trivial query; rejects with the reason otherwise (readiness). */
  ping(): Promise<void>;
  /** Finishes queued writes and closes the store. */
  close(): Promise<void>;
}
