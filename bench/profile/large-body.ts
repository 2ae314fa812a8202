/**
 * Small requests while a large prompt is in flight: tollgate (pinned to the proxy core, as in the
 * bench) serves an open loop of small chat requests at `--rps` for `--seconds`; after one second a
 * `--mb` MB chat prompt is posted beside them. Reported: the small requests' p50, p99 and max
 * latency over a run without the large prompt, and over those scheduled while it was in flight, and
 * the rise of p99 (the target: under 50 ms with a 60 MB prompt in flight). With `--against <rev>`
 * the same runs for that revision, turn about with this checkout's, for an A/B on a shared machine.
 *
 *   node --import tsx bench/profile/large-body.ts [--mb 60] [--rps 200] [--seconds 8] [--against main]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { machine } from '../lib/machine.js';
import { canPin, CORES, pinSelf } from '../lib/proc.js';
import { percentile } from '../lib/stats.js';
import { modelOf, type Variant } from '../lib/variants.js';
import { openLoop } from '../load/open-loop.js';
import { chatBody } from '../load/requests.js';
import { buildTollgate } from '../targets/build.js';
import { buildRevision } from '../targets/revision.js';
import { CHAT_PATH, startTollgate, startUpstream, type Env } from '../targets/start.js';

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '60' },
    rps: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '8' },
    against: { type: 'string' },
  },
});
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const m = machine();
const env: Env = { root, work: mkdtempSync(join(tmpdir(), 'tollgate-large-')), pin: canPin(m.nproc), tollgateMain: '' };
if (env.pin) pinSelf(CORES.load);
env.tollgateMain = buildTollgate(root);
const variant: Variant = { delayMs: 0, chunks: 20, intervalMs: 10 };
const small = chatBody(variant);
const large = Buffer.from(
  JSON.stringify({
    model: modelOf(variant),
    messages: [{ role: 'user', content: 'lorem ipsum dolor sit amet '.repeat((Number(values.mb) * 1024 * 1024) / 27) }],
    max_completion_tokens: 5,
  }),
);
const upstream = await startUpstream(env);
const builds: { name: string; main?: string; cwd?: string }[] = [{ name: 'this checkout' }];
if (values.against) {
  const b = buildRevision(root, values.against, env.work);
  builds.push({ name: `${values.against} (${b.commit})`, main: b.main, cwd: b.tree });
}

const fmt = (xs: Float64Array | number[]) => {
  const sorted = Float64Array.from(xs).sort();
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN };
};
const ms = (x: number) => `${x.toFixed(2)} ms`;

console.log(
  `small requests beside a ${values.mb} MB prompt — ${m.nproc} cores, Node ${m.node}, ${values.rps} RPS for ${values.seconds} s`,
);
for (const b of builds) {
  const t = await startTollgate(env, {
    upstreamUrl: upstream.url,
    models: [modelOf(variant)],
    tag: b.name.replace(/\W+/g, '-'),
    main: b.main,
    cwd: b.cwd,
  });
  try {
    const loop = {
      origin: t.origin,
      path: CHAT_PATH,
      headers: { ...t.headers, 'content-type': 'application/json' },
      body: small,
      rps: Number(values.rps),
      durationMs: Number(values.seconds) * 1000,
      samples: true,
    };
    const alone = await openLoop(loop);
    const during = openLoop(loop);
    await sleep(1000);
    const start = Date.now();
    const res = await request(`${t.origin}${CHAT_PATH}`, {
      method: 'POST',
      headers: { ...t.headers, 'content-type': 'application/json' },
      body: large,
      headersTimeout: 120_000,
      bodyTimeout: 120_000,
    });
    await res.body.dump();
    const end = Date.now();
    const beside = (await during).samples!.filter((s) => s.dueAt >= start && s.dueAt <= end).map((s) => s.ms);
    const a = fmt(alone.latencyMs);
    const d = fmt(beside);
    console.log(
      `${b.name}: alone p50 ${ms(a.p50)}, p99 ${ms(a.p99)}, max ${ms(a.max)}; ` +
        `beside the prompt (${beside.length} requests, prompt answered ${res.statusCode} in ${end - start} ms) p50 ${ms(d.p50)}, p99 ${ms(d.p99)}, max ${ms(d.max)}; ` +
        `p99 rise ${ms(d.p99 - a.p99)}`,
    );
  } finally {
    await t.stop();
  }
}
await upstream.stop();
