/**
 * The reports bench: a ledger of `--rows` requests (default 10 million) over 90 days, bulk-loaded
 * once per engine and kept in `--cache` for later runs; then, against tollgate serving a copy of it:
 *
 * 1. bytes per request row (raw rows with their indexes, and the rollups);
 * 2. every read-API report timed alone (90-day usage by day, user and model; history; the
 *    operator's overview) — target ≤ 100 ms each;
 * 3. proxied latency at `--rps` (default 500) straight to the upstream, through tollgate, and
 *    through tollgate while a company admin's 90-day dashboard and the operator's overview refresh
 *    every second — target: added p99 with the dashboards ≤ 2 ms over without;
 * 4. proxied latency while 30 days of raw rows are archived inside tollgate — target: no request
 *    waiting over 10 ms.
 *
 *   node --import tsx bench/reports/run.ts [--engine sqlite|postgres] [--rows N] [--rps N] [--seconds N] [--rounds N] [--smoke] [--reports-only]
 *
 * `--reports-only` stops after step 2 (the read API timed alone): what a change to the reports' queries needs.
 * `--skip-archive` leaves out step 4 (archiving a third of a 10M-row Postgres ledger takes a quarter of an hour on a busy machine).
 *
 * Postgres: `$TOLLGATE_BENCH_DATABASE_URL` (the loaded ledger is kept there as a database named by
 * its size) or a throwaway cluster (`.ci/postgres-up`). The proxy is pinned to core 0, the load
 * and the fake upstream to core 1 when the machine has two. All traffic stays on 127.0.0.1.
 */
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { machine } from '../lib/machine.js';
import { startPostgres } from '../lib/postgres.js';
import { canPin, CORES, firstMessage, killLive, pinSelf, spawnPinned, stopChild } from '../lib/proc.js';
import { modelOf } from '../lib/variants.js';
import { startUpstream, type Env } from '../targets/start.js';
import { benchReportsConfig, mintBenchKeys } from './config.js';
import { companyId, keyIdOf } from './dataset.js';
import { loadPostgres, loadSqlite } from './load.js';
import { archiveUnderLoad, dashboardRounds, timeReports, type ReportCase } from './phases.js';
import { reportMarkdown } from './render.js';
import { postgresSize, sqliteSize } from './size.js';

const { values: args } = parseArgs({
  options: {
    engine: { type: 'string', default: 'sqlite' },
    rows: { type: 'string' },
    rps: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '2' },
    cache: { type: 'string', default: join(tmpdir(), 'tollgate-bench-reports') },
    smoke: { type: 'boolean', default: false },
    'reports-only': { type: 'boolean', default: false },
    'skip-archive': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const engine = args.engine === 'postgres' ? 'postgres' : 'sqlite';
const rows = Number(args.rows ?? (args.smoke ? 100_000 : 10_000_000));
const seconds = args.smoke ? 3 : Number(args.seconds);
const rounds = args.smoke ? 1 : Number(args.rounds);
const rps = Number(args.rps);
const DAYS = 90;
/** The ledger's last instant: fixed, so a cached ledger is the same whenever it was built; the bench runs "now" just after it. */
const END = Date.parse('2026-12-01T00:00:00.000Z');
const log = (line: string) => process.stdout.write(`${line}\n`);
const root = join(import.meta.dirname, '..', '..');
const work = join(tmpdir(), `tollgate-bench-reports-run-${process.pid}`);
mkdirSync(work, { recursive: true });
mkdirSync(args.cache, { recursive: true });
const m = machine();
const pin = canPin(m.nproc);
if (pin) pinSelf(CORES.load);
const env: Env = { root, work, pin, tollgateMain: '' };
const cleanups: (() => Promise<void>)[] = [];

async function main(): Promise<void> {
  const { keys, hashes } = mintBenchKeys();
  const configFor = (ledger: Record<string, unknown>) => benchReportsConfig(ledger, hashes);
  // 1. The ledger: loaded once into the cache, served from a copy.
  let ledger: string;
  let size;
  if (engine === 'sqlite') {
    const cached = join(args.cache, `sqlite-${rows}-v1.db`);
    if (!existsSync(cached)) {
      log(`loading ${rows.toLocaleString('en-US')} rows into ${cached}…`);
      const r = loadSqlite(`${cached}.partial`, configFor({ path: cached }), rows, DAYS, END);
      copyFileSync(`${cached}.partial`, cached);
      rmSync(`${cached}.partial`, { force: true });
      log(`loaded in ${(r.loadMs / 1000).toFixed(0)} s, folded in ${(r.foldMs / 1000).toFixed(0)} s`);
    }
    size = sqliteSize(cached);
    ledger = join(work, 'ledger.db');
    copyFileSync(cached, ledger);
  } else {
    const server = await startPostgres(root);
    cleanups.push(() => server.stop());
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    const name = `tollgate_bench_reports_${rows}_v1`;
    const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
    const at = (db: string) => Object.assign(new URL(server.url), { pathname: `/${db}` }).toString();
    if (!exists) {
      log(`loading ${rows.toLocaleString('en-US')} rows into database ${name}…`);
      await admin.query(`CREATE DATABASE ${name}`);
      const r = await loadPostgres(at(name), configFor({ url: at(name) }), rows, DAYS, END);
      log(`loaded in ${(r.loadMs / 1000).toFixed(0)} s, folded in ${(r.foldMs / 1000).toFixed(0)} s`);
    }
    size = await postgresSize(at(name));
    const copy = `tollgate_bench_reports_run_${process.pid}`;
    await admin.query(`CREATE DATABASE ${copy} TEMPLATE ${name}`);
    // Cleanups run last first: the copy is dropped before the admin connection ends.
    cleanups.push(() => admin.end());
    cleanups.push(async () => void (await admin.query(`DROP DATABASE IF EXISTS ${copy} WITH (FORCE)`)));
    ledger = at(copy);
  }
  log(
    `${rows.toLocaleString('en-US')} rows: ${size.rawBytesPerRow.toFixed(0)} bytes per request row raw, ${size.rollupBytesPerRow.toFixed(0)} in rollups`,
  );

  // 2. tollgate on it, and the fake upstream.
  const upstream = await startUpstream(env);
  cleanups.push(() => upstream.stop());
  const model = modelOf({ delayMs: 0, chunks: 1, intervalMs: 0 });
  const child = spawnPinned(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'bench/reports/serve-main.ts'),
      '--ledger',
      ledger,
      '--upstream',
      upstream.url,
      '--models',
      model,
      '--now',
      new Date(END + 60_000).toISOString(),
    ],
    {
      core: pin ? CORES.proxy : undefined,
      logFile: join(work, 'tollgate.log'),
      ipc: true,
      cwd: root,
      env: { ...process.env, BENCH_REPORTS_KEYS: JSON.stringify(hashes), LOG_LEVEL: 'warn' },
    },
  );
  cleanups.push(() => stopChild(child));
  const { url } = await firstMessage<{ url: string }>(child, 600_000, 'tollgate');

  // 3. The reports alone.
  const op = keys.operator;
  const admin = keys.keys[keyIdOf(companyId(0), 2)]!;
  const member = keys.keys[keyIdOf(companyId(0), 0)]!;
  const u = (q: string) => `/tollgate/v1/usage?${q}`;
  const cases: ReportCase[] = [
    { name: 'operator: 90 days by day', key: op, path: u('period=90d&group_by=day') },
    { name: 'operator: 90 days by user (a page of 1,000)', key: op, path: u('period=90d&group_by=user') },
    { name: 'operator: 90 days, top 25 users', key: op, path: u('period=90d&group_by=user&limit=25') },
    {
      name: 'operator: 90 days by user, 2nd page of 100',
      key: op,
      path: u('period=90d&group_by=user&limit=100&offset=100'),
    },
    { name: 'operator: 90 days by model', key: op, path: u('period=90d&group_by=model') },
    { name: 'operator: 90 days total', key: op, path: u('period=90d') },
    { name: 'operator: 30 days by company', key: op, path: u('period=30d&group_by=company') },
    { name: 'operator: 7 days by hour', key: op, path: u('period=7d&group_by=hour') },
    { name: 'admin (largest company): 90 days by day', key: admin, path: u('period=90d&group_by=day') },
    { name: 'admin: 90 days by user', key: admin, path: u('period=90d&group_by=user') },
    { name: 'admin: 90 days by model', key: admin, path: u('period=90d&group_by=model') },
    { name: 'admin: one user, 90 days by model', key: admin, path: u('period=90d&group_by=model&user=user-0000') },
    { name: 'member key: 90 days by model', key: member, path: u('period=90d&group_by=model') },
    { name: 'operator: overview of every company', key: op, path: '/tollgate/v1/overview' },
    { name: 'operator: last 50 requests', key: op, path: '/tollgate/v1/requests?limit=50' },
    { name: 'admin: last 50 requests', key: admin, path: '/tollgate/v1/requests?limit=50' },
    { name: 'admin: one user, last 50 requests', key: admin, path: '/tollgate/v1/requests?limit=50&user=user-0000' },
    { name: 'member key: last 50 requests', key: member, path: '/tollgate/v1/requests?limit=50' },
  ];
  log('timing the read API…');
  const reports = await timeReports(url, cases);
  for (const r of reports)
    log(`  ${r.name.padEnd(44)} ${r.medianMs.toFixed(1).padStart(8)} ms (max ${r.maxMs.toFixed(1)}), ${r.rows} rows`);
  if (args['reports-only']) return;

  // 4. Proxied latency with and without dashboards.
  const load = {
    origin: url,
    headers: { authorization: `Bearer ${member}` },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Say hi.' }], max_completion_tokens: 16 }),
    rps,
    seconds,
  };
  log(`proxied load at ${rps} RPS, ${seconds} s per run, ${rounds} round(s), with and without dashboards…`);
  const dashboards = await dashboardRounds(
    load,
    upstream.url,
    [
      { credential: admin, path: '/dashboard?period=90d' },
      { credential: op, path: '/dashboard' },
    ],
    rounds,
  );

  // 5. Archive 30 days under the same load.
  log(args['skip-archive'] ? 'archive skipped' : 'archiving 30 days under load…');
  const archive = args['skip-archive']
    ? undefined
    : await archiveUnderLoad(
        load,
        child,
        new Date(END - 60 * 86_400_000).toISOString(),
        join(work, 'archive.ndjson.gz'),
      );

  const markdown = reportMarkdown({
    engine,
    rows,
    rps,
    seconds,
    machine: m,
    pinned: pin,
    size,
    reports,
    dashboards,
    archive,
  });
  log(markdown);
  if (args.out) writeFileSync(args.out, markdown);
}

try {
  await main();
} finally {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  killLive();
  rmSync(work, { recursive: true, force: true });
}
