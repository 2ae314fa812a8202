/**
 * Postgres CPU per admission + settlement, for a same-machine A/B of the ledger's SQL functions
 * (robust on a busy machine: it counts CPU time, not wall time). Opens tollgate's Postgres adapter
 * on `--url` (an empty database: the adapter migrates it), mirrors the bench's grant, runs
 * `--warmup` pairs, then `--pairs` `Ledger.admit` + `Ledger.settle` pairs from `--clients`
 * concurrent clients (each sends its next admission after its settlement), and reads the CPU time
 * (user + system, from /proc) of the cluster whose postmaster is `--postmaster` and of this process.
 *
 *   node --import tsx bench/ledger/pg-cpu-main.ts --url postgres://…/db --postmaster 1234 [--pairs 20000]
 *
 * Prints one JSON line: `{ pairs, seconds, postgresUs, nodeUs, writesPerPair }` (µs of CPU per pair; write system calls
 * of this process per pair).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { grantTerms } from '../../src/config/grants.js';
import { openPgLedger } from '../../src/ledger/postgres/index.js';
import { childrenOf, cpuBetween, cpuSeconds } from '../lib/proc.js';
import { benchConfig, facts, OUTCOME, WANT } from './fixture.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    postmaster: { type: 'string' },
    pairs: { type: 'string', default: '20000' },
    warmup: { type: 'string', default: '2000' },
    clients: { type: 'string', default: '16' },
  },
});
if (!values.url || !values.postmaster)
  throw new Error('usage: pg-cpu-main.ts --url postgres://… --postmaster <pid> [--pairs N] [--clients C]');
const postmaster = Number(values.postmaster);
const pgPids = () => [postmaster, ...childrenOf(postmaster)];
/** Write system calls this process has made so far (`syscw` of /proc/self/io). */
const writes = () => Number(/^syscw:\s+(\d+)/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? NaN);

const ledger = openPgLedger({ url: values.url });
await ledger.ping();
const terms = grantTerms(benchConfig(':memory:'), new Date());
await ledger.syncGrants(terms.grants, terms.purchases, new Date());

/** `n` admit + settle pairs from `clients` concurrent clients. */
async function run(n: number, clients: number): Promise<void> {
  let left = n;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (left-- > 0) {
        const f = facts();
        const now = new Date();
        if (!(await ledger.admit(f, WANT, now, [])).ok) throw new Error('bench grant refused a hold');
        await ledger.settle(f.id, OUTCOME, now);
      }
    }),
  );
}

const clients = Number(values.clients);
await run(Number(values.warmup), clients);
const pairs = Number(values.pairs);
const pgBefore = cpuSeconds(pgPids());
const nodeBefore = process.cpuUsage();
const writesBefore = writes();
const started = performance.now();
await run(pairs, clients);
const seconds = (performance.now() - started) / 1000;
const node = process.cpuUsage(nodeBefore);
const written = writes() - writesBefore;
const postgres = cpuBetween(pgBefore, cpuSeconds(pgPids()));
await ledger.close();
console.log(
  JSON.stringify({
    pairs,
    seconds: Number(seconds.toFixed(2)),
    postgresUs: Math.round((postgres * 1e6) / pairs),
    nodeUs: Math.round((node.user + node.system) / pairs),
    writesPerPair: Number((written / pairs).toFixed(2)),
  }),
);
