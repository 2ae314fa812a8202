/**
 * Child-process entry that runs tollgate for the bench through its public `startServer`, with
 * metering and the durable ledger (a SQLite file) on, exactly as `tollgate serve` runs it:
 *
 *   node --import tsx bench/targets/tollgate-main.ts --upstream http://127.0.0.1:PORT \
 *     --ledger /tmp/…/ledger.db --connections 128 --models bench-d0-c20-i10,…
 *
 * One company `bench` with one freshly minted key and a 10^15-token allocation; every model given
 * is priced. Listens on 127.0.0.1 on a free port, logs at `LOG_LEVEL` (default `info`, as in
 * production) to stdout, and sends `{ url, key }` to its parent over IPC. SIGTERM closes it and
 * exits 0 (so `--cpu-prof` writes its profile).
 */
import { parseArgs } from 'node:util';
import { mintKey } from '../../src/auth/api-key.js';
import { parseConfig } from '../../src/config/load.js';
import { startServer } from '../../src/server.js';

const { values } = parseArgs({
  options: {
    upstream: { type: 'string' },
    ledger: { type: 'string' },
    connections: { type: 'string', default: '128' },
    models: { type: 'string', default: '' },
  },
});
if (!values.upstream || !values.ledger)
  throw new Error('usage: tollgate-main.ts --upstream URL --ledger FILE [--connections N] [--models a,b]');

const price = { input: 0.15, cachedInput: 0.075, output: 0.6, source: 'bench', date: '2025-08-07' };
const key = mintKey();
const config = parseConfig({
  listen: { host: '127.0.0.1', port: 0 },
  upstream: { baseUrl: values.upstream, apiKeyEnv: 'BENCH_UPSTREAM_KEY', connections: Number(values.connections) },
  ledger: { path: values.ledger },
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
process.send?.({ url: server.url, key: key.key });

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.close(1_000);
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.on('disconnect', () => void stop());
