import { performance } from 'node:perf_hooks';

/** One request of a load run: what it was answered, and how long that took (ms). */
export interface Answered {
  status: number;
  /** `x-tollgate-request-id`, when tollgate gave the request a row. */
  requestId: string | null;
  retryAfter: string | null;
  code: string | null;
  ms: number;
  /** Set when the request got no HTTP answer at all. */
  failed?: string;
}

/** What a load run sends: a chat completion to one of `origins` with `headers` and `body`. */
export interface LoadTarget {
  origins: string[];
  headers: Record<string, string>;
  body: string;
}

/**
 * A bounded load on tollgate (127.0.0.1 only): `workers` loops, each sending one request at a time,
 * at most `perWorkerRps` a second each, spreading requests over `origins` in turn, until `stop()`.
 * `stop` resolves with every answer once the requests in flight are answered.
 */
export function startLoad(
  target: LoadTarget,
  opts: { workers: number; perWorkerRps: number },
): { stop(): Promise<Answered[]>; answered: Answered[] } {
  const answered: Answered[] = [];
  let running = true;
  let turn = 0;
  const gapMs = 1000 / opts.perWorkerRps;
  const one = async (): Promise<void> => {
    const origin = target.origins[turn++ % target.origins.length]!;
    const started = performance.now();
    try {
      const res = await fetch(`${origin}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...target.headers },
        body: target.body,
      });
      const text = await res.text();
      let code: string | null = null;
      if (res.status >= 400) {
        try {
          code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? null;
        } catch {
          code = 'unparsable';
        }
      }
      answered.push({
        status: res.status,
        requestId: res.headers.get('x-tollgate-request-id'),
        retryAfter: res.headers.get('retry-after'),
        code,
        ms: performance.now() - started,
      });
    } catch (err) {
      answered.push({
        status: 0,
        requestId: null,
        retryAfter: null,
        code: null,
        ms: performance.now() - started,
        failed: (err as Error).message,
      });
    }
  };
  const loops = Array.from({ length: opts.workers }, async () => {
    while (running) {
      const started = performance.now();
      await one();
      const wait = gapMs - (performance.now() - started);
      if (wait > 0 && running) await new Promise((r) => setTimeout(r, wait));
    }
  });
  return {
    answered,
    async stop() {
      running = false;
      await Promise.all(loops);
      return answered;
    },
  };
}
