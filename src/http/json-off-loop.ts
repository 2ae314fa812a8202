import { channel } from 'node:diagnostics_channel';
import { Worker } from 'node:worker_threads';
import type { Denial } from './denial.js';
import { jsonObjectOf, parseJsonBody, type JsonObject } from './json-body.js';
import type { StrictJson } from './json-strict.js';

/**
 * Bodies of at least this many bytes are parsed on a worker thread. Strict parsing (the UTF-8
 * check, the repeated-key scan, `JSON.parse`) costs a few ms per MB on the event loop, so a body
 * below 1 MiB holds it for a few ms, about what a round trip to the worker costs; a 60 MB prompt
 * held it for hundreds of ms while every other request waited.
 */
export const OFF_LOOP_BYTES = 1024 * 1024;

/**
 * Published on `tollgate:json-parse` (node:diagnostics_channel) as a body is handed to the worker
 * (`start`) and as its answer is back (`end`): `{ phase, bytes }`. For tracing and tests.
 */
export const parseChannel = channel('tollgate:json-parse');

/** A parsed body and its bytes (`raw` is the body as received, in a buffer of its own). */
export interface ParsedBody {
  raw: Buffer;
  parsed: { json: JsonObject } | Denial;
}

interface Job {
  resolve: (answer: ParsedBody) => void;
  reject: (err: Error) => void;
}

let worker: Worker | undefined;
const pending = new Map<number, Job>();
let nextId = 1;

/**
 * `parseJsonBody` (strict JSON, the same answers and refusals) without holding the event loop for a
 * large body: one of at least `OFF_LOOP_BYTES` is parsed on a worker thread (one, started on first
 * use, jobs in arrival order), its bytes moved there and back without a copy, so the caller must
 * use the `raw` it gets back, never the buffer it passed. Only structured clone of the parsed value
 * runs on the loop (a fraction of `JSON.parse`'s time for a body of a few long strings).
 * @throws when the worker thread died with the body (answered as a 500; the next body starts another).
 */
export function parseJsonBodyOffLoop(raw: Buffer): Promise<ParsedBody> {
  if (raw.byteLength < OFF_LOOP_BYTES) return Promise.resolve({ raw, parsed: parseJsonBody(raw) });
  // A buffer of its own is moved; a slice of a shared one is copied first (Buffer.concat's never is).
  const bytes =
    raw.byteOffset === 0 && raw.buffer.byteLength === raw.byteLength
      ? (raw.buffer as ArrayBuffer)
      : Uint8Array.prototype.slice.call(raw).buffer;
  const id = nextId++;
  return new Promise<ParsedBody>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    if (parseChannel.hasSubscribers) parseChannel.publish({ phase: 'start', bytes: raw.byteLength });
    const w = started();
    // Referenced while it has work: a pending parse keeps the process alive, an idle worker never does.
    if (pending.size === 1) w.ref();
    w.postMessage({ id, bytes }, [bytes]);
  });
}

/** The worker, started on first use; unreferenced while idle, so it never keeps the process alive. */
function started(): Worker {
  if (worker) return worker;
  // Built, the worker is plain JavaScript beside this file; from the sources (tests, tsx) it is
  // loaded through tsx's loader, registered in the worker (Node 20 does not pass `--import` hooks on).
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './json-parse-worker.ts' : './json-parse-worker.js', import.meta.url);
  const w = fromSource
    ? new Worker(
        `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})` +
          `.then((tsx) => tsx.register()).then(() => import(${JSON.stringify(entry.href)}))`,
        { eval: true },
      )
    : new Worker(entry);
  w.on('message', ({ id, parsed, bytes }: { id: number; parsed: StrictJson; bytes: ArrayBuffer }) => {
    const job = pending.get(id);
    pending.delete(id);
    if (parseChannel.hasSubscribers) parseChannel.publish({ phase: 'end', bytes: bytes.byteLength });
    if (pending.size === 0) w.unref();
    job?.resolve({ raw: Buffer.from(bytes), parsed: jsonObjectOf(parsed) });
  });
  const fail = (err: Error) => {
    if (worker === w) worker = undefined;
    for (const job of pending.values()) job.reject(err);
    pending.clear();
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`the JSON parsing thread exited (code ${code})`)));
  // After the listeners: attaching a 'message' listener refs the worker again.
  w.unref();
  worker = w;
  return w;
}
