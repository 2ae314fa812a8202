/**
 * Preloaded into every tollgate the bench's rounds run (`node --import`, any revision): the event
 * loop's delay, from `perf_hooks.monitorEventLoopDelay` (a timer every RESOLUTION_MS; its delay is how
 * late the timer fired, ms). On `{ loopDelay: 'read' }` over the IPC channel it answers
 * `{ loopDelay: { maxMs, p999Ms, p99Ms } }` for what it saw since the previous read, and starts over.
 * The rounds read it before (to start over) and after each open-loop run: the longest stall of the
 * event loop during that run, which latency percentiles alone blur (a 300 ms stall is 0.3 % of a
 * 1,000 RPS run's requests, all late by up to 300 ms).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

const RESOLUTION_MS = 2;
const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
h.enable();
const ms = (ns) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
process.on('message', (m) => {
  if (m?.loopDelay !== 'read') return;
  const loopDelay =
    h.count > 0 ? { maxMs: ms(h.max), p999Ms: ms(h.percentile(99.9)), p99Ms: ms(h.percentile(99)) } : undefined;
  h.reset();
  process.send?.({ loopDelay });
});
// Listening on the channel must not keep tollgate alive once it closes its server.
process.channel?.unref();
