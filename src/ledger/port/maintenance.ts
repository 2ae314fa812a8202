/**
 * The ledger port's upkeep of its history: rollups folded from settled rows, and raw rows archived
 * to a file and deleted once old (see ../port.ts). Engine-neutral shapes; each adapter implements them.
 */

/** What one fold did. */
export interface FoldResult {
  /** Finished rows added to the rollups. */
  folded: number;
  /** Finished rows without a fold mark (copied in, or written before rollups existed) given one; they fold next. */
  sequenced: number;
  /** True when more is waiting (a batch was full). */
  more: boolean;
}

/** How far folding is. */
export interface RollupStatus {
  /** When the last fold committed (ISO 8601 UTC), or null before the first. */
  foldedAt: string | null;
  /** Rows folded so far. */
  foldedRows: number;
  /** Finished rows not folded yet (reports read them raw). */
  waiting: number;
}

/**
 * The rollups (`usage_hours`, `usage_days`): usage per UTC hour and day and per dimension, folded
 * in from settled rows a few seconds behind them by a background job of the serving process (one
 * replica at a time on Postgres), kept for ever.
 */
export interface RollupStore {
  /**
   * Folds one batch now (after a fold in progress). Reports never need it — they read rows not
   * folded yet raw — but tests and the archiver do.
   * @throws Error on a read-only ledger.
   */
  fold(): Promise<FoldResult>;
  /** Folds until nothing waits; resolves with the rows folded. @throws Error on a read-only ledger. */
  catchUp(): Promise<number>;
  status(): Promise<RollupStatus>;
}

/** A column's JSON type in an archive file (see src/ledger/archive/format.ts). */
export type ArchiveType = 'text' | 'integer' | 'real' | 'boolean' | 'instant';

/** A column as an archive file's header lists it. */
export interface ArchiveColumn {
  name: string;
  type: ArchiveType;
}

/** A request row as the archive file holds it: one line of NDJSON text (see src/ledger/archive/format.ts), with its id. */
export interface ArchiveLine {
  id: string;
  /** The row with its debits, as one JSON object's text (no newline). */
  line: string;
  /** How many debits the line carries. */
  debits: number;
}

/** Where an archive's read has got to: the last row read, in admission order. */
export interface ArchiveCursor {
  createdAt: string;
  /** The engine's admission order among rows of the same millisecond (SQLite rowid, Postgres seq). */
  order: number;
}

/** The totals of an archive run: requests and debits removed, and the requests' rollup measures. */
export interface ArchiveTotals {
  requests: number;
  debits: number;
  totalTokens: number;
  costNanoUsd: number;
}

/** One archive run as the ledger recorded it. */
export interface ArchiveRun extends ArchiveTotals {
  id: number;
  /** Rows admitted before this instant (ISO 8601 UTC) were archived. */
  before: string;
  file: string;
  startedAt: string;
  /** Null while deleting, or if the run stopped midway (a later run with the same `before` completes it). */
  finishedAt: string | null;
}

/**
 * The ledger's side of archiving (src/ledger/archive/ runs it): read the rows to archive in pages,
 * then delete them in small transactions. A row is archivable when it was admitted before `before`,
 * is finished (never `held`: deferred work not settled yet stays), and was folded into the rollups
 * by the time the run started (`mark`): rows that finish during the run are left for the next.
 */
export interface ArchiveStore {
  /** The engine, named in the archive's header. */
  readonly engine: 'sqlite' | 'postgres';
  /** The columns each archived request and debit carries (the ledger's, less its fold bookkeeping). */
  columns(): Promise<{ requests: ArchiveColumn[]; debits: ArchiveColumn[] }>;
  /**
   * Runs `fn` holding the ledger's archive lock (one archive run at a time, across processes and
   * replicas); resolves with null, without running it, when another run holds the lock.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T | null>;
  /** The fold position now, fixing which rows a run may take (an engine's own value). */
  mark(): Promise<string>;
  /** Up to `limit` archivable rows after `after`, oldest first, each as its archive line. */
  page(
    before: string,
    mark: string,
    after: ArchiveCursor | undefined,
    limit: number,
  ): Promise<{ lines: ArchiveLine[]; cursor?: ArchiveCursor }>;
  /** Records a run (its `archives` row) and returns its id. */
  begin(before: string, file: string, now: Date): Promise<number>;
  /**
   * Deletes up to `limit` archivable rows (oldest first) and their debits in one transaction, adding
   * their totals to run `run` and their debits to `debits_archived`. Resolves with what it deleted
   * (0 requests: none left).
   */
  remove(run: number, before: string, mark: string, limit: number): Promise<{ requests: number; debits: number }>;
  /** Marks run `run` finished. */
  finish(run: number, now: Date): Promise<void>;
  /** The runs recorded, newest first. */
  runs(): Promise<ArchiveRun[]>;
}
