/**
 * CSV per RFC 4180: fields separated by commas, records ended by CRLF; a field holding a comma,
 * a double quote, CR or LF is enclosed in double quotes, with its quotes doubled.
 */

/** One CSV field: null and undefined are empty, booleans `true`/`false`, numbers as JavaScript prints them. */
export function csvField(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** One CSV record, CRLF included. */
export function csvRecord(values: readonly (string | number | boolean | null | undefined)[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}

/** A whole CSV document: the header record, then one record per row. */
export function toCsv(
  header: readonly string[],
  rows: readonly (readonly (string | number | boolean | null | undefined)[])[],
): string {
  return csvRecord(header) + rows.map(csvRecord).join('');
}
