/**
 * Exact money from OpenAI's costs API. `amount.value` is documented as a JSON number
 * (openai/openai-openapi, schema `CostsResult`; some clients see it as a decimal string), and a
 * double cannot hold most decimal fractions: 0.0405 parsed by `JSON.parse` is 0.04049999…, so the
 * amounts are taken from the response text itself and converted with integer arithmetic.
 */

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/**
 * Converts a decimal amount of USD, as text (`"0.06"`, `"1850.00"`, `"4.05e-7"`, `"-3"`), to
 * integer nano-USD (1 USD = 1e9), rounded half away from zero at the 9th decimal: OpenAI's amounts
 * carry up to 17 significant digits, the ledger's are exact to the nano-USD, so a comparison is
 * exact to ½ nano-USD per amount converted.
 * @throws RangeError for text that is not a decimal number, an exponent beyond ±400, or a result
 * beyond 2^53 nano-USD (about 9 million USD).
 */
export function nanoUsdOf(text: string): number {
  const m = DECIMAL.exec(text.trim());
  if (!m) throw new RangeError(`not a decimal amount: "${text}"`);
  const [, sign, whole, frac = '', exp = '0'] = m;
  const exponent = Number(exp) - frac.length + 9;
  if (Math.abs(exponent) > 400) throw new RangeError(`amount out of range: "${text}"`);
  const digits = BigInt(`${whole}${frac}`);
  let nano: bigint;
  if (exponent >= 0) nano = digits * 10n ** BigInt(exponent);
  else {
    const divisor = 10n ** BigInt(-exponent);
    nano = digits / divisor;
    if ((digits % divisor) * 2n >= divisor) nano += 1n;
  }
  if (nano > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`amount out of range: "${text}"`);
  return sign && nano !== 0n ? -Number(nano) : Number(nano);
}

/** A JSON number literal (RFC 8259 §6). */
const NUMBER = '-?(?:0|[1-9]\\d*)(?:\\.\\d+)?(?:[eE][+-]?\\d+)?';
const VALUE_MEMBER = new RegExp(`("value"\\s*:\\s*)(${NUMBER})`, 'g');

/**
 * Parses a JSON text in which every number under a `"value"` key is kept as its exact text (a
 * string). In valid JSON a `"value"` followed by `:` is always an object key — a quote inside a
 * string is escaped — so no string's content is changed.
 * @throws SyntaxError when the text is not JSON.
 */
export function parseKeepingValues(text: string): unknown {
  return JSON.parse(text.replace(VALUE_MEMBER, '$1"$2"'));
}
