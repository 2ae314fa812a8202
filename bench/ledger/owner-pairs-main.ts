/**
 * The cost of the SQLite ledger's owner under `serve --workers N`, without HTTP: this process
 * owns a bench ledger (`ownLedgerForWorkers`, as the primary does) and forks `--workers` cluster
 * workers, each driving `RemoteLedger` with `--inflight` admit → forwarded → settle requests at once for
 * `--seconds` (after a 1 s warm-up); with `--rate`, at that many requests per second in all instead
 * (open loop, spread evenly over the workers), so revisions compared see the same batches. Prints the pairs per second and the CPU per pair (µs, from
 * `process.cpuUsage`: time waiting for a shared core not counted) of the primary and of the workers.
 * Run it from two trees to compare revisions; each run prints one line.
 *
 *   node --import tsx bench/ledger/owner-pairs-main.ts [--workers 2] [--inflight 32 | --rate 1000] [--seconds 5]
 */
import cluster from 'node:cluster';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { ownLedgerForWorkers } from '../../src/ledger/sqlite/cluster-owner.js';
import { primaryChannel, RemoteLedger } from '../../src/ledger/sqlite/remote.js';
import { facts, OUTCOME, openBenchLedger, WANT } from './fixture.js';

interface Go {
  pairs: 'go';
  ms: number;
}
interface Done {
  pairs: 'done';
  count: number;
  cpuUs: number;
}

const usage = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

if (cluster.isPrimary) {
  const { values } = parseArgs({
    options: {
      workers: { type: 'string', default: '2' },
      inflight: { type: 'string', default: '32' },
      rate: { type: 'string', default: '0' },
      seconds: { type: 'string', default: '5' },
    },
  });
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-owner-pairs-'));
  const path = join(dir, 'ledger.db');
  openBenchLedger(path).sqlite.close();
  const owner = ownLedgerForWorkers(path, undefined, pino({ level: 'silent' }));
  const workers = Array.from({ length: Number(values.workers) }, () =>
    cluster.fork({
      ...process.env,
      BENCH_PAIRS_PATH: path,
      BENCH_PAIRS_INFLIGHT: values.inflight,
      BENCH_PAIRS_RATE: String(Number(values.rate) / Number(values.workers)),
    }),
  );
  const phase = async (ms: number) => {
    const done = workers.map(
      (w) =>
        new Promise<Done>((resolve) => {
          const on = (m: Done) => {
            if (m?.pairs !== 'done') return;
            w.off('message', on);
            resolve(m);
          };
          w.on('message', on);
        }),
    );
    const before = usage();
    for (const w of workers) w.send({ pairs: 'go', ms } satisfies Go);
    const results = await Promise.all(done);
    return { primaryUs: usage() - before, results };
  };
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve) => w.on('message', (m: { pairs?: string }) => m?.pairs === 'ready' && resolve())),
    ),
  );
  await phase(1_000);
  const ms = Number(values.seconds) * 1000;
  const { primaryUs, results } = await phase(ms);
  const pairs = results.reduce((a, r) => a + r.count, 0);
  const workersUs = results.reduce((a, r) => a + r.cpuUs, 0);
  console.log(
    `${workers.length} workers, ${Number(values.rate) ? `${values.rate} requests/s offered` : `${values.inflight} in flight each`}: ${Math.round(pairs / (ms / 1000))} pairs/s; CPU per admit+settle pair: primary ${(primaryUs / pairs).toFixed(1)} µs, workers ${(workersUs / pairs).toFixed(1)} µs`,
  );
  for (const w of workers) w.send({ pairs: 'exit' });
  await Promise.all(workers.map((w) => new Promise((resolve) => (w.isDead() ? resolve(0) : w.once('exit', resolve)))));
  await owner.close();
  rmSync(dir, { recursive: true, force: true });
} else {
  const ledger = new RemoteLedger(process.env.BENCH_PAIRS_PATH!, primaryChannel());
  const inflight = Number(process.env.BENCH_PAIRS_INFLIGHT);
  const rate = Number(process.env.BENCH_PAIRS_RATE);
  process.on('message', async (m: Go | { pairs: 'exit' }) => {
    if (m?.pairs === 'exit') {
      await ledger.close();
      process.exit(0); // writes the CPU profile under --cpu-prof
    }
    if (m?.pairs !== 'go') return;
    const end = Date.now() + m.ms;
    const before = usage();
    let count = 0;
    const one = async () => {
      const f = { ...facts(), forwardedLater: true };
      if (!(await ledger.admit(f, WANT, new Date(), [])).ok) throw new Error('bench grant refused a hold');
      ledger.forwarded(f.id);
      await ledger.settle(f.id, OUTCOME, new Date());
      count++;
    };
    const loop = async () => {
      while (Date.now() < end) await one();
    };
    const paced = async () => {
      const start = Date.now();
      const sent: Promise<void>[] = [];
      for (let due = 0; start + (due * 1000) / rate < end; ) {
        while (start + (due * 1000) / rate <= Date.now()) sent[due++] = one();
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      await Promise.all(sent);
    };
    await (rate > 0 ? paced() : Promise.all(Array.from({ length: inflight }, loop)));
    process.send!({ pairs: 'done', count, cpuUs: usage() - before } satisfies Done);
  });
  await ledger.ping();
  process.send!({ pairs: 'ready' });
}
