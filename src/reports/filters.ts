export type { RequestFilter } from '../ledger/port.js';

/** The fixed look-back windows: 7, 30 or 90 days of 24 h before "now". */
export const PERIODS = { '7d': 7, '30d': 30, '90d': 90 } as const;
export type Period = keyof typeof PERIODS;

/** A time window as given on the command line: a period back from `now`, or explicit bounds. */
export interface WindowSpec {
  period?: Period;
  since?: string;
  until?: string;
}

const OFFSET = /(Z|[+-]\d\d:\d\d)$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Parses an instant given by a user into ISO 8601 UTC (`2026-11-24T00:00:00.000Z`). Accepts an
 * instant with an explicit offset, or a bare date (`2026-11-24`, midnight UTC).
 * @throws Error naming `what` when the text is neither.
 */
export function parseInstant(text: string, what: string): string {
  const ms = Date.parse(text);
  if ((!OFFSET.test(text) && !DATE_ONLY.test(text)) || Number.isNaN(ms)) {
    throw new Error(
      `${what}: expected an ISO 8601 instant with an offset (2026-11-24T00:00:00Z) or a date (2026-11-24), got "${text}"`,
    );
  }
  return new Date(ms).toISOString();
}

/**
 * Resolves a window to `since`/`until` (ISO UTC). A period `Nd` means since `now` − N × 24 h,
 * with no upper bound; `since` and `until` are parsed with `parseInstant`. A period and explicit
 * bounds together are refused.
 * @throws Error on a bad instant, an unknown period, or a period combined with since/until.
 */
export function resolveWindow(spec: WindowSpec, now: Date): { since?: string; until?: string } {
  if (spec.period !== undefined) {
    if (spec.since !== undefined || spec.until !== undefined)
      throw new Error('give either a period or since/until, not both');
    const days = PERIODS[spec.period];
    if (days === undefined)
      throw new Error(`period: expected one of ${Object.keys(PERIODS).join(', ')}, got "${spec.period}"`);
    return { since: new Date(now.getTime() - days * 86_400_000).toISOString() };
  }
  return {
    ...(spec.since !== undefined ? { since: parseInstant(spec.since, 'since') } : {}),
    ...(spec.until !== undefined ? { until: parseInstant(spec.until, 'until') } : {}),
  };
}
