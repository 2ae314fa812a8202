import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { BatchSize } from '../src/ledger/rollups/folding.js';
import { MAX_FOLD_ROWS, MAX_MARK_ROWS } from '../src/ledger/sqlite/fold.js';
import { openSqliteLedger, type SqliteLedger } from '../src/ledger/sqlite/index.js';

/**
 * The SQLite folder holds the serving connection's commit queue while each of its transactions
 * runs, so what one transaction may take is bounded by rows, not only by what the batch size
 * learned: however fast the last batches were, a fold takes at most MAX_FOLD_ROWS rows (plus the
 * rest of one `settle_seq` group), and rows without a `settle_seq` are marked at most
 * MAX_MARK_ROWS at a time — and every row still ends up folded once.
 */
const dirs: string[] = [];
const open: SqliteLedger[] = [];
afterEach(async () => {
  for (const l of open.splice(0)) await l.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('the fold', () => {
  it('never learns a batch above its bound, however fast the batches were', () => {
    const size = new BatchSize(1_000, 50, MAX_FOLD_ROWS, 3);
    for (let i = 0; i < 50; i++) size.took(size.value, 0.01);
    expect(size.value).toBe(MAX_FOLD_ROWS);
    // What came in since the last fold (a partial batch) that took long enough shrinks it too.
    size.took(500, 15);
    expect(size.value).toBeLessThan(MAX_FOLD_ROWS);
    for (let i = 0; i < 50; i++) size.took(size.value, 1_000);
    expect(size.value).toBe(50);
  });

  it('folds and marks a large backlog in bounded transactions, every row once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-fold-'));
    dirs.push(dir);
    const path = join(dir, 'ledger.db');
    await openSqliteLedger({ path, foldIntervalMs: false }).close();
    // 6,000 finished rows without a settle_seq (as copied in), then 3,000 with one each.
    const rows = 9_000;
    const raw = new Database(path);
    raw.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${rows})
      INSERT INTO requests (id, created_at, company_id, endpoint, requested_model, stream, status, hold_tokens,
        http_status, input_tokens, total_tokens, cost_nano_usd, cost_micro_usd, latency_ms, settle_seq)
      SELECT 'r' || i, strftime('%Y-%m-%dT%H:%M:%fZ', '2026-11-02', '+' || i || ' seconds'), 'acme', '/v1/chat/completions',
        'gpt-4o', false, 'settled', 0, 200, 10, 10, 20000, 20, 1.5, CASE WHEN i > 6000 THEN i - 6000 END FROM n`);
    raw.close();
    const ledger = openSqliteLedger({ path, foldIntervalMs: false });
    open.push(ledger);
    let folded = 0;
    for (let turns = 0; turns < 100; turns++) {
      const r = await ledger.rollups.fold();
      expect(r.folded).toBeLessThanOrEqual(MAX_FOLD_ROWS + MAX_MARK_ROWS);
      expect(r.sequenced).toBeLessThanOrEqual(MAX_MARK_ROWS);
      folded += r.folded;
      if (!r.more && r.folded === 0 && r.sequenced === 0) break;
    }
    expect(folded).toBe(rows);
    expect(await ledger.rollups.status()).toMatchObject({ waiting: 0, foldedRows: rows });
    expect((await ledger.reader.verify()).filter((f) => f.severity === 'error')).toEqual([]);
  });
});
