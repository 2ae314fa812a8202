/**
 * Streamed chat completions (SSE), started open-loop at a fixed rate. For every stream it records
 * the time to the first body byte from the stream's scheduled start (TTFB, ms), the gap between
 * consecutive body reads (ms), and how the upstream's writes arrived: the upstream writes one SSE
 * event per write, `intervalMs` apart, so a proxy that relays each write as it comes delivers one
 * event per read; a read carrying more than one event means the proxy coalesced writes.
 *
 * Bounded: `count` streams, then at most `drainMs` ms for the last ones, which are then aborted.
 */
import { setMaxListeners } from 'node:events';
import { Pool } from 'undici';
import { sorted } from '../lib/stats.js';

export interface StreamOptions {
  origin: string;
  path: string;
  headers: Record<string, string>;
  /** A chat completion request body with `"stream": true`. */
  body: string;
  /** Streams to run. */
  count: number;
  /** Streams started per second. */
  ratePerS: number;
  /** SSE events the client should receive per stream (each in its own upstream write). */
  expectedEvents: number;
  /** Most sockets to the target (≥ the streams open at once). */
  connections: number;
  /** Longest wait for open streams after the last one starts, ms. */
  drainMs: number;
  /** Called every ~200 ms while streams run (e.g. to sample a process's RSS). */
  onSample?: (open: number) => void;
}

export interface StreamResult {
  streams: number;
  /** Streams that ended with status 200 and `data: [DONE]`. */
  completed: number;
  errors: number;
  firstError?: string;
  /** Time to first body byte, ms, ascending. */
  ttfbMs: Float64Array;
  /** Gaps between consecutive reads within a stream, ms, ascending. */
  gapMs: Float64Array;
  /** Events the completed streams should have carried (`expectedEvents` × completed). */
  eventsExpected: number;
  /** Events the completed streams carried. */
  eventsReceived: number;
  /** Body reads of the completed streams. */
  reads: number;
  /** Reads that carried more than one event. */
  coalescedReads: number;
  /** Most streams open at once. */
  peakOpen: number;
}

/** Complete SSE events in a read: the blank lines (`\n\n`) that end them. */
function eventsIn(chunk: Buffer): number {
  let n = 0;
  for (let i = chunk.indexOf('\n\n'); i !== -1; i = chunk.indexOf('\n\n', i + 2)) n++;
  return n;
}

export async function streamLoad(o: StreamOptions): Promise<StreamResult> {
  const pool = new Pool(o.origin, {
    connections: o.connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: 60_000,
    bodyTimeout: 60_000,
  });
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // one listener per open stream
  const headers = { ...o.headers, 'content-type': 'application/json', accept: 'text/event-stream' };
  const ttfb: number[] = [];
  const gaps: number[] = [];
  const r = {
    completed: 0,
    errors: 0,
    firstError: undefined as string | undefined,
    eventsReceived: 0,
    reads: 0,
    coalescedReads: 0,
    open: 0,
    peakOpen: 0,
  };

  const one = async (due: number) => {
    r.open++;
    r.peakOpen = Math.max(r.peakOpen, r.open);
    try {
      const res = await pool.request({ method: 'POST', path: o.path, headers, body: o.body, signal: abort.signal });
      const myGaps: number[] = [];
      let first: number | undefined;
      let last = 0;
      let events = 0;
      let reads = 0;
      let coalesced = 0;
      let tail = '';
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        const now = performance.now();
        if (first === undefined) first = now - due;
        else myGaps.push(now - last);
        last = now;
        reads++;
        const n = eventsIn(chunk);
        events += n;
        if (n > 1) coalesced++;
        tail = (tail + chunk.toString('latin1')).slice(-32);
      }
      if (res.statusCode !== 200 || !tail.includes('[DONE]'))
        throw new Error(`HTTP ${res.statusCode}, stream ended with ${JSON.stringify(tail)}`);
      r.completed++;
      if (first !== undefined) ttfb.push(first);
      for (const g of myGaps) gaps.push(g);
      r.eventsReceived += events;
      r.reads += reads;
      r.coalescedReads += coalesced;
    } catch (err) {
      r.errors++;
      r.firstError ??= (err as Error).message;
    } finally {
      r.open--;
    }
  };

  const sampler = o.onSample ? setInterval(() => o.onSample!(r.open), 200) : undefined;
  const runs: Promise<void>[] = [];
  const interval = 1000 / o.ratePerS;
  const start = performance.now() + 5;
  await new Promise<void>((resolve) => {
    let next = 0;
    const tick = () => {
      const now = performance.now();
      while (next < o.count && start + next * interval <= now) runs.push(one(start + next++ * interval));
      if (next >= o.count) resolve();
      else setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
    };
    tick();
  });
  const drain = setTimeout(() => abort.abort(new Error('stream not finished within the drain time')), o.drainMs);
  await Promise.all(runs);
  clearTimeout(drain);
  if (sampler) clearInterval(sampler);
  await pool.destroy().catch(() => {});
  return {
    streams: o.count,
    completed: r.completed,
    errors: r.errors,
    firstError: r.firstError,
    ttfbMs: sorted(ttfb),
    gapMs: sorted(gaps),
    eventsExpected: o.expectedEvents * r.completed,
    eventsReceived: r.eventsReceived,
    reads: r.reads,
    coalescedReads: r.coalescedReads,
    peakOpen: r.peakOpen,
  };
}
