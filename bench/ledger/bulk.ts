/**
 * Grows a ledger file by `count` settled requests, each with one debit, written straight into the
 * `requests` and `debits` tables: one prepared INSERT per table, run in transactions of
 * `BATCH` rows, with the journal off while loading (the file is rebuilt by the bench, never
 * shared). About 7 s per million requests on the bench machine.
 *
 * Rows look like the ones tollgate writes: ids `req_` + 32 hex digits led by the row's time in ms
 * (as `newRequestId` makes them), increasing `created_at` in the past, status `settled`. The column lists come from the live schema
 * (`PRAGMA table_info`), so columns added by later migrations get their defaults, or a zero value
 * when NOT NULL without a default.
 */
import Database from 'better-sqlite3';
import { COMPANY, GRANT, KEY_ID, MODEL } from './fixture.js';

const BATCH = 100_000;

type Column = { name: string; type: string; notnull: number; dflt_value: unknown; pk: number };

/** Builds `INSERT INTO table (…) VALUES (…)` from `known` values (`@name` parameters or SQL literals). */
function insertFor(db: Database.Database, table: string, known: Record<string, string>): Database.Statement {
  const cols = db.prepare(`PRAGMA table_info(${table})`).all() as Column[];
  const names: string[] = [];
  const values: string[] = [];
  for (const c of cols) {
    const v =
      known[c.name] ?? (c.notnull && c.dflt_value === null ? (/INT|REAL/i.test(c.type) ? '0' : "''") : undefined);
    if (v === undefined) continue;
    names.push(`"${c.name}"`);
    values.push(v);
  }
  const missing = Object.keys(known).filter((k) => !cols.some((c) => c.name === k));
  if (missing.length) throw new Error(`bench bulk load: table ${table} has no column ${missing.join(', ')}`);
  return db.prepare(`INSERT INTO ${table} (${names.join(', ')}) VALUES (${values.join(', ')})`);
}

/**
 * Appends `count` settled requests (ids evenly spread, tagged with `batch` so batches never
 * collide) and their debits to the ledger file at `path`. Returns the time it took, ms.
 */
export function bulkLoad(path: string, count: number, batch: number): number {
  const started = performance.now();
  const db = new Database(path);
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -1000000');
  const request = insertFor(db, 'requests', {
    id: '@id',
    created_at: '@at',
    company_id: `'${COMPANY}'`,
    key_id: `'${KEY_ID}'`,
    endpoint: "'/v1/chat/completions'",
    requested_model: `'${MODEL}'`,
    returned_model: "'gpt-4o-mini-2024-07-18'",
    stream: '0',
    status: "'settled'",
    estimated_prompt_tokens: '24',
    hold_tokens: '88',
    http_status: '200',
    input_tokens: '24',
    output_tokens: '16',
    total_tokens: '40',
    metered_tokens: '40',
    cost_micro_usd: '13',
    usage_source: "'upstream'",
    latency_ms: '1.2',
    ttfb_ms: '1.1',
    upstream_request_id: '@up',
    settled_at: '@at',
  });
  const debit = insertFor(db, 'debits', {
    request_id: '@id',
    grant_id: `'${GRANT}'`,
    unit: "'tokens'",
    amount: '40',
    overdraft: '0',
    created_at: '@at',
  });
  const epoch = Date.parse('2024-01-01T00:00:00Z');
  const tag = batch.toString(16).padStart(4, '0');
  const load = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      // 12 hex digits of the row's time in ms, as tollgate's ids; the rest keep it unique.
      const ms = epoch + i * 50;
      const id = `req_${ms.toString(16).padStart(12, '0')}${tag}${i.toString(16).padStart(16, '0')}`;
      const at = new Date(ms).toISOString();
      request.run({ id, at, up: `up_${i}` });
      debit.run({ id, at });
    }
  });
  for (let from = 0; from < count; from += BATCH) load(from, Math.min(count, from + BATCH));
  db.pragma('journal_mode = WAL');
  db.close();
  return performance.now() - started;
}
