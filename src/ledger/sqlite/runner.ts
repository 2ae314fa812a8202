import type Database from 'better-sqlite3';
import type { ReadPool } from './read-pool.js';
import { SqlThreadConflict, type Step } from './thread.js';

/**
 * Where the SQLite reader runs its heavier reads: on read-only threads with a time budget while
 * serving (`ReadPool`), or on the connection itself where a thread would not help or cannot see the
 * data (the CLI's read-only ledger, an in-memory one).
 */
export interface ReadRunner {
  /**
   * Runs one statement (`all` rows or the first row, `get`); rejects with `ReadTimeoutError` past
   * its budget: `budgetMs` (ms) when given (a background job's longer one), else the runner's.
   */
  run<T>(step: Step, budgetMs?: number): Promise<T>;
  close(): Promise<void>;
}

/** What the folder and the archiver write through: a writable `SqlThread`, or a connection (`inline`). */
export interface SqlExecutor {
  query<T>(step: Step): Promise<T>;
  /** The steps in one `BEGIN IMMEDIATE` transaction; rejects with `SqlThreadConflict` when a step's `expect` fails. */
  transaction(steps: Step[]): Promise<unknown[]>;
  /** The steps one after another, each in its own implicit transaction (a temp table's writes take no lock on the ledger). */
  sequence(steps: Step[]): Promise<unknown[]>;
}

/** A runner on threads (see `ReadPool`). */
export function pooled(pool: ReadPool): ReadRunner {
  return { run: (step, budgetMs) => pool.query(step, budgetMs), close: () => pool.close() };
}

/** Runner and executor on `sqlite` itself, synchronous under their promises; statements prepared once per SQL text. */
export function inline(sqlite: Database.Database): ReadRunner & SqlExecutor {
  const cache = new Map<string, Database.Statement>();
  const exec = (step: Step): unknown => {
    let s = cache.get(step.sql);
    if (!s) {
      if (cache.size > 200) cache.clear();
      s = sqlite.prepare(step.sql);
      cache.set(step.sql, s);
    }
    const params = step.params ?? [];
    if (step.mode === 'all') return s.all(...params);
    if (step.mode === 'get') return s.get(...params);
    const changes = s.run(...params).changes;
    if (step.expect !== undefined && changes !== step.expect)
      throw new SqlThreadConflict(`expected ${step.expect} change(s), got ${changes}`);
    return { changes };
  };
  return {
    run: async <T>(step: Step) => exec(step) as T,
    query: async <T>(step: Step) => exec(step) as T,
    transaction: async (steps: Step[]) => sqlite.transaction(() => steps.map(exec)).immediate(),
    sequence: async (steps: Step[]) => steps.map(exec),
    async close() {},
  };
}
