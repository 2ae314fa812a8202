/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import { duration, grouped, usd } from '../format.js';
import {
  SHOWN_GROUPS,
  unlessUnavailable,
  withRest,
  type ApiGet,
  type List,
  type RequestJson,
  type UsageRowJson,
} from '../data.js';
import {
  ChartBox,
  filterQuery,
  Table,
  Time,
  Zone,
  type Column,
  type FilterChoices,
  type FilterState,
} from './parts.js';

/**
 * The usage sections both a user and an admin see: usage by model, endpoint (and, for admins, user)
 * and day over the filtered period, as charts with their tables, and the recent calls. Days are the
 * viewer's: the period's usage is read per UTC hour and added up by the client script.
 */

/** The period's usage grouped several ways, the recent rows, and the choices for the filter selects. */
export interface UsageData {
  total: UsageRowJson;
  byModel: UsageRowJson[];
  byEndpoint: UsageRowJson[];
  /** Usage per UTC hour (`key`: `2026-11-30T19:00Z`), for the chart of tokens per local day. */
  byHour: UsageRowJson[];
  /** The period's start (ISO 8601 UTC), as the read API resolved it. */
  since: string | null;
  byUser?: UsageRowJson[];
  /**
   * By spend tag: a request with several tags counts in each, untagged ones under a null key;
   * `null` when the read API could not sum it within its read budget (tags are summed from raw rows).
   */
  byTag: UsageRowJson[] | null;
  /** By end user (admins): the app's own users, as the ledger stores them; `null` as for `byTag`. */
  byEndUser?: UsageRowJson[] | null;
  recent: RequestJson[];
  choices: FilterChoices;
}

/** Reads the usage sections' data through the read API; `admin` adds usage by user and the user filter. */
export async function loadUsage(api: ApiGet, s: FilterState, admin: boolean, recentLimit: number): Promise<UsageData> {
  const q = filterQuery(s);
  const group = (by: string, query: Record<string, string | undefined> = q) =>
    api<List<UsageRowJson>>('/tollgate/v1/usage', { ...query, group_by: by }).then((r) => r.data);
  // By user: the most active ones only (a company may have thousands); the rest are summed from the total below.
  const top = (query: Record<string, string | undefined>, n: number) => group('user', { ...query, limit: String(n) });
  const unfiltered = { period: s.period, company: s.company };
  const [total, byModel, byEndpoint, hourly, byUser, byTag, byEndUser, recent, models, endpoints, tags] =
    await Promise.all([
      group('none'),
      group('model'),
      group('endpoint'),
      api<List<UsageRowJson> & { since: string | null }>('/tollgate/v1/usage', { ...q, group_by: 'hour' }),
      admin ? top(q, SHOWN_GROUPS) : Promise.resolve(undefined),
      // The most used tags and end users, like users (a company may have thousands of either).
      unlessUnavailable(group('tag', { ...q, limit: String(SHOWN_GROUPS) })),
      admin ? unlessUnavailable(group('end_user', { ...q, limit: String(SHOWN_GROUPS) })) : Promise.resolve(undefined),
      api<List<RequestJson>>('/tollgate/v1/requests', { ...q, limit: String(recentLimit) }).then((r) => r.data),
      group('model', unfiltered),
      group('endpoint', unfiltered),
      unlessUnavailable(group('tag', { ...unfiltered, limit: String(4 * SHOWN_GROUPS) })),
    ]);
  // The users a filter offers: the most active ones.
  const users = admin
    ? (await top(unfiltered, 4 * SHOWN_GROUPS)).map((r) => r.key).filter((k): k is string => k !== null)
    : undefined;
  const keys = (rows: UsageRowJson[]) => rows.map((r) => r.key).filter((k): k is string => k !== null);
  return {
    total: total[0]!,
    byModel,
    byEndpoint,
    byHour: hourly.data,
    since: hourly.since,
    byUser: byUser && withRest(byUser, total[0]!),
    byTag,
    // A request has one end user (or none): the rest sum up like users'. Tags overlap, so they do not.
    byEndUser: byEndUser && withRest(byEndUser, total[0]!),
    recent,
    choices: { users, models: keys(models), endpoints: keys(endpoints), tags: keys(tags ?? []).sort() },
  };
}

const byTokens = (rows: UsageRowJson[]) => [...rows].sort((a, b) => b.total_tokens - a.total_tokens);

function groupColumns(title: string): Column<UsageRowJson>[] {
  return [
    { title, cell: (r) => r.key ?? '(none)' },
    { title: 'Requests', cell: (r) => grouped(r.requests), num: true },
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
        data={{
          labels: rows.map((r) => r.key ?? '(none)'),
          series: [{ label: 'Tokens', data: rows.map((r) => r.total_tokens) }],
        }}
      />
      <Table caption={props.title} name={props.name} columns={groupColumns(props.column)} rows={rows} />
    </section>
  );
}

/** What a breakdown summed from raw rows says when it took longer than the ledger's read budget. */
const UNAVAILABLE =
  'Not shown for this period: it is summed from every request in it, which took longer than the ledger allows a report. Choose a shorter period.';

/** A breakdown as a table alone (groups sorted by tokens), `none` naming the null group; nothing when there are no groups. */
function GroupTable(props: {
  name: string;
  title: string;
  column: string;
  none: string;
  note?: string;
  /** `null`: not summed within the read budget (said so in the panel). */
  rows: UsageRowJson[] | null;
}) {
  if (props.rows === null)
    return (
      <section class="panel" aria-labelledby={`h-${props.name}`} data-unavailable="">
        <h2 id={`h-${props.name}`}>{props.title}</h2>
        <p class="sub">{UNAVAILABLE}</p>
      </section>
    );
  if (props.rows.length === 0) return null;
  const rows = byTokens(props.rows).map((r) => (r.key === null ? { ...r, key: props.none } : r));
  return (
    <section class="panel" aria-labelledby={`h-${props.name}`}>
      <h2 id={`h-${props.name}`}>{props.title}</h2>
      {props.note ? <p class="sub">{props.note}</p> : null}
      <Table caption={props.title} name={props.name} columns={groupColumns(props.column)} rows={rows} />
    </section>
  );
}

/**
 * Usage by day (in the viewer's time zone, named in the heading), then by model, endpoint, spend tag
 * and (admins) user and end user: one refreshed region (`usage`).
 */
export function UsageSections(props: { data: UsageData; timeZone: string }) {
  const d = props.data;
  return (
    <div class="grid-2" data-region="usage">
      <section class="panel wide" aria-labelledby="h-by-day">
        <h2 id="h-by-day">
          Tokens per day{' '}
          <span class="zone">
            (<Zone timeZone={props.timeZone} />)
          </span>
        </h2>
        <ChartBox
          name="by-day"
          label="Tokens per day"
          type="bar"
          data={{
            hours: d.byHour.filter((r) => r.key !== null).map((r) => [r.key!, r.total_tokens]),
            since: d.since,
            label: 'Tokens',
          }}
        />
      </section>
      <Breakdown name="by-model" title="Usage by model" column="Model" rows={d.byModel} type="doughnut" />
      <Breakdown name="by-endpoint" title="Usage by endpoint" column="Endpoint" rows={d.byEndpoint} type="bar" />
      {d.byUser ? <Breakdown name="by-user" title="Usage by user" column="User" rows={d.byUser} type="bar" /> : null}
      <GroupTable
        name="by-tag"
        title="Usage by tag"
        column="Tag"
        none="(untagged)"
        note="A request with several tags counts under each of them."
        rows={d.byTag}
      />
      {d.byEndUser !== undefined ? (
        <GroupTable name="by-end-user" title="Usage by end user" column="End user" none="(none)" rows={d.byEndUser} />
      ) : null}
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
    { title: 'Date', cell: (r) => <Time iso={r.created_at} timeZone={props.timeZone} /> },
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
    <section class="panel wide" aria-labelledby="h-recent" id="history" data-region="recent">
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
