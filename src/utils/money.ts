/**
 * Formats an integer amount of micro-USD (1 USD = 1,000,000) as USD with exactly 6 decimals,
 * from the integer itself (no floating-point division): 450 → "0.000450", -1_500_000 → "-1.500000".
 * @throws RangeError if `microUsd` is not a safe integer.
 */
export function formatMicroUsd(microUsd: number): string {
  if (!Number.isSafeInteger(microUsd)) throw new RangeError(`expected an integer amount of micro-USD, got ${microUsd}`);
  const abs = BigInt(Math.abs(microUsd));
  const whole = abs / 1_000_000n;
  const frac = (abs % 1_000_000n).toString().padStart(6, '0');
  return `${microUsd < 0 ? '-' : ''}${whole}.${frac}`;
}

/**
 * Formats an integer amount of nano-USD (1 USD = 1e9) as USD with exactly 9 decimals, from the
 * integer itself: 450 → "0.000000450", -1_500_000_000 → "-1.500000000".
 * @throws RangeError if `nanoUsd` is not a safe integer.
 */
export function formatNanoUsd(nanoUsd: number): string {
  if (!Number.isSafeInteger(nanoUsd)) throw new RangeError(`expected an integer amount of nano-USD, got ${nanoUsd}`);
  const abs = BigInt(Math.abs(nanoUsd));
  const frac = (abs % 1_000_000_000n).toString().padStart(9, '0');
  return `${nanoUsd < 0 ? '-' : ''}${abs / 1_000_000_000n}.${frac}`;
}
