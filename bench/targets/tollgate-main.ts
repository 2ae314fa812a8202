/**
 * Child-process entry that runs tollgate for the bench through its public `startServer`, with
 * metering and the durable ledger on, exactly as `tollgate serve` runs it:
 *
 *   node --import tsx bench/targets/tollgate-main.ts --upstream http://127.0.0.1:PORT \
 *     --ledger /tmp/…/ledger.db --connections 128 --models bench-d0-c20-i10,… [--port N] [--workers N]
 *
 * `--ledger` is a SQLite file or a `postgres://` URL. `--workers N` (needs `--port`) runs N
 * processes sharing the port through node:cluster, as `tollgate serve --workers N` does
 * (src/cli/workers.ts; on SQLite the primary owns the file and writes it for the workers): the
 * primary mints the key and hands it to the workers in the environment.
 *
 * One company `bench` with one freshly minted key and a 10^15-token allocation; every model given
 * is priced. Listens on 127.0.0.1 (a free port unless `--port`), logs at `LOG_LEVEL` (default
 * `info`, as in production) to stdout, and sends `{ url, key, pids? }` (pids: the workers') to its
 * parent over IPC once every process listens. SIGTERM closes it and exits 0 (so `--cpu-prof` writes its profile).
 */
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { mintKey } from '../../src/auth/api-key.js';
import { runPrimary } from '../../src/cli/workers.js';
import { parseConfig } from '../../src/config/load.js';
import { isPostgresUrl, ownLedgerForWorkers } from '../../src/ledger/open.js';
import { createLogger } from '../../src/log.js';
import { startServer } from '../../src/server.js';
import { stopOnSignals } from '../lib/stop.js';

const { values } = parseArgs({
  options: {
    upstream: { type: 'string' },
    ledger: { type: 'string' },
    connections: { type: 'string', default: '128' },
    models: { type: 'string', default: '' },
    port: { type: 'string', default: '0' },
    workers: { type: 'string', default: '1' },
  },
});
if (!values.upstream || !values.ledger)
  throw new Error(
    'usage: tollgate-main.ts --upstream URL --ledger FILE|postgres://… [--connections N] [--models a,b] [--port N] [--workers N]',
  );
const workers = Number(values.workers);
const port = Number(values.port);
if (workers > 1 && port === 0) throw new Error('--workers above 1 needs --port');

/** The key every process of this target accepts: minted once, passed to cluster workers in the environment. */
const key = process.env.BENCH_TOLLGATE_KEY
  ? (JSON.parse(process.env.BENCH_TOLLGATE_KEY) as ReturnType<typeof mintKey>)
  : mintKey();

if (workers > 1 && cluster.isPrimary) {
  process.env.BENCH_TOLLGATE_KEY = JSON.stringify(key);
  const log = createLogger();
  // A SQLite file is owned by the primary, which writes it for the workers (as `serve` does).
  const owned = isPostgresUrl(values.ledger) ? undefined : ownLedgerForWorkers(values.ledger, undefined, log);
  runPrimary(workers, log, async () => owned?.close());
  let listening = 0;
  cluster.on('listening', () => {
    if (++listening < workers) return;
    const pids = Object.values(cluster.workers ?? {}).map((w) => w?.process.pid);
    process.send?.({ url: `http://127.0.0.1:${port}`, key: key.key, pids });
  });
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
} else {
  const price = { input: 0.15, cachedInput: 0.075, output: 0.6, source: 'bench', date: '2025-08-07' };
  const config = parseConfig({
    listen: { host: '127.0.0.1', port },
    upstream: { baseUrl: values.upstream, apiKeyEnv: 'BENCH_UPSTREAM_KEY', connections: Number(values.connections) },
    ledger: isPostgresUrl(values.ledger) ? { url: values.ledger } : { path: values.ledger },
    companies: {
      bench: {
        name: 'Bench',
        keys: [{ id: 'bench-key', sha256: key.sha256, prefix: key.prefix }],
        allocations: [{ id: 'bench-grant', tokens: 1_000_000_000_000_000 }],
      },
    },
    prices: Object.fromEntries(
      values.models
        .split(',')
        .filter(Boolean)
        .map((m) => [m, price]),
    ),
  });

  const server = await startServer(config, { upstreamKey: 'sk-bench-upstream' });
  if (cluster.isPrimary) process.send?.({ url: server.url, key: key.key });

  stopOnSignals(server);
}
