/**
 * `tollgate serve --workers N` on a SQLite ledger at maximum throughput (closed loop, unpinned as in
 * the scale phase): the CPU per request of the primary (the ledger owner) and of each worker, from
 * /proc (time waiting for a shared core not counted, so it holds on a busy machine), and how the
 * requests spread over the workers (their CPU shares). With `--prof`, the same run under
 * `node --cpu-prof` (the workers inherit the flag) and the primary's profile summarised by module
 * and function into bench/profile/out/workers/PROFILE.md. With `--sql`, the ledger's statements and
 * commits per request (counting costs the primary CPU: not for the CPU figures).
 *
 * With `--against <rev>`, each of `--rounds` rounds runs this checkout and that revision in turn
 * (alternating which goes first), for before/after figures on a shared machine.
 *
 *   node --import tsx bench/profile/workers.ts [--workers 2] [--seconds 10] [--connections 64] [--prof | --sql] [--against <rev> --rounds 3]
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureInstalled } from '../lib/install.js';
import { killLive, TICKS_PER_S, cpuTicks, waitIdle } from '../lib/proc.js';
import { modelOf, type Variant } from '../lib/variants.js';
import { closedLoop, loadAutocannon } from '../load/closed-loop.js';
import { chatBody } from '../load/requests.js';
import { buildTollgate } from '../targets/build.js';
import { buildRevision, type RevisionBuild } from '../targets/revision.js';
import { CHAT_PATH, startTollgate, startUpstream, type Env } from '../targets/start.js';
import { SQL_STATS_ENV, type SqlStats } from '../../src/ledger/sqlite/sql-stats.js';
import { summarise, summaryMarkdown } from './summarise.js';

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    prof: { type: 'boolean', default: false },
    sql: { type: 'boolean', default: false },
    against: { type: 'string' },
    rounds: { type: 'string', default: '1' },
  },
});
const workers = Number(values.workers);
const seconds = Number(values.seconds);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = join(root, 'bench', 'profile', 'out', 'workers');
const env: Env = { root, work: mkdtempSync(join(tmpdir(), 'tollgate-workers-')), pin: false, tollgateMain: '' };
const sqlFile = join(env.work, 'sql.json');
const variant: Variant = { delayMs: 0, chunks: 20, intervalMs: 10 };

ensureInstalled(join(root, 'bench', 'tools'), console.log);
const autocannon = loadAutocannon(root);
env.tollgateMain = buildTollgate(root);
const other = values.against ? buildRevision(root, values.against, env.work) : undefined;
const upstream = await startUpstream(env);

/** One run of `rev` (this checkout when undefined): the line of figures, and the profile's summary with `--prof`. */
async function measure(rev: RevisionBuild | undefined): Promise<string> {
  const label = rev ? rev.commit : 'this checkout';
  if (values.prof) rmSync(dir, { recursive: true, force: true });
  const t = await startTollgate(env, {
    upstreamUrl: upstream.url,
    models: [modelOf(variant)],
    tag: `workers-${label.replaceAll(' ', '-')}`,
    workers,
    unpinned: true,
    main: rev?.main,
    cwd: rev?.tree,
    nodeFlags: values.prof ? ['--cpu-prof', '--cpu-prof-dir', dir] : [],
    env: values.sql ? { ...process.env, [SQL_STATS_ENV]: sqlFile } : process.env,
  });
  const load = (s: number) =>
    closedLoop(autocannon, {
      origin: t.origin,
      path: CHAT_PATH,
      headers: t.headers,
      body: chatBody(variant),
      connections: Number(values.connections),
      durationS: s,
    });
  const pids = [t.pid!, ...(t.pids ?? []).filter((p) => p !== t.pid)];
  let line: string;
  let r: Awaited<ReturnType<typeof load>>;
  try {
    const warm = await load(3);
    for (const pid of pids) await waitIdle(pid);
    const before = pids.map((pid) => cpuTicks(pid) ?? 0);
    r = await load(seconds);
    const us = pids.map((pid, i) => ((((cpuTicks(pid) ?? 0) - before[i]!) / TICKS_PER_S) * 1e6) / r.ok);
    const [primary, ...rest] = us;
    const sum = rest.reduce((a, b) => a + b, 0);
    line = `${label}: ${workers} workers, ${Math.round(r.rps)} RPS, ${r.errors} errors, ${r.ok} requests; CPU per request: primary ${primary!.toFixed(0)} µs, workers ${rest.map((u) => u.toFixed(0)).join(' + ')} = ${sum.toFixed(0)} µs, all ${(primary! + sum).toFixed(0)} µs${values.prof ? ' (profiled)' : ''}`;
    await t.stop();
    if (values.sql) {
      const sql = JSON.parse(readFileSync(sqlFile, 'utf8')) as SqlStats;
      const served = warm.ok + r.ok;
      line += `\n  ledger SQL per request (the warm-up and start-up included): ${(sql.statements / served).toFixed(2)} statements, ${(sql.commits / served).toFixed(2)} commits`;
    }
  } finally {
    await t.stop();
  }
  console.log(line);
  if (!values.prof) return line;
  for (let i = 0; i < 100 && !(existsSync(dir) && readdirSync(dir).some((f) => f.includes(`.${t.pid}.`))); i++)
    await sleep(100);
  await sleep(500);
  const file = readdirSync(dir).find((f) => f.includes(`.${t.pid}.`) && f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no profile of the primary (${t.pid}) in ${dir}`);
  const s = summarise(JSON.parse(readFileSync(join(dir, file), 'utf8')));
  const md = [
    `# The primary of serve --workers ${workers}\n\n${line}\n\nPrimary busy ${((s.busyMs * 1000) / r.ok).toFixed(1)} µs per measured request (profile, wall clock, start-up and warm-up included).\n`,
    summaryMarkdown(`primary (${file})`, s, 40),
  ].join('\n');
  writeFileSync(join(dir, 'PROFILE.md'), md);
  console.log(md);
  return line;
}

try {
  const lines: string[] = [];
  const revs = other ? [undefined, other] : [undefined];
  for (let round = 0; round < Number(values.rounds); round++)
    for (const rev of round % 2 === 0 ? revs : [...revs].reverse()) lines.push(await measure(rev));
  console.log(`\n${lines.join('\n')}`);
} finally {
  await upstream.stop();
  killLive();
}
