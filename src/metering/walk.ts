/**
 * The text a JSON value carries, collected without recursion (an explicit stack), so that a value
 * nested thousands of levels deep cannot overflow the call stack.
 */

/** Keys whose string values are identifiers or enums, not text the model reads. */
const NON_TEXT_KEYS = new Set([
  'type',
  'role',
  'id',
  'call_id',
  'tool_call_id',
  'detail',
  'format',
  'file_id',
  'status',
  'image_url',
  'file_data',
  'data',
  'url',
  'encrypted_content',
]);

/**
 * The strings of `value` joined by newlines, in document order: string values (except those of
 * identifier keys such as `id`, `call_id`, `type`), numbers and booleans, and, when `keys` is set
 * (schemas, whose keys the model reads), the object keys too. `''` for undefined or null.
 */
export function textOf(value: unknown, keys = true): string {
  const out: string[] = [];
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') out.push(v);
    else if (typeof v === 'number' || typeof v === 'boolean') out.push(String(v));
    else if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
    else if (v && typeof v === 'object') {
      const entries = Object.entries(v as Record<string, unknown>);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, child] = entries[i]!;
        if (child === undefined || (!keys && NON_TEXT_KEYS.has(k))) continue;
        stack.push(child);
        if (keys) stack.push(k);
      }
    }
  }
  return out.join('\n');
}
