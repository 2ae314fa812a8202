/**
 * Stream time to first byte, alone: direct, the floor and tollgate (pinned as in the bench), each
 * warmed up, then `--streams` streams at `--rate`/s per target, `--rounds` rounds interleaved.
 * Prints TTFB p50 / p99 (ms) per target and round, and the floor's and tollgate's added to direct.
 *
 *   node --import tsx bench/profile/ttfb.ts [--streams 500] [--rate 100] [--rounds 2]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machine } from '../lib/machine.js';
import { canPin, CORES, killLive, pinSelf } from '../lib/proc.js';
import { median, percentile } from '../lib/stats.js';
import { modelOf, writesPerStream, type Variant } from '../lib/variants.js';
import { openLoop } from '../load/open-loop.js';
import { chatBody, streamBody } from '../load/requests.js';
import { streamLoad } from '../load/streams.js';
import { buildTollgate } from '../targets/build.js';
import {
  CHAT_PATH,
  directTarget,
  startFloor,
  startTollgate,
  startUpstream,
  type Env,
  type Target,
} from '../targets/start.js';

const { values } = parseArgs({
  options: {
    streams: { type: 'string', default: '500' },
    rate: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '2' },
  },
});
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const m = machine();
const env: Env = { root, work: mkdtempSync(join(tmpdir(), 'tollgate-ttfb-')), pin: canPin(m.nproc), tollgateMain: '' };
const variant: Variant = { delayMs: 0, chunks: 20, intervalMs: 10 };

if (env.pin) pinSelf(CORES.load);
env.tollgateMain = buildTollgate(root);
const upstream = await startUpstream(env);
try {
  const targets: Target[] = [
    directTarget(upstream.url),
    await startFloor(env, upstream.url),
    await startTollgate(env, { upstreamUrl: upstream.url, models: [modelOf(variant)], tag: 'ttfb' }),
  ];
  const run = (t: Target, count: number, ratePerS: number) =>
    streamLoad({
      origin: t.origin,
      path: CHAT_PATH,
      headers: t.headers,
      body: streamBody(variant),
      count,
      ratePerS,
      expectedEvents: writesPerStream(variant),
      connections: 512,
      drainMs: 30_000,
    });
  for (const t of targets) {
    await openLoop({
      origin: t.origin,
      path: CHAT_PATH,
      headers: t.headers,
      body: chatBody(variant),
      rps: 1000,
      durationMs: 5000,
    });
    await run(t, 50, 50);
  }
  const p50: Record<string, number[]> = {};
  for (let round = 0; round < Number(values.rounds); round++)
    for (const t of targets) {
      const r = await run(t, Number(values.streams), Number(values.rate));
      (p50[t.name] ??= []).push(percentile(r.ttfbMs, 50));
      console.log(
        `round ${round + 1} ${t.name.padEnd(9)} TTFB p50 ${percentile(r.ttfbMs, 50).toFixed(3)} p99 ${percentile(r.ttfbMs, 99).toFixed(3)} ms (${r.completed}/${r.streams})`,
      );
    }
  for (const name of ['floor', 'tollgate'])
    console.log(`${name} added p50: +${(median(p50[name]!) - median(p50.direct!)).toFixed(3)} ms`);
  for (const t of targets) await t.stop();
} finally {
  await upstream.stop();
  killLive();
  rmSync(env.work, { recursive: true, force: true });
}
