import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Ledger } from '../../src/ledger/port.js';
import { openSqliteLedger } from '../../src/ledger/sqlite/index.js';
import { openPgLedger } from '../../src/ledger/postgres/index.js';
import { RemoteLedger } from '../../src/ledger/sqlite/remote.js';
import { loopbackChannel } from '../support/loopback-owner.js';
import { databaseOfThisFile, emptyLedgerTables } from '../support/postgres.js';

/**
 * The ledger adapters the contract suite runs against. A new adapter passes the same suite by
 * adding one entry here: how to open a fresh, empty ledger, and a raw view of its store for the
 * checks the port does not expose (every row id, held ones included; totals of overdrafts).
 */
export interface RawView {
  /** Every request row's id, `held` ones included, sorted. */
  requestIds(): Promise<string[]>;
  /** Everything the ledger stores about grants, holds, debits and requests, for "changed nothing" checks. */
  snapshot(): Promise<unknown>;
  /** Σ max(0, spent − amount) over grants: how far grants are overdrawn. */
  overdrawn(): Promise<number>;
  /** Σ of the overdrafts recorded on debits. */
  recordedOverdraft(): Promise<number>;
  /** Runs one statement on the store itself, bypassing the port (to break it on purpose in verify tests). */
  exec(sql: string): Promise<void>;
  /** The rows of a query on the store itself (the operator views). */
  query(sql: string): Promise<Record<string, unknown>[]>;
}

export interface OpenedLedger {
  ledger: Ledger;
  raw: RawView;
  close(): Promise<void>;
}

export interface AdapterUnderTest {
  name: string;
  /** A fresh, empty, migrated ledger. */
  open(): Promise<OpenedLedger>;
  /** The share of the property tests' runs to make on this adapter (default 1): opening a ledger on a server costs more than a file. */
  propertyRuns?: number;
}

/** A raw view of the SQLite file at `path`, read through `db` (read-only). */
function sqliteRaw(path: string, db: Database.Database): RawView {
  const all = (sql: string) => db.prepare(sql).all();
  const one = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  return {
    requestIds: async () => (all('SELECT id FROM requests ORDER BY id') as { id: string }[]).map((r) => r.id),
    snapshot: async () => ({
      grants: all('SELECT * FROM grants ORDER BY id'),
      // Open holds in one shape whichever table keeps them: a hold on one grant rides on its request row.
      holds: all(
        `SELECT request_id, grant_id, amount FROM holds
         UNION ALL SELECT id, hold_grant_id, hold_amount FROM requests WHERE status = 'held' AND hold_grant_id IS NOT NULL
         ORDER BY request_id, grant_id`,
      ),
      debits: all('SELECT * FROM debits ORDER BY request_id, grant_id'),
      requests: all('SELECT * FROM requests ORDER BY id'),
      counters: all('SELECT * FROM quota_counters ORDER BY id'),
    }),
    overdrawn: async () => one('SELECT COALESCE(SUM(MAX(0, spent - amount)), 0) AS n FROM grants WHERE NOT unlimited'),
    recordedOverdraft: async () => one('SELECT COALESCE(SUM(overdraft), 0) AS n FROM debits'),
    query: async (sql) => all(sql) as Record<string, unknown>[],
    exec: async (sql) => {
      const w = new Database(path);
      try {
        w.pragma('busy_timeout = 5000');
        w.exec(sql);
      } finally {
        w.close();
      }
    },
  };
}

const sqlite: AdapterUnderTest = {
  name: 'sqlite',
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-contract-'));
    const path = join(dir, 'ledger.db');
    const ledger = openSqliteLedger({ path, checkpointThread: false });
    const db = new Database(path, { readonly: true });
    return {
      ledger,
      raw: sqliteRaw(path, db),
      async close() {
        db.close();
        await ledger.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

/**
 * A worker of `serve --workers N` on SQLite: the port spoken over a message channel to the
 * process that owns the file (here in this process, messages cloned and delivered later as
 * node:cluster's IPC does).
 */
const sqliteWorker: AdapterUnderTest = {
  name: 'sqlite-worker',
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-contract-'));
    const path = join(dir, 'ledger.db');
    const owned = openSqliteLedger({ path, checkpointThread: false });
    const ledger = new RemoteLedger(path, loopbackChannel(owned).channel);
    const db = new Database(path, { readonly: true });
    return {
      ledger,
      raw: sqliteRaw(path, db),
      async close() {
        db.close();
        await ledger.close();
        await owned.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

/** This file's Postgres database (one per test file), emptied before each ledger opened on it. */
const pgDatabase = databaseOfThisFile();
pgDatabase.catch(() => {});

/**
 * Resolves when the last Postgres ledger opened on this file's database is closed. Ledgers of one
 * file share one database, so a second one may only empty it once the first is done: a property
 * test that outlives its timeout keeps running in the background, and without this its next run
 * would empty the tables under the test after it.
 */
let pgInUse: Promise<void> = Promise.resolve();

/** Waits (at most 60 s) until no other Postgres ledger of this file is open; returns the release. */
async function takePgDatabase(): Promise<() => void> {
  const previous = pgInUse;
  let release!: () => void;
  pgInUse = new Promise<void>((resolve) => {
    release = resolve;
  });
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error('a Postgres ledger of this test file was never closed: close each opened ledger')),
      60_000,
    );
  });
  try {
    await Promise.race([previous, stuck]);
  } catch (err) {
    release();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return release;
}

const postgres: AdapterUnderTest = {
  name: 'postgres',
  async open() {
    const { url, client } = await pgDatabase;
    const release = await takePgDatabase();
    let ledger: ReturnType<typeof openPgLedger>;
    try {
      await emptyLedgerTables(client);
      ledger = openPgLedger({ url, poolSize: 4 });
      await ledger.ping();
    } catch (err) {
      release();
      throw err;
    }
    const all = async (sql: string) => (await client.query(sql)).rows;
    const one = async (sql: string) => Number((await client.query<{ n: string }>(sql)).rows[0]!.n);
    return {
      ledger,
      raw: {
        requestIds: async () =>
          (await all('SELECT id FROM requests ORDER BY id COLLATE "C"')).map((r) => r.id as string),
        snapshot: async () => ({
          grants: await all('SELECT * FROM grants ORDER BY id COLLATE "C"'),
          // Open holds in one shape whichever place keeps them: a hold on one grant rides on its request row.
          holds: await all(
            `SELECT * FROM (SELECT request_id, grant_id, amount FROM holds
             UNION ALL SELECT id, hold_grant_id, hold_amount FROM requests WHERE status = 'held' AND hold_grant_id IS NOT NULL) h
             ORDER BY request_id COLLATE "C", grant_id COLLATE "C"`,
          ),
          debits: await all('SELECT * FROM debits ORDER BY request_id COLLATE "C", grant_id COLLATE "C"'),
          requests: await all('SELECT * FROM requests ORDER BY id COLLATE "C"'),
          counters: await all('SELECT * FROM quota_counters ORDER BY id COLLATE "C"'),
        }),
        overdrawn: () =>
          one('SELECT COALESCE(SUM(GREATEST(0, spent - amount)), 0) AS n FROM grants WHERE NOT unlimited'),
        recordedOverdraft: () => one('SELECT COALESCE(SUM(overdraft), 0) AS n FROM debits'),
        exec: async (sql) => void (await client.query(sql)),
        query: async (sql) => (await client.query(sql)).rows,
      },
      async close() {
        try {
          await ledger.close();
        } finally {
          release();
        }
      },
    };
  },
  // Each run opens a ledger on a server (about 0.1 s): a quarter of the SQLite adapter's runs.
  propertyRuns: 0.25,
};

/** Every adapter of the ledger port. */
export const ADAPTERS: AdapterUnderTest[] = [sqlite, sqliteWorker, postgres];
