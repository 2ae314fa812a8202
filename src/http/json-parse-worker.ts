import { parentPort } from 'node:worker_threads';
import { parseStrictJson, type StrictJson } from './json-strict.js';

/**
 * The worker thread of json-off-loop.ts: parses each body it is sent with `parseStrictJson` (the
 * same strict rules as on the event loop) and sends back the answer with the body's bytes (an
 * `ArrayBuffer`, transferred both ways, never copied). Message in: `{ id, bytes }`; out:
 * `{ id, parsed: StrictJson, bytes }`.
 */
parentPort?.on('message', ({ id, bytes }: { id: number; bytes: ArrayBuffer }) => {
  let parsed: StrictJson;
  try {
    parsed = parseStrictJson(Buffer.from(bytes));
  } catch (err) {
    // parseStrictJson never throws; a value structured clone cannot carry would fail postMessage instead.
    parsed = { error: { code: 'invalid_json', message: (err as Error).message, param: null } };
  }
  parentPort!.postMessage({ id, parsed, bytes }, [bytes]);
});
