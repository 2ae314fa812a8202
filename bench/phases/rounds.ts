/**
 * The interleaved rounds: in each round every target (direct, then the proxies; the order rotates
 * by round) runs each open-loop latency scenario, the closed-loop throughput run and the stream run
 * back to back, so direct and proxy figures of a round are taken under the same conditions.
 */
import { closedLoop, type ClosedLoopResult, type loadAutocannon } from '../load/closed-loop.js';
import { openLoop, type OpenLoopResult } from '../load/open-loop.js';
import { chatBody, streamBody } from '../load/requests.js';
import { streamLoad } from '../load/streams.js';
import type { Plan } from '../lib/plan.js';
import { waitIdle } from '../lib/proc.js';
import { percentile } from '../lib/stats.js';
import { writesPerStream, type Variant } from '../lib/variants.js';
import { CHAT_PATH, type Target, type TargetName } from '../targets/start.js';

/** One open-loop scenario: an arrival rate (RPS) against one upstream behaviour. */
export interface Scenario {
  key: string;
  label: string;
  rps: number;
  variant: Variant;
}

/** Latency of one open-loop run, ms from the scheduled send. */
export interface LatencyRun {
  p50: number;
  p99: number;
  p999: number;
  max: number;
  sent: number;
  errors: number;
  firstError?: string;
  /** The longest stall of the proxy's event loop during the run (ms; tollgate only, see `Target.loopDelay`). */
  loopDelayMax?: number;
}

/** One stream run: TTFB and read gaps (ms), and how the writes arrived. */
export interface StreamRun {
  ttfbP50: number;
  ttfbP99: number;
  gapP50: number;
  gapP99: number;
  streams: number;
  completed: number;
  errors: number;
  firstError?: string;
  eventsExpected: number;
  eventsReceived: number;
  reads: number;
  coalescedReads: number;
}

/** Per target, one entry per round. */
export interface RoundsResult {
  scenarios: Scenario[];
  latency: Record<string, Partial<Record<TargetName, LatencyRun[]>>>;
  throughput: Partial<Record<TargetName, ClosedLoopResult[]>>;
  stream: Partial<Record<TargetName, StreamRun[]>>;
}

/** An open-loop run's percentiles (ms) and counts. */
export function latencyRun(r: OpenLoopResult): LatencyRun {
  return {
    p50: percentile(r.latencyMs, 50),
    p99: percentile(r.latencyMs, 99),
    p999: percentile(r.latencyMs, 99.9),
    max: percentile(r.latencyMs, 100),
    sent: r.sent,
    errors: r.errors,
    firstError: r.firstError,
  };
}

/** One line of the console log for a latency run. */
export const describeRun = (run: LatencyRun): string =>
  `p50 ${run.p50.toFixed(3)} ms  p99 ${run.p99.toFixed(3)} ms  p99.9 ${run.p999.toFixed(3)} ms  max ${run.max.toFixed(1)} ms${run.loopDelayMax !== undefined ? `  event-loop stall max ${run.loopDelayMax.toFixed(1)} ms` : ''}  errors ${run.errors}/${run.sent}${run.firstError ? ` (${run.firstError})` : ''}`;

/** The plan's open-loop scenarios: each rate on the instant upstream, then the delayed one (none when `delayedRate` is 0). */
export function scenariosOf(plan: Plan): Scenario[] {
  const { rates, instant, delayed, delayedRate } = plan.openLoop;
  if (delayedRate === 0)
    return rates.map((rps) => ({
      key: `instant@${rps}`,
      label: `${rps.toLocaleString('en-US')} RPS`,
      rps,
      variant: instant,
    }));
  return [
    ...rates.map((rps) => ({
      key: `instant@${rps}`,
      label: `${rps.toLocaleString('en-US')} RPS`,
      rps,
      variant: instant,
    })),
    {
      key: `delayed@${delayedRate}`,
      label: `${delayedRate.toLocaleString('en-US')} RPS, upstream +${delayed.delayMs} ms`,
      rps: delayedRate,
      variant: delayed,
    },
  ];
}

/** Open-loop warm-up of every target (results discarded). */
export async function warmUp(plan: Plan, targets: Target[]): Promise<void> {
  for (const t of targets) {
    if (t.pid) await waitIdle(t.pid);
    await openLoop({
      origin: t.origin,
      path: CHAT_PATH,
      headers: t.headers,
      body: chatBody(plan.openLoop.instant),
      rps: plan.warmup.rps,
      durationMs: plan.warmup.ms,
    });
    await streamLoad({
      origin: t.origin,
      path: CHAT_PATH,
      headers: t.headers,
      body: streamBody(plan.stream.variant),
      count: 10,
      ratePerS: 50,
      expectedEvents: writesPerStream(plan.stream.variant),
      connections: 16,
      drainMs: 10_000,
    });
    if (t.pid) await waitIdle(t.pid);
  }
}

const push = <T>(rec: Partial<Record<TargetName, T[]>>, name: TargetName, v: T) => (rec[name] ??= []).push(v);

export async function runRounds(
  plan: Plan,
  targets: Target[],
  autocannon: ReturnType<typeof loadAutocannon>,
  log: (line: string) => void,
): Promise<RoundsResult> {
  const scenarios = scenariosOf(plan);
  const result: RoundsResult = {
    scenarios,
    latency: Object.fromEntries(scenarios.map((s) => [s.key, {}])),
    throughput: {},
    stream: {},
  };
  for (let round = 0; round < plan.rounds; round++) {
    const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
    log(`round ${round + 1}/${plan.rounds}: ${order.map((t) => t.name).join(' → ')}`);
    for (const s of scenarios) {
      for (const t of order) {
        await t.loopDelay?.(); // starts its count over
        const r = await openLoop({
          origin: t.origin,
          origins: t.origins,
          path: CHAT_PATH,
          headers: t.headers,
          body: chatBody(s.variant),
          rps: s.rps,
          durationMs: plan.openLoop.ms,
        });
        const run = latencyRun(r);
        const stalled = await t.loopDelay?.();
        if (stalled) run.loopDelayMax = stalled.maxMs;
        push(result.latency[s.key]!, t.name, run);
        if (t.pid) await waitIdle(t.pid);
        log(`  ${s.label.padEnd(28)} ${t.name.padEnd(8)} ${describeRun(run)}`);
      }
    }
    for (const t of order) {
      const r = await closedLoop(autocannon, {
        origin: t.origin,
        origins: t.origins,
        path: CHAT_PATH,
        headers: t.headers,
        body: chatBody(plan.openLoop.instant),
        connections: plan.closedLoop.connections,
        durationS: plan.closedLoop.durationS,
      });
      push(result.throughput, t.name, r);
      if (t.pid) await waitIdle(t.pid);
      log(`  max throughput               ${t.name.padEnd(8)} ${Math.round(r.rps)} RPS  errors ${r.errors}`);
    }
    for (const t of order) {
      const v = plan.stream.variant;
      const r = await streamLoad({
        origin: t.origin,
        path: CHAT_PATH,
        headers: t.headers,
        body: streamBody(v),
        count: plan.stream.count,
        ratePerS: plan.stream.ratePerS,
        expectedEvents: writesPerStream(v),
        connections: 512,
        drainMs: 30_000,
      });
      const run: StreamRun = {
        ttfbP50: percentile(r.ttfbMs, 50),
        ttfbP99: percentile(r.ttfbMs, 99),
        gapP50: percentile(r.gapMs, 50),
        gapP99: percentile(r.gapMs, 99),
        streams: r.streams,
        completed: r.completed,
        errors: r.errors,
        firstError: r.firstError,
        eventsExpected: r.eventsExpected,
        eventsReceived: r.eventsReceived,
        reads: r.reads,
        coalescedReads: r.coalescedReads,
      };
      push(result.stream, t.name, run);
      if (t.pid) await waitIdle(t.pid);
      log(
        `  streams                      ${t.name.padEnd(8)} TTFB p50 ${run.ttfbP50.toFixed(3)} ms  gap p50 ${run.gapP50.toFixed(3)} / p99 ${run.gapP99.toFixed(3)} ms  reads ${run.reads}/${run.eventsExpected} events  coalesced ${run.coalescedReads}  errors ${run.errors}${run.firstError ? ` (${run.firstError})` : ''}`,
      );
    }
  }
  return result;
}
