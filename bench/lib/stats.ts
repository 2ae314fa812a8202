/** Small statistics helpers; inputs and outputs keep the caller's unit (ms, RPS, MB). */

/** Sorted copy of `values` as a Float64Array (ascending). */
export function sorted(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/** The `p`-th percentile (0–100) of an ascending array, nearest-rank; NaN when empty. */
export function percentile(asc: Float64Array, p: number): number {
  if (asc.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * asc.length);
  return asc[Math.min(asc.length, Math.max(1, rank)) - 1]!;
}

/** Median of the finite values; NaN when there are none. */
export function median(values: number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Largest finite value; NaN when there is none. */
export function max(values: number[]): number {
  const v = values.filter(Number.isFinite);
  return v.length ? Math.max(...v) : NaN;
}
