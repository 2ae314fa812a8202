/**
 * Child-process entry: admission time on a Postgres ledger, the counterpart of the SQLite ledger's
 * `admission-main.ts`. Opens tollgate's Postgres adapter on `--url` (an empty database: the
 * adapter migrates it), mirrors the bench's grant, runs 200 warm-up requests, then times `--admits`
 * `Ledger.admit` calls, each followed by a timed `Ledger.settle` (one request in flight, as one
 * client sending one request after another sees it).
 *
 *   node --import tsx bench/ledger/pg-admission-main.ts --url postgres://…/db --admits 2000
 *
 * Sends `{ admitMs: [p50, p99], settleMs: [p50, p99], pairsPerS }` (ms; admit + settle pairs per
 * second) to its parent over IPC.
 */
import { parseArgs } from 'node:util';
import { grantTerms } from '../../src/config/grants.js';
import { openPgLedger } from '../../src/ledger/postgres/index.js';
import { percentile, sorted } from '../lib/stats.js';
import { benchConfig, facts, OUTCOME, WANT } from './fixture.js';

const { values } = parseArgs({ options: { url: { type: 'string' }, admits: { type: 'string', default: '2000' } } });
if (!values.url) throw new Error('usage: pg-admission-main.ts --url postgres://… [--admits N]');
const admits = Number(values.admits);

const ledger = openPgLedger({ url: values.url });
await ledger.ping();
const now = new Date();
const terms = grantTerms(benchConfig(':memory:'), now);
await ledger.syncGrants(terms.grants, terms.purchases, now);
const admit: number[] = [];
const settle: number[] = [];
const started = performance.now();
for (let n = 0; n < 200 + admits; n++) {
  const f = facts();
  const now = new Date();
  const a = performance.now();
  if (!(await ledger.admit(f, WANT, now, [])).ok) throw new Error('bench grant refused a hold');
  const b = performance.now();
  await ledger.settle(f.id, OUTCOME, now);
  const c = performance.now();
  if (n >= 200) {
    admit.push(b - a);
    settle.push(c - b);
  }
}
const seconds = (performance.now() - started) / 1000;
await ledger.close();
const [as, ss] = [sorted(admit), sorted(settle)];
process.send?.({
  admitMs: [percentile(as, 50), percentile(as, 99)],
  settleMs: [percentile(ss, 50), percentile(ss, 99)],
  pairsPerS: (200 + admits) / seconds,
});
process.disconnect?.();
