/**
 * What the fake upstream does for a request is chosen by its `model`, so the same request reaches
 * the upstream unchanged through every proxy (each one forwards `model` as sent):
 *
 *   `bench-d<delayMs>-c<chunks>-i<intervalMs>`, e.g. `bench-d0-c20-i10`
 *
 * - `delayMs`: ms before the JSON answer (or the first SSE chunk) is written;
 * - `chunks`: content chunks in an SSE answer (`"stream": true`);
 * - `intervalMs`: ms between SSE writes.
 */
export interface Variant {
  /** Milliseconds before the answer starts. */
  delayMs: number;
  /** Content chunks of a streamed answer. */
  chunks: number;
  /** Milliseconds between streamed writes. */
  intervalMs: number;
}

const PATTERN = /^bench-d(\d+)-c(\d+)-i(\d+)$/;

/** The model name that selects `v`. */
export const modelOf = (v: Variant): string => `bench-d${v.delayMs}-c${v.chunks}-i${v.intervalMs}`;

/** The variant a model name selects; an unknown name answers at once with 20 chunks 10 ms apart. */
export function variantOf(model: unknown): Variant {
  const m = typeof model === 'string' ? PATTERN.exec(model) : null;
  return m
    ? { delayMs: Number(m[1]), chunks: Number(m[2]), intervalMs: Number(m[3]) }
    : { delayMs: 0, chunks: 20, intervalMs: 10 };
}

/**
 * SSE writes a client sees for one streamed answer without `include_usage`: the role chunk, each
 * content chunk, the finish chunk (with the usage chunk in the same write when asked), `[DONE]`.
 */
export const writesPerStream = (v: Variant): number => v.chunks + 3;
