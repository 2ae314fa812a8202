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
