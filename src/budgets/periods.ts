import { localDateOf, localMidnight, type LocalDate } from '../limits/windows.js';

/**
 * Calendar periods in an IANA time zone, for recurring allocations: a `day` runs from local
 * midnight to the next, a `week` from Monday's local midnight (ISO 8601 weeks), a `month` from the
 * 1st's local midnight. Across a DST change a period is 23 or 25 hours longer or shorter, as the
 * calendar is. Instants are UTC `Date`s.
 */

/** How often a recurring allocation renews. */
export type Every = 'day' | 'week' | 'month';

/** One period: its key (`2026-11-22`, `2026-W47`, `2026-11`), its start (inclusive) and end (exclusive), UTC. */
export interface Period {
  key: string;
  start: Date;
  end: Date;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `d` moved by `days` calendar days (any sign). */
function addDays(d: LocalDate, days: number): LocalDate {
  const t = new Date(Date.UTC(d.year, d.month - 1, d.day + days));
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

/** `d` moved by `months` calendar months, its day clamped to the target month's length (Jan 31 + 1 month = Feb 28/29). */
function addMonths(d: LocalDate, months: number): LocalDate {
  const first = new Date(Date.UTC(d.year, d.month - 1 + months, 1));
  const length = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate();
  return { year: first.getUTCFullYear(), month: first.getUTCMonth() + 1, day: Math.min(d.day, length) };
}

/** Monday 1 … Sunday 7 (ISO 8601). */
const isoWeekday = (d: LocalDate) => new Date(Date.UTC(d.year, d.month - 1, d.day)).getUTCDay() || 7;

/** The first day of the period of `every` containing `d`. */
function periodStart(every: Every, d: LocalDate): LocalDate {
  if (every === 'day') return d;
  if (every === 'week') return addDays(d, 1 - isoWeekday(d));
  return { year: d.year, month: d.month, day: 1 };
}

/** `d` moved by `count` units of `unit`. */
function addUnits(d: LocalDate, unit: Every, count: number): LocalDate {
  if (unit === 'day') return addDays(d, count);
  if (unit === 'week') return addDays(d, 7 * count);
  return addMonths(d, count);
}

/** The ISO 8601 week key (`2026-W47`) of the week starting on Monday `monday`: its Thursday decides the year. */
function isoWeekKey(monday: LocalDate): string {
  const thursday = addDays(monday, 3);
  const dayOfYear =
    (Date.UTC(thursday.year, thursday.month - 1, thursday.day) - Date.UTC(thursday.year, 0, 1)) / 86_400_000 + 1;
  return `${thursday.year}-W${pad(Math.floor((dayOfYear - 1) / 7) + 1)}`;
}

function keyOf(every: Every, start: LocalDate): string {
  if (every === 'day') return `${start.year}-${pad(start.month)}-${pad(start.day)}`;
  if (every === 'week') return isoWeekKey(start);
  return `${start.year}-${pad(start.month)}`;
}

/** The period of `every` that contains `instant` in `timeZone`. */
export function periodAt(every: Every, instant: Date, timeZone: string): Period {
  const start = periodStart(every, localDateOf(instant, timeZone));
  return {
    key: keyOf(every, start),
    start: localMidnight(start, timeZone),
    end: localMidnight(addUnits(start, every, 1), timeZone),
  };
}

/** The period right after `period` (it starts where `period` ends). */
export function periodAfter(every: Every, period: Period, timeZone: string): Period {
  return periodAt(every, period.end, timeZone);
}

/**
 * The instant `count` units of `unit` after `instant` on the calendar of `timeZone`, at the same
 * local time of day (local midnight stays local midnight across a DST change; a month from the 31st
 * lands on the last day of a shorter month).
 */
export function addCalendar(instant: Date, unit: Every, count: number, timeZone: string): Date {
  const local = localDateOf(instant, timeZone);
  const midnight = localMidnight(local, timeZone);
  const timeOfDay = instant.getTime() - midnight.getTime();
  return new Date(localMidnight(addUnits(local, unit, count), timeZone).getTime() + timeOfDay);
}
