import type { GroupBy, RequestFilter, UsagePage, UsageRow } from '../port/reader.js';
import {
  GROUP_DIMENSION,
  MEASURE_COLUMNS,
  monthTableFor,
  neededDims,
  RAW_ONLY_FILTERS,
  RAW_ONLY_GROUPS,
  ROLLUP_DIMENSIONS,
  type RollupTable,
  rollupMeasures,
  tableFor,
} from './dimensions.js';
import type { Span, UsagePlan } from './plan.js';

/** What differs between engines in a usage query (each adapter gives one). */
export interface UsageDialect {
  /** The n-th (1-based) parameter placeholder: `?` or `$n`. */
  param(n: number): string;
  /** The group key over a rollup table aliased `t` (`day`: usage_days, `hour`: usage_hours), or over raw rows `r` (`raw`). */
  key(groupBy: 'day' | 'hour', table: 'day' | 'hour' | 'raw'): string;
  /** A bound's parameter value for a `month`, `day` or `hour` column or `created_at`, from an ISO 8601 UTC instant (a month's or day's first instant for those). */
  bound(table: 'month' | 'day' | 'hour' | 'raw', iso: string): unknown;
  /** A row's latency rounded to whole µs, over `r.latency_ms` (not NULL). */
  latencyUs: string;
  /**
   * The finished raw rows not folded into the rollups yet, one part each: its `FROM` (the `requests`
   * table as `r`, with any index hint) and its condition. Few rows, found by the fold-order index.
   */
  unfolded: readonly { from: string; where: string }[];
  /** `(Σ nano-USD + 500) / 1000` in integer arithmetic, over `expr`. */
  microOfNano(expr: string): string;
  /** How a key sorts: bytewise, NULL first. */
  orderKey(expr: string): string;
  /** The condition that raw row `r` carries the spend tag in parameter `param` (one of the JSON array `r.tags`). */
  hasTag(param: string): string;
  /** The join giving one row per tag of `r` as `tg.value` (a row without tags: one, with NULL): what `group_by=tag` sums. */
  eachTag: string;
  /**
   * A query listing every company with a rollup row, when the engine needs one to read a report
   * over every company by the rollups' primary keys (which lead with the company): added as
   * `t.company_id IN (…)`, it turns a scan of the whole table into one seek per company.
   */
  everyCompany?: string;
}

/** A query and its parameters. */
export interface Sql {
  text: string;
  params: unknown[];
}

/**
 * The one SQL statement (one snapshot) answering `usage(filter, groupBy)` by `plan`: each part
 * summed per group, then the parts summed; with `top`, only the `top` groups with the most tokens
 * (then by key); with `page`, the groups after its `offset` in that order, at most `top` (or its
 * `limit`) of them. Columns: `key`, `companyId`, the rollup measures, and `cost_micro_usd` (Σ nano-USD
 * rounded once, half up).
 */
export function usageSql(
  d: UsageDialect,
  filter: RequestFilter,
  groupBy: GroupBy,
  plan: UsagePlan,
  top?: number,
  page?: UsagePage,
): Sql {
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return d.param(params.length);
  };
  const raw = rollupMeasures(d.latencyUs);
  const keys = (table: 'month' | 'day' | 'hour' | 'raw') => {
    const alias = table === 'raw' ? 'r' : 't';
    const dim = GROUP_DIMENSION[groupBy];
    const column = (name: string) =>
      table === 'raw' ? `r.${ROLLUP_DIMENSIONS.find((x) => x.column === name)!.source}` : `NULLIF(t.${name}, '')`;
    const timeKey = (g: 'day' | 'hour', t: typeof table) => {
      if (t === 'month') throw new Error(`usage by ${g} reads no month table`);
      return d.key(g, t);
    };
    if (table !== 'raw' && RAW_ONLY_GROUPS.includes(groupBy))
      throw new Error(`usage by ${groupBy} reads raw rows only`);
    const key =
      groupBy === 'none'
        ? 'NULL'
        : groupBy === 'day' || groupBy === 'hour'
          ? timeKey(groupBy, table)
          : groupBy === 'tag'
            ? 'tg.value'
            : groupBy === 'end_user'
              ? 'r.end_user'
              : column(dim!);
    return { key, company: groupBy === 'user' || groupBy === 'end_user' ? `${alias}.company_id` : 'NULL' };
  };
  const dims = (alias: 't' | 'r') => {
    if (alias === 't' && RAW_ONLY_FILTERS.some((k) => filter[k] !== undefined))
      throw new Error('a usage filter on a tag or an end user reads raw rows only');
    const conds = ROLLUP_DIMENSIONS.flatMap((x) => {
      const v = filter[x.filter];
      return v === undefined ? [] : [`${alias}.${alias === 't' ? x.column : x.source} = ${p(v)}`];
    });
    if (alias === 't' && filter.companyId === undefined && d.everyCompany)
      conds.unshift(`t.company_id IN (${d.everyCompany})`);
    if (alias === 'r' && filter.endUser !== undefined) conds.push(`r.end_user = ${p(filter.endUser)}`);
    if (alias === 'r' && filter.tag !== undefined) conds.push(d.hasTag(p(filter.tag)));
    return conds;
  };
  const range = (column: string, table: 'month' | 'day' | 'hour' | 'raw', s: Span) => [
    ...(s.since !== undefined ? [`${column} >= ${p(d.bound(table, s.since))}`] : []),
    ...(s.until !== undefined ? [`${column} < ${p(d.bound(table, s.until))}`] : []),
  ];
  const grouped = (sel: string, key: { key: string; company: string }) =>
    groupBy === 'none' ? sel : `${sel} GROUP BY ${key.key}${key.company === 'NULL' ? '' : `, ${key.company}`}`;
  const where = (conds: string[]) => (conds.length ? ` WHERE ${conds.join(' AND ')}` : '');

  // The dimensions the report filters or groups by: it reads the cheapest table that keeps them.
  const needed = neededDims(filter, groupBy);
  const tables: Record<'month' | 'day' | 'hour', () => RollupTable> = {
    month: () => {
      const t = monthTableFor(needed);
      if (!t) throw new Error(`no month table keeps ${[...needed].join(', ')}`);
      return t;
    },
    day: () => tableFor('day', needed),
    hour: () => tableFor('hour', needed),
  };
  const parts: string[] = [];
  for (const [table, spans, sign] of [
    ['month', plan.months, ''],
    ['day', plan.days, ''],
    ['day', plan.daysOut, '-'],
    ['hour', plan.hours, ''],
    ['hour', plan.hoursOut, '-'],
  ] as const) {
    for (const s of spans) {
      const k = keys(table);
      const sums = MEASURE_COLUMNS.map((m) => `${sign}sum(t.${m}) AS ${m}`).join(', ');
      const from = `${tables[table]().table} t`;
      const conds = [...dims('t'), ...range(`t.${table}`, table, s)];
      parts.push(grouped(`SELECT ${k.key} AS key, ${k.company} AS company, ${sums} FROM ${from}${where(conds)}`, k));
    }
  }
  const rawPart = (s: Span | null, from: string, extra: string | null) => {
    const k = keys('raw');
    const sums = raw.map((m) => `${m.raw} AS ${m.column}`).join(', ');
    const conds = ["r.status <> 'held'", ...dims('r'), ...(s ? range('r.created_at', 'raw', s) : [])];
    if (extra) conds.push(extra);
    return grouped(`SELECT ${k.key} AS key, ${k.company} AS company, ${sums} FROM ${from}${where(conds)}`, k);
  };
  for (const s of plan.raw) parts.push(rawPart(s, groupBy === 'tag' ? `requests r ${d.eachTag}` : 'requests r', null));
  if (plan.covered) for (const u of d.unfolded) parts.push(rawPart(plan.covered, u.from, u.where));

  const total = (m: string) => `coalesce(sum(u.${m}), 0)`;
  const outer = [
    groupBy === 'none' ? 'NULL AS key' : 'u.key AS key',
    groupBy === 'user' || groupBy === 'end_user' ? 'u.company AS "companyId"' : 'NULL AS "companyId"',
    ...MEASURE_COLUMNS.map((m) => `${total(m)} AS ${m}`),
    `${d.microOfNano(total('cost_nano_usd'))} AS cost_micro_usd`,
  ].join(', ');
  const byKey = `${groupBy === 'user' || groupBy === 'end_user' ? `${d.orderKey('u.company')}, ` : ''}${d.orderKey('u.key')}`;
  // Days (hours) subtracted from a month (day) can cancel a group out entirely: it had no request in the window.
  const having = plan.daysOut.length + plan.hoursOut.length > 0 ? ' HAVING coalesce(sum(u.requests), 0) <> 0' : '';
  const count = (n: number | undefined, least: number) =>
    n === undefined ? undefined : Math.max(least, Math.floor(n));
  const limit = count(top ?? page?.limit, 1);
  const offset = count(page?.offset, 0);
  const window = `${limit === undefined ? '' : ` LIMIT ${limit}`}${offset ? ` OFFSET ${offset}` : ''}`;
  const order =
    groupBy === 'none'
      ? ''
      : top === undefined
        ? ` GROUP BY u.company, u.key${having} ORDER BY ${byKey}${window}`
        : ` GROUP BY u.company, u.key${having} ORDER BY coalesce(sum(u.total_tokens), 0) DESC, ${byKey}${window}`;
  const union = parts.map((x, i) => `SELECT * FROM (${x}) AS p${i}`).join(' UNION ALL ');
  return { text: `SELECT ${outer} FROM (${union}) u${order}`, params };
}

/** A summed row as `usageSql` returns it (snake_case measures; numbers). */
export type UsageSums = { key: string | null; companyId: string | null; cost_micro_usd: number } & Record<
  (typeof MEASURE_COLUMNS)[number],
  number
>;

/** A `UsageRow` from summed measures; the mean latency in ms to 0.1 ms, null without any latency. */
export function usageRowOf(r: UsageSums): UsageRow {
  const count = Number(r.latency_count);
  return {
    key: r.key ?? null,
    companyId: r.companyId ?? null,
    requests: Number(r.requests),
    inputTokens: Number(r.input_tokens),
    cachedInputTokens: Number(r.cached_input_tokens),
    outputTokens: Number(r.output_tokens),
    reasoningTokens: Number(r.reasoning_tokens),
    totalTokens: Number(r.total_tokens),
    costMicroUsd: Number(r.cost_micro_usd),
    errors: Number(r.errors),
    avgLatencyMs: count > 0 ? Math.round(Number(r.latency_us) / count / 100) / 10 : null,
  };
}
