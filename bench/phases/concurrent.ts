/**
 * Many concurrent streams through a freshly started proxy process, for its peak RSS: its `VmHWM`
 * (peak resident set, MB) after all streams ended, with its RSS right after start for reference.
 */
import { streamBody } from '../load/requests.js';
import { streamLoad } from '../load/streams.js';
import type { Plan } from '../lib/plan.js';
import { memoryMb } from '../lib/proc.js';
import { writesPerStream } from '../lib/variants.js';
import { CHAT_PATH, type Target } from '../targets/start.js';

export interface ConcurrentRun {
  streams: number;
  completed: number;
  errors: number;
  firstError?: string;
  /** Most streams open at once (client side). */
  peakOpen: number;
  /** RSS right after start, MB. */
  startRssMb: number;
  /** Peak RSS (VmHWM) over the process's life, MB. */
  peakRssMb: number;
}

export async function concurrentStreams(plan: Plan, start: () => Promise<Target>): Promise<ConcurrentRun> {
  const t = await start();
  try {
    const startRssMb = memoryMb(t.pid!, 'VmRSS') ?? NaN;
    const v = plan.concurrent.variant;
    const r = await streamLoad({
      origin: t.origin,
      path: CHAT_PATH,
      headers: t.headers,
      body: streamBody(v),
      count: plan.concurrent.streams,
      ratePerS: plan.concurrent.ratePerS,
      expectedEvents: writesPerStream(v),
      connections: plan.concurrent.streams + 16,
      drainMs: 60_000,
    });
    return {
      streams: r.streams,
      completed: r.completed,
      errors: r.errors,
      firstError: r.firstError,
      peakOpen: r.peakOpen,
      startRssMb,
      peakRssMb: memoryMb(t.pid!, 'VmHWM') ?? NaN,
    };
  } finally {
    await t.stop();
  }
}
