/**
 * Child-process entry of the reports bench: tollgate through its public `startServer` on the
 * bench's ledger (a SQLite file or a `postgres://` URL), with the bench's 20 companies, their keys
 * (the parent's, in `BENCH_REPORTS_KEYS`) and one operator:
 *
 *   node --import tsx bench/reports/serve-main.ts --ledger FILE|URL --upstream URL --models a,b [--now ISO]
 *
 * `--now`: tollgate's clock starts at this UTC instant and runs on from it (the bench's ledger ends
 * at a fixed instant, so "the last 90 days" are the ledger's whatever day the bench runs).
 *
 * Sends `{ url }` to its parent over IPC once it listens. On `{ archive: { before, to } }` it
 * archives the ledger's rows admitted before `before` to `to` in this process (as `serve`'s daily
 * retention does) and answers `{ archived }` (the report) or `{ error }`. SIGTERM closes it.
 */
import { parseArgs } from 'node:util';
import type { mintKey } from '../../src/auth/api-key.js';
import { archiveLedger } from '../../src/ledger/archive/run.js';
import { isPostgresUrl } from '../../src/ledger/open.js';
import { createLogger } from '../../src/log.js';
import { startServer } from '../../src/server.js';
import { benchReportsConfig } from './config.js';
import { stopOnSignals } from '../lib/stop.js';

const { values } = parseArgs({
  options: {
    ledger: { type: 'string' },
    upstream: { type: 'string' },
    models: { type: 'string', default: '' },
    threads: { type: 'string', default: '2' },
    now: { type: 'string' },
  },
});
if (!values.ledger || !values.upstream) throw new Error('usage: serve-main.ts --ledger FILE|URL --upstream URL');
const hashes = JSON.parse(process.env.BENCH_REPORTS_KEYS ?? '{}') as Record<string, ReturnType<typeof mintKey>>;
const ledger = isPostgresUrl(values.ledger) ? { url: values.ledger } : { path: values.ledger };
const config = benchReportsConfig(
  { ...ledger, reports: { threads: Number(values.threads), timeoutMs: 5_000 } },
  hashes,
  values.upstream,
  values.models.split(',').filter(Boolean),
);
const skewMs = values.now === undefined ? 0 : Date.now() - Date.parse(values.now);
if (Number.isNaN(skewMs)) throw new Error(`--now is not an ISO 8601 instant: ${values.now}`);
const clock = () => new Date(Date.now() - skewMs);
const server = await startServer(config, { upstreamKey: 'sk-bench-upstream', log: createLogger(), clock });
process.send?.({ url: server.url });

process.on('message', (m: { archive?: { before: string; to: string } }) => {
  if (!m.archive) return;
  const { before, to } = m.archive;
  archiveLedger(server.runtime.ledger.archive, { before, to, now: clock() }).then(
    (archived) => process.send?.({ archived }),
    (err: Error) => process.send?.({ error: err.message }),
  );
});

stopOnSignals(server);
