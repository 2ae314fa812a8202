import type { GroupBy, RequestFilter } from '../port/reader.js';
import { monthTableFor, neededDims, RAW_ONLY_FILTERS, RAW_ONLY_GROUPS } from './dimensions.js';

/** A half-open time range [since, until) of ISO 8601 UTC instants; an absent bound is open. */
export interface Span {
  since?: string;
  until?: string;
}

/**
 * Where a usage report reads each part of its window (see `planUsage`): whole UTC months from a
 * month table (reports by user, model or endpoint), whole UTC days from `usage_days`, whole UTC hours from `usage_hours`, the partial hours at either edge from the raw
 * rows, and, inside the span the rollups cover, the finished rows not folded yet.
 */
export interface UsagePlan {
  /** Month-aligned spans read from a month table (bounds at the first instant of a UTC month); only when `months` was allowed. */
  months: Span[];
  /** Day-aligned spans read from `usage_days` (bounds at UTC midnight). */
  days: Span[];
  /** Day-aligned spans subtracted: the days of a month read whole (in `months`) that lie outside the window. */
  daysOut: Span[];
  /** Hour-aligned spans read from `usage_hours`. */
  hours: Span[];
  /** Hour-aligned spans subtracted: the hours of a day read whole (in `days`) that lie outside the window. */
  hoursOut: Span[];
  /** Spans read from every finished raw row (the partial hours at the edges). */
  raw: Span[];
  /** The span the rollup parts cover, in which finished rows not folded yet are read raw; null when none. */
  covered: Span | null;
}

const HOUR = 3_600_000;
const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();
const floorTo = (ms: number, unit: number) => Math.floor(ms / unit) * unit;
const ceilTo = (ms: number, unit: number) => Math.ceil(ms / unit) * unit;

/**
 * Splits a report's window into rollup and raw parts. Rollups hold whole UTC hours (and days), so
 * a window starting at local midnight in a zone with a whole-hour offset reads no raw row at all;
 * a window starting at an arbitrary instant (`period=7d` is "the last 7 × 24 h") reads the partial
 * hour at each edge raw — at most two hours of one company's rows, found by index. `group_by=hour`
 * reads hours only; otherwise whole days come from `usage_days` (24 times fewer rows).
 * A filter or grouping by spend tag or end user (not rollup dimensions), or a filter naming '' for
 * a dimension, is answered from raw rows alone (the rollups keep a missing
 * dimension as ''). Before `archivedBefore` (the latest archive run's cut-off, ISO UTC) the raw
 * rows are gone: an edge there is widened to its whole hour, read from the rollups.
 * A day partly inside the window is read as its hours inside, or as the whole day minus its hours
 * outside (`hoursOut`) when those are fewer: a 90-day window starting at 05:30 reads 5 hours, not 18.
 * When a month table keeps what the report needs (`monthTableFor`) and it is not by day or hour, the whole
 * UTC calendar months inside the days are read from the month table instead (about 30 times fewer
 * rows), the days of the partial months at either edge from the day table.
 */
export function planUsage(filter: RequestFilter, groupBy: GroupBy, archivedBefore: string | null = null): UsagePlan {
  const whole: Span = {
    ...(filter.since !== undefined ? { since: filter.since } : {}),
    ...(filter.until !== undefined ? { until: filter.until } : {}),
  };
  const rawOnly: UsagePlan = {
    months: [],
    days: [],
    daysOut: [],
    hours: [],
    hoursOut: [],
    raw: [whole],
    covered: null,
  };
  // Spend tags and end users are not rollup dimensions: a report on either reads the raw rows.
  if (RAW_ONLY_GROUPS.includes(groupBy) || RAW_ONLY_FILTERS.some((k) => filter[k] !== undefined)) return rawOnly;
  for (const key of ['companyId', 'userId', 'keyId', 'model', 'endpoint', 'feature'] as const)
    if (filter[key] === '') return rawOnly;
  const since = filter.since === undefined ? undefined : Date.parse(filter.since);
  const until = filter.until === undefined ? undefined : Date.parse(filter.until);
  // Before the archive cut-off only the rollups remain: an edge there widens to its whole hour.
  const cut = archivedBefore === null ? -Infinity : Date.parse(archivedBefore);
  const h0 = since === undefined ? -Infinity : since < cut ? floorTo(since, HOUR) : ceilTo(since, HOUR);
  const h1 = until === undefined ? Infinity : until <= cut ? ceilTo(until, HOUR) : floorTo(until, HOUR);
  if (h0 >= h1) return rawOnly;

  const plan: UsagePlan = {
    months: [],
    days: [],
    daysOut: [],
    hours: [],
    hoursOut: [],
    raw: [],
    covered: span(h0, h1),
  };
  if (since !== undefined && since < h0) plan.raw.push(span(since, h0));
  if (until !== undefined && h1 < until) plan.raw.push(span(h1, until));
  if (groupBy === 'hour') {
    plan.hours.push(span(h0, h1));
    return plan;
  }
  const d0 = h0 === -Infinity ? -Infinity : ceilTo(h0, DAY);
  const d1 = h1 === Infinity ? Infinity : floorTo(h1, DAY);
  if (d0 >= d1) {
    plan.hours.push(span(h0, h1));
    return plan;
  }
  // A day partly in the window: its hours inside, or the whole day minus its hours outside when fewer.
  let lo = d0;
  let hi = d1;
  if (h0 < d0) {
    if (h0 - (d0 - DAY) < d0 - h0) {
      lo = d0 - DAY;
      plan.hoursOut.push(span(lo, h0));
    } else plan.hours.push(span(h0, d0));
  }
  if (d1 < h1) {
    if (d1 + DAY - h1 < h1 - d1) {
      hi = d1 + DAY;
      plan.hoursOut.push(span(h1, hi));
    } else plan.hours.push(span(d1, h1));
  }
  if (groupBy !== 'day' && monthTableFor(neededDims(filter, groupBy)) !== undefined) monthsAndDays(plan, lo, hi);
  else plan.days.push(span(lo, hi));
  return plan;
}

/**
 * Covers the whole days [d0, d1) with whole UTC months and days, reading as few rows as it can: a
 * month partly inside the window is read as its days inside, or as the whole month minus its days
 * outside (`daysOut`) when those are fewer — so a 90-day window reads at most about 15 days at each
 * edge, 3 or 4 month rows and, in the current month, the days so far (no row lies in the future).
 */
function monthsAndDays(plan: UsagePlan, d0: number, d1: number): void {
  const first = d0 === -Infinity ? -Infinity : nextMonth(d0);
  const last = d1 === Infinity ? Infinity : monthOf(d1);
  if (first > last) {
    // Both edges in one month: its days inside, or the month minus the days outside.
    const m0 = monthOf(d0);
    const m1 = nextMonth(m0 + DAY);
    if (d0 - m0 + (m1 - d1) < d1 - d0) {
      plan.months.push(span(m0, m1));
      if (m0 < d0) plan.daysOut.push(span(m0, d0));
      if (d1 < m1) plan.daysOut.push(span(d1, m1));
    } else plan.days.push(span(d0, d1));
    return;
  }
  let lo = first;
  let hi = last;
  if (d0 < first) {
    const m0 = monthOf(d0);
    if (d0 - m0 < first - d0) {
      lo = m0;
      if (m0 < d0) plan.daysOut.push(span(m0, d0));
    } else plan.days.push(span(d0, first));
  }
  if (last < d1) {
    const m1 = nextMonth(d1);
    if (m1 - d1 < d1 - last) {
      hi = m1;
      if (d1 < m1) plan.daysOut.push(span(d1, m1));
    } else plan.days.push(span(last, d1));
  }
  if (lo < hi) plan.months.push(span(lo, hi));
}

/** The first instant of the UTC month holding `ms`. */
function monthOf(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** `ms` when it starts a UTC month, else the first instant of the next month. */
function nextMonth(ms: number): number {
  const m = monthOf(ms);
  if (m === ms) return ms;
  const d = new Date(m);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

function span(from: number, to: number): Span {
  return {
    ...(Number.isFinite(from) ? { since: iso(from) } : {}),
    ...(Number.isFinite(to) ? { until: iso(to) } : {}),
  };
}
