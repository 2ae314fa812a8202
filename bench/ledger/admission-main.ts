/**
 * Child-process entry: admission time against ledger size. For each size in `--sizes` (ascending,
 * in requests; each request also has one debit row) it grows the ledger file to that size with
 * `bulkLoad`, reopens it as tollgate does, runs 200 warm-up requests, then times `--admits`
 * `Ledger.admit` calls (each followed by a timed `Ledger.settle`, so holds do not pile up).
 *
 *   node --import tsx bench/ledger/admission-main.ts --db /tmp/…/admission.db --sizes 0,1000000,10000000 --admits 2000
 *
 * Sends `{ sizes: [{ rows, loadMs, admitMs: [p50, p99], settleMs: [p50, p99] }] }` to its parent
 * over IPC (times in ms); progress goes to stderr.
 */
import { parseArgs } from 'node:util';
import { percentile, sorted } from '../lib/stats.js';
import { bulkLoad } from './bulk.js';
import { facts, OUTCOME, openBenchLedger, WANT } from './fixture.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string' },
    sizes: { type: 'string', default: '0' },
    admits: { type: 'string', default: '2000' },
  },
});
if (!values.db) throw new Error('usage: admission-main.ts --db FILE [--sizes 0,1000000] [--admits N]');
const db = values.db;
const sizes = values.sizes
  .split(',')
  .map(Number)
  .sort((a, b) => a - b);
const admits = Number(values.admits);

openBenchLedger(db).sqlite.close(); // creates the file and its schema
let rows = 0;
const results = [];
for (const [i, size] of sizes.entries()) {
  let loadMs = 0;
  if (size > rows) {
    process.stderr.write(`ledger: loading ${size - rows} rows…\n`);
    loadMs = bulkLoad(db, size - rows, i);
    rows = size;
    process.stderr.write(`ledger: ${rows} rows after ${(loadMs / 1000).toFixed(1)} s\n`);
  }
  const { ledger, sqlite } = openBenchLedger(db);
  const admit: number[] = [];
  const settle: number[] = [];
  for (let n = 0; n < 200 + admits; n++) {
    const f = facts();
    const now = new Date();
    const a = performance.now();
    if (!ledger.admit(f, WANT, now).ok) throw new Error('bench grant refused a hold');
    const b = performance.now();
    ledger.settle(f.id, OUTCOME, now);
    const c = performance.now();
    if (n >= 200) {
      admit.push(b - a);
      settle.push(c - b);
    }
  }
  sqlite.close();
  const [as, ss] = [sorted(admit), sorted(settle)];
  results.push({
    rows: size,
    loadMs,
    admitMs: [percentile(as, 50), percentile(as, 99)],
    settleMs: [percentile(ss, 50), percentile(ss, 99)],
  });
}
process.send?.({ sizes: results });
process.disconnect?.();
