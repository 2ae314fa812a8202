/**
 * Preloaded into a proxy (`node --import`) by `bench/profile/alloc.ts --sample`: V8's sampling heap
 * profiler (through the inspector, in process) from the first request on, counting objects a GC
 * has already collected too (`includeObjectsCollectedByMajorGC/MinorGC`), so the profile ranks where
 * bytes were *allocated*, not what is still alive at the end (which `node --heap-prof` shows).
 *
 * Writes the profile (`{ head, samples }`, Chrome DevTools' `SamplingHeapProfile`) as JSON to
 * $TOLLGATE_HEAP_SAMPLE_FILE when the process gets SIGTERM or exits.
 */
import { writeFileSync } from 'node:fs';
import { Server } from 'node:http';
import { Session } from 'node:inspector';

const file = process.env.TOLLGATE_HEAP_SAMPLE_FILE;
const session = new Session();
let started = false;
const emit = Server.prototype.emit;
Server.prototype.emit = function (event) {
  if (event === 'request' && !started) {
    started = true;
    session.connect();
    session.post('HeapProfiler.startSampling', {
      samplingInterval: 1024,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  return emit.apply(this, arguments);
};

let written = false;
const write = () => {
  if (written || !file || !started) return;
  written = true;
  // The in-process session answers synchronously.
  session.post('HeapProfiler.stopSampling', (err, r) => {
    if (!err) writeFileSync(file, JSON.stringify(r.profile));
  });
};
process.prependListener('SIGTERM', write);
process.on('exit', write);
