/**
 * Exact money arithmetic for prices: a price is a decimal (USD per 1M tokens, per image, per
 * second…), read from the digits it is written with, never multiplied as a float. A row's cost is
 * a sum of quantity × price ÷ unit terms kept as one fraction and rounded once, half up, to
 * integer nano-USD (1 USD = 1e9).
 */

/** A decimal `units` × 10^−`scale` (scale ≥ 0). */
export interface Decimal {
  units: bigint;
  scale: number;
}

const cache = new Map<number, Decimal>();

/**
 * The decimal a JS number is written as: its shortest round-trip digits (`String(n)`, what JSON
 * and config files hold: `0.175` → 175 × 10^−3, `1e-7` → 1 × 10^−7). Exact for every literal of
 * up to 15 significant digits.
 * @throws RangeError for a negative, NaN or infinite number.
 */
export function decimalOf(n: number): Decimal {
  const hit = cache.get(n);
  if (hit) return hit;
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`not a price: ${n}`);
  const [mantissa, exp = '0'] = String(n).split('e');
  const [whole, frac = ''] = mantissa!.split('.');
  let units = BigInt(`${whole}${frac}`);
  let scale = frac.length - Number(exp);
  if (scale < 0) {
    units *= 10n ** BigInt(-scale);
    scale = 0;
  }
  const d = { units, scale };
  if (cache.size < 10_000) cache.set(n, d);
  return d;
}

const gcd = (a: bigint, b: bigint): bigint => {
  while (b) {
    const r = a % b;
    a = b;
    b = r;
  }
  return a;
};

/** 10^0 … 10^40 as BigInts, made once (every cost term divides by one). */
const POW10: readonly bigint[] = Array.from({ length: 41 }, (_, i) => 10n ** BigInt(i));
const pow10 = (n: number): bigint => POW10[n] ?? 10n ** BigInt(n);

/** A non-negative fraction being summed: terms are added exactly, then `nano()` rounds once. */
export class ExactSum {
  private num = 0n;
  private den = 1n;

  /** Adds `quantity` × `price` ÷ `per` (quantity and price as numbers written in decimal; `per` a whole divisor such as 1e6 tokens). */
  add(quantity: number, price: number | undefined, per: bigint): this {
    if (!quantity || !price) return this;
    const q = decimalOf(quantity);
    const p = decimalOf(price);
    return this.addFraction(q.units * p.units, pow10(q.scale + p.scale) * per);
  }

  /** Adds `num` ÷ `den` USD. */
  addFraction(num: bigint, den: bigint): this {
    if (num === 0n) return this;
    if (den === this.den) this.num += num;
    else {
      this.num = this.num * den + num * this.den;
      this.den *= den;
      const g = gcd(this.num, this.den);
      if (g > 1n) {
        this.num /= g;
        this.den /= g;
      }
    }
    return this;
  }

  /** Multiplies the sum by `num` ÷ `den` (a discount's `1 − batchDiscount`). */
  scaleFraction(num: bigint, den: bigint): this {
    this.num *= num;
    this.den *= den;
    return this;
  }

  /** The sum in nano-USD, rounded once, half up. */
  nano(): bigint {
    return (this.num * 1_000_000_000n * 2n + this.den) / (2n * this.den);
  }
}

/** Tokens per price unit of a token price (USD per 1M tokens). */
export const PER_MILLION = 1_000_000n;
/** Calls per price unit of a per-call fee (USD per 1,000 calls). */
export const PER_THOUSAND = 1_000n;

/**
 * A USD-per-1M-tokens price as integer pico-USD per token (1e-12 USD), rounded up: what a hold
 * reserves per token. Exact for prices with at most 6 decimals.
 */
export function picoPerTokenCeil(usdPerMillion: number): number {
  const d = decimalOf(usdPerMillion);
  // pico per token = usdPerMillion × 1e6 = units × 10^(6 − scale)
  if (d.scale <= 6) return Number(d.units * 10n ** BigInt(6 - d.scale));
  const div = 10n ** BigInt(d.scale - 6);
  return Number((d.units + div - 1n) / div);
}
