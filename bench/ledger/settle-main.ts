/**
 * Child-process entry: settle throughput of the ledger on a file DB. Runs `Ledger.admit` then
 * `Ledger.settle` for one request at a time (what every metered request costs the ledger), for
 * `--ms` ms or `--max` pairs, whichever comes first, after 1,000 warm-up pairs.
 *
 *   node --import tsx bench/ledger/settle-main.ts --db /tmp/…/settle.db --ms 5000 --max 500000
 *
 * Sends `{ pairs, ms, pairsPerS, admitUs, settleUs }` (means in µs) to its parent over IPC.
 */
import { parseArgs } from 'node:util';
import { facts, OUTCOME, openBenchLedger, WANT } from './fixture.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string' },
    ms: { type: 'string', default: '5000' },
    max: { type: 'string', default: '500000' },
  },
});
if (!values.db) throw new Error('usage: settle-main.ts --db FILE [--ms N] [--max N]');

const { ledger, sqlite } = openBenchLedger(values.db);
const pair = (t: { admit: number; settle: number }) => {
  const f = facts();
  const now = new Date();
  const a = performance.now();
  const r = ledger.admit(f, WANT, now);
  const b = performance.now();
  if (!r.ok) throw new Error('bench grant refused a hold');
  ledger.settle(f.id, OUTCOME, now);
  t.admit += b - a;
  t.settle += performance.now() - b;
};

const warm = { admit: 0, settle: 0 };
for (let i = 0; i < 1_000; i++) pair(warm);

const t = { admit: 0, settle: 0 };
const budget = Number(values.ms);
const max = Number(values.max);
const start = performance.now();
let pairs = 0;
while (pairs < max && performance.now() - start < budget) {
  pair(t);
  pairs++;
}
const ms = performance.now() - start;
sqlite.close();
process.send?.({
  pairs,
  ms,
  pairsPerS: (pairs / ms) * 1000,
  admitUs: (t.admit / pairs) * 1000,
  settleUs: (t.settle / pairs) * 1000,
});
process.disconnect?.();
