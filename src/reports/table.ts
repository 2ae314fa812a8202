/** A column of a text table: its title, how to print a row's cell, and whether it is right-aligned (numbers). */
export interface Column<T> {
  title: string;
  cell: (row: T) => string;
  numeric?: boolean;
}

/** An integer with thousands separators, for tables: 1039485 → "1,039,485"; null → "-". */
export function int(n: number | null | undefined): string {
  return n === null || n === undefined ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: 0 });
}

/**
 * Formats rows as a fixed-width text table for a terminal: a title line, a rule, one line per row;
 * numeric columns right-aligned. An empty list prints "(no rows)".
 */
export function formatTable<T>(columns: readonly Column<T>[], rows: readonly T[]): string {
  if (rows.length === 0) return '(no rows)\n';
  const cells = rows.map((r) => columns.map((c) => c.cell(r)));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (columns[i]!.numeric ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return (
    [line(columns.map((c) => c.title)), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n') +
    '\n'
  );
}
