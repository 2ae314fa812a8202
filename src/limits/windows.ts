/**
 * Calendar windows in an IANA time zone, for daily and monthly quotas. A day runs from local
 * midnight to the next local midnight (23 or 25 hours across a DST change); a month from the 1st
 * at local midnight. Uses Intl's time-zone data; no library.
 */

/** A calendar date: `month` 1-12, `day` 1-31. */
export interface LocalDate {
  year: number;
  month: number;
  day: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

function localParts(instant: Date, timeZone: string): LocalDate & { hour: number; minute: number; second: number } {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(instant))
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  return { year: p.year!, month: p.month!, day: p.day!, hour: p.hour!, minute: p.minute!, second: p.second! };
}

/** The zone's offset from UTC at `instant`, in ms (positive east of Greenwich). */
function offsetMs(instant: Date, timeZone: string): number {
  const l = localParts(instant, timeZone);
  const asUtc = Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, l.second);
  return asUtc - Math.floor(instant.getTime() / 1000) * 1000;
}

/** The calendar date (year, month 1-12, day) in `timeZone` at `instant`. */
export function localDateOf(instant: Date, timeZone: string): LocalDate {
  const { year, month, day } = localParts(instant, timeZone);
  return { year, month, day };
}

/** The UTC instant of local midnight starting `date` in `timeZone`. */
export function localMidnight(date: LocalDate, timeZone: string): Date {
  const guess = Date.UTC(date.year, date.month - 1, date.day);
  // Two passes settle the offset even when midnight falls near a DST change.
  let t = guess - offsetMs(new Date(guess), timeZone);
  t = guess - offsetMs(new Date(t), timeZone);
  return new Date(t);
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** A window's key (`2026-11-22` daily, `2026-11` monthly) and the instant it resets (UTC). */
export interface WindowBounds {
  key: string;
  resetsAt: Date;
}

/** The local day containing `now` in `timeZone`, and its next local midnight. */
export function dailyWindow(now: Date, timeZone: string): WindowBounds {
  const l = localParts(now, timeZone);
  const next = new Date(Date.UTC(l.year, l.month - 1, l.day + 1));
  return {
    key: `${l.year}-${pad(l.month)}-${pad(l.day)}`,
    resetsAt: localMidnight(
      { year: next.getUTCFullYear(), month: next.getUTCMonth() + 1, day: next.getUTCDate() },
      timeZone,
    ),
  };
}

/** The local month containing `now` in `timeZone`, and local midnight of the next month's 1st. */
export function monthlyWindow(now: Date, timeZone: string): WindowBounds {
  const l = localParts(now, timeZone);
  const next = new Date(Date.UTC(l.year, l.month, 1));
  return {
    key: `${l.year}-${pad(l.month)}`,
    resetsAt: localMidnight({ year: next.getUTCFullYear(), month: next.getUTCMonth() + 1, day: 1 }, timeZone),
  };
}
