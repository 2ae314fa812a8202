/**
 * Preloaded into tollgate (`node --import`) by `bench/profile/tail.ts`: records, in wall-clock ms
 * (performance.timeOrigin + performance.now(), comparable across processes on one machine),
 * - every GC pause: `{ at, ms, kind }` from a PerformanceObserver ('gc' entries; kind 1 = minor
 *   (scavenge), 4 = major (mark-compact), 8 = incremental marking, 16 = weak callbacks);
 * - every event-loop stall: a 1 ms heartbeat timer that fired more than STALL_MS late, `{ at, ms }`
 *   (at = when the stall began, ms = how late the heartbeat was).
 * - every request served: `{ at, ms }` from the http server's 'request' event to the response's 'finish';
 * - every second, the bytes used in each V8 heap space (`spaces`), to see which one grows.
 * Writes `{ gc, stalls, served, spaces }` as JSON to $TOLLGATE_TRACE_FILE when the process gets SIGTERM (before
 * tollgate's own handler exits it) or exits.
 */
import { writeFileSync } from 'node:fs';
import { Server } from 'node:http';
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';

const file = process.env.TOLLGATE_TRACE_FILE;
const STALL_MS = 3;
const wall = () => performance.timeOrigin + performance.now();
const gc = [];
const stalls = [];
/** Per request served: `{ at, ms }`, from the server's 'request' event to the response's 'finish'. */
const served = [];
const emit = Server.prototype.emit;
Server.prototype.emit = function (event, req, res) {
  if (event === 'request') {
    const at = wall();
    res.once('finish', () => served.push({ at, ms: wall() - at }));
  }
  return emit.apply(this, arguments);
};
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    gc.push({ at: performance.timeOrigin + e.startTime, ms: e.duration, kind: e.detail?.kind ?? e.kind });
}).observe({ entryTypes: ['gc'] });
let last = wall();
setInterval(() => {
  const now = wall();
  const late = now - last - 1;
  if (late > STALL_MS) stalls.push({ at: last + 1, ms: late });
  last = now;
}, 1).unref();
/** Every second: bytes used per V8 heap space, to see which one grows between major GCs. */
const spaces = [];
setInterval(() => {
  spaces.push({
    at: wall(),
    ...Object.fromEntries(getHeapSpaceStatistics().map((x) => [x.space_name, x.space_used_size])),
  });
}, 1000).unref();
let written = false;
const write = () => {
  if (written || !file) return;
  written = true;
  writeFileSync(file, JSON.stringify({ gc, stalls, served, spaces }));
};
process.prependListener('SIGTERM', write);
process.on('exit', write);
