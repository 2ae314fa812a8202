/**
 * Preloaded into tollgate (`node --import`) by `bench/profile/run.ts`: measures the V8 heap bytes
 * allocated per request served, and the GC pauses, from the first request on.
 *
 * From the first 'request' event of any http server, a `v8.GCProfiler` records the heap before and
 * after every GC. Bytes allocated = Σ (used heap before GC n − used heap after GC n−1), plus what
 * was allocated after the last GC; nothing is freed between two GCs, so that is every byte the
 * process allocated on V8's heap (Buffers' backing stores outside it are not counted). Requests
 * are counted at their response's 'finish'.
 *
 * Writes `{ requests, allocatedBytes, gcs: [{ type, ms }] }` as JSON to $TOLLGATE_ALLOC_FILE when the
 * process gets SIGTERM (before tollgate's own handler exits it) or exits.
 */
import { writeFileSync } from 'node:fs';
import { Server } from 'node:http';
import { GCProfiler, getHeapStatistics } from 'node:v8';

const file = process.env.TOLLGATE_ALLOC_FILE;
let profiler;
let startUsed = 0;
let requests = 0;
const emit = Server.prototype.emit;
Server.prototype.emit = function (event, _req, res) {
  if (event === 'request') {
    if (!profiler) {
      profiler = new GCProfiler();
      startUsed = getHeapStatistics().used_heap_size;
      profiler.start();
    }
    res.once('finish', () => requests++);
  }
  return emit.apply(this, arguments);
};

let written = false;
const write = () => {
  if (written || !file || !profiler) return;
  written = true;
  const endUsed = getHeapStatistics().used_heap_size;
  const { statistics } = profiler.stop();
  let allocated = 0;
  let after = startUsed;
  const gcs = [];
  for (const s of statistics) {
    allocated += s.beforeGC.heapStatistics.usedHeapSize - after;
    after = s.afterGC.heapStatistics.usedHeapSize;
    gcs.push({ type: s.gcType, ms: s.cost / 1000 });
  }
  allocated += endUsed - after;
  writeFileSync(file, JSON.stringify({ requests, allocatedBytes: allocated, gcs }));
};
process.prependListener('SIGTERM', write);
process.on('exit', write);
