/**
 * Numbers and instants formatted for people on the dashboard: exact figures (1,045,881 tokens,
 * never a bare "1M"). Exact values stay available to scripts and tests in `data-value` attributes;
 * these are the visible text. Instants are formatted here in a given time zone; the client script
 * rewrites them in the viewer's (public/dashboard/dashboard.js), in the same format.
 */

/** A count with thousands separators: 1,234,567. */
export function grouped(n: number): string {
  return n.toLocaleString('en-US');
}

/**
 * Micro-USD as dollars: $1,234.56 from one dollar up, else two significant digits ($0.12,
 * $0.0049, $0.000015); $0 for nothing.
 */
export function usd(microUsd: number): string {
  if (microUsd === 0) return '$0';
  const v = microUsd / 1e6;
  const sign = v < 0 ? '-' : '';
  const abs = Math.abs(v);
  if (abs >= 1) return `${sign}$${abs.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  // Integer micro-USD: the smallest amount is 0.000001, which JavaScript still prints without an exponent.
  return `${sign}$${Number(abs.toPrecision(2)).toString()}`;
}

/**
 * How the dashboard writes an instant (`Intl.DateTimeFormat` options, locale `en-US`), zone aside:
 * `Nov 30, 2026, 19:13 CET`. The page hands it to the client script (a `<meta>` in the layout), which
 * writes every instant again in the viewer's zone with the same options.
 */
export const TIME_FORMAT: Intl.DateTimeFormatOptions = {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
  timeZoneName: 'short',
};

const formatters = new Map<string, Intl.DateTimeFormat>();

/** An instant in `timeZone` (an IANA name) as `TIME_FORMAT` writes it; `never` for null. */
export function when(iso: string | null, timeZone: string): string {
  if (iso === null) return 'never';
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { ...TIME_FORMAT, timeZone });
    formatters.set(timeZone, f);
  }
  return f.format(new Date(iso));
}

/** A share as a percentage with one decimal: 24.5%. */
export function percent(fraction: number): string {
  return `${(Math.round(fraction * 1000) / 10).toFixed(1)}%`;
}

/** Milliseconds for people: 412 ms, 1.3 s; a dash for null. */
export function duration(ms: number | null): string {
  if (ms === null) return '–';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
