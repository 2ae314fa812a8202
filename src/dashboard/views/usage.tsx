/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import { compact, duration, grouped, usd, when } from '../format.js';
import type { ApiGet, List, RequestJson, UsageRowJson } from '../data.js';
import { ChartBox, filterQuery, Table, type Column, type FilterChoices, type FilterState } from './parts.js';

/**
 * The usage sections both a user and an admin see: usage by model, endpoint (and, for admins, user)
 * and day over the filtered period, as charts with their tables, and the recent calls.
 */

/** The period's usage grouped several ways, the recent rows, and the choices for the filter selects. */
export interface UsageData {
  total: UsageRowJson;
  byModel: UsageRowJson[];
  byEndpoint: UsageRowJson[];
  byDay: UsageRowJson[];
  byUser?: UsageRowJson[];
  recent: RequestJson[];
  choices: FilterChoices;
}

/** Reads the usage sections' data through the read API; `admin` adds usage by user and the user filter. */
export async function loadUsage(api: ApiGet, s: FilterState, admin: boolean, recentLimit: number): Promise<UsageData> {
  const q = filterQuery(s);
  const group = (by: string, query = q) =>
    api<List<UsageRowJson>>('/tollgate/v1/usage', { ...query, group_by: by }).then((r) => r.data);
  const unfiltered = { period: s.period, company: s.company };
  const [total, byModel, byEndpoint, byDay, byUser, recent, models, endpoints] = await Promise.all([
    group('none'),
    group('model'),
    group('endpoint'),
    group('day'),
    admin ? group('user') : Promise.resolve(undefined),
    api<List<RequestJson>>('/tollgate/v1/requests', { ...q, limit: String(recentLimit) }).then((r) => r.data),
    group('model', unfiltered),
    group('endpoint', unfiltered),
  ]);
  const users = admin
    ? (await group('user', unfiltered)).map((r) => r.key).filter((k): k is string => k !== null)
    : undefined;
  const keys = (rows: UsageRowJson[]) => rows.map((r) => r.key).filter((k): k is string => k !== null);
  return {
    total: total[0]!,
    byModel,
    byEndpoint,
    byDay,
    byUser,
    recent,
    choices: { users, models: keys(models), endpoints: keys(endpoints) },
  };
}

const byTokens = (rows: UsageRowJson[]) => [...rows].sort((a, b) => b.total_tokens - a.total_tokens);

function groupColumns(title: string): Column<UsageRowJson>[] {
  return [
    { title, cell: (r) => r.key ?? '(none)' },
    { title: 'Requests', cell: (r) => grouped(r.requests), num: true },
    {
      title: 'Tokens',
      cell: (r) => (
        <span data-value={String(r.total_tokens)} title={grouped(r.total_tokens)}>
          {compact(r.total_tokens)}
        </span>
      ),
      num: true,
    },
    {
      title: 'Cost',
      cell: (r) => <span data-value={String(r.cost_micro_usd)}>{usd(r.cost_micro_usd)}</span>,
      num: true,
    },
    { title: 'Errors', cell: (r) => grouped(r.errors), num: true },
  ];
}

/** One breakdown: a chart of tokens per group, and its table. */
function Breakdown(props: {
  name: string;
  title: string;
  column: string;
  rows: UsageRowJson[];
  type: 'bar' | 'doughnut';
}) {
  const rows = byTokens(props.rows);
  return (
    <section class="panel" aria-labelledby={`h-${props.name}`}>
      <h2 id={`h-${props.name}`}>{props.title}</h2>
      <ChartBox
        name={props.name}
        label={`${props.title}: tokens per ${props.column.toLowerCase()}`}
        type={props.type}
        labels={rows.map((r) => r.key ?? '(none)')}
        series={[{ label: 'Tokens', data: rows.map((r) => r.total_tokens) }]}
      />
      <Table caption={props.title} name={props.name} columns={groupColumns(props.column)} rows={rows} />
    </section>
  );
}

/** Usage by day (a line), then by model, endpoint and (admins) user. */
export function UsageSections(props: { data: UsageData }) {
  const d = props.data;
  return (
    <div class="grid-2">
      <section class="panel wide" aria-labelledby="h-by-day">
        <h2 id="h-by-day">Tokens per day (UTC)</h2>
        <ChartBox
          name="by-day"
          label="Tokens per day"
          type="bar"
          labels={d.byDay.map((r) => r.key ?? '')}
          series={[{ label: 'Tokens', data: d.byDay.map((r) => r.total_tokens) }]}
        />
      </section>
      <Breakdown name="by-model" title="Usage by model" column="Model" rows={d.byModel} type="doughnut" />
      <Breakdown name="by-endpoint" title="Usage by endpoint" column="Endpoint" rows={d.byEndpoint} type="bar" />
      {d.byUser ? <Breakdown name="by-user" title="Usage by user" column="User" rows={d.byUser} type="bar" /> : null}
    </div>
  );
}

/**
 * The recent calls, as a usage log shows them (date, user, model, endpoint, tokens, cost in USD,
 * response time, result); with `remaining`, the usage history's column: the company's tokens left
 * after each.
 */
export function RecentCalls(props: {
  rows: RequestJson[];
  timeZone: string;
  title: string;
  remaining?: boolean;
  showUser?: boolean;
}) {
  const cols: Column<RequestJson>[] = [
    { title: 'Date', cell: (r) => <time datetime={r.created_at}>{when(r.created_at, props.timeZone)}</time> },
    ...(props.showUser
      ? [{ title: 'User', cell: (r: RequestJson) => r.user_id ?? (r.key_id ? `key ${r.key_id}` : '–') }]
      : []),
    { title: 'Model', cell: (r) => r.model ?? '–' },
    { title: 'Endpoint', cell: (r) => r.endpoint },
    {
      title: 'Tokens',
      cell: (r) => <span data-value={String(r.total_tokens)}>{grouped(r.total_tokens)}</span>,
      num: true,
    },
    {
      title: 'Cost',
      cell: (r) => <span data-value={String(r.cost_micro_usd)}>{usd(r.cost_micro_usd)}</span>,
      num: true,
    },
    { title: 'Time', cell: (r) => duration(r.latency_ms), num: true },
    {
      title: 'Result',
      cell: (r) => (r.success ? <span class="res-ok">✓ ok</span> : <span class="res-fail">✗ {r.status}</span>),
    },
    ...(props.remaining
      ? [
          {
            title: 'Remaining',
            num: true,
            cell: (r: RequestJson) =>
              r.remaining_tokens === null ? (
                '–'
              ) : (
                <span data-value={String(r.remaining_tokens)}>{grouped(r.remaining_tokens)}</span>
              ),
          },
        ]
      : []),
  ];
  return (
    <section class="panel wide" aria-labelledby="h-recent" id="history">
      <h2 id="h-recent">{props.title}</h2>
      <Table
        caption={props.title}
        name="recent"
        columns={cols}
        rows={props.rows}
        empty="No requests in this period yet."
      />
    </section>
  );
}
