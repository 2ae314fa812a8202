/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import type { Child } from 'hono/jsx';
import { when } from '../format.js';

/**
 * Small building blocks of the dashboard's pages. Everything is rendered with hono/jsx, which
 * escapes every text and attribute value: caller data (user ids, notes, model names) is never
 * written as raw HTML. No inline styles or scripts (the Content-Security-Policy forbids them).
 */

/**
 * A summary card: a label, a big value — the exact figure, never only a compact one (`1,045,881`,
 * not `1M`) — with its number in `data-value`, and an optional line below.
 */
export function Card(props: { label: string; value: string; exact?: number | string; sub?: Child; name: string }) {
  return (
    <section class="card" data-card={props.name} aria-label={props.label}>
      <h3>{props.label}</h3>
      <p class="big" data-value={props.exact === undefined ? undefined : String(props.exact)}>
        {props.value}
      </p>
      {props.sub === undefined ? null : <p class="sub">{props.sub}</p>}
    </section>
  );
}

/** A progress bar (native `<progress>`, announced by screen readers) coloured by level. */
export function Bar(props: { fraction: number; level: 'ok' | 'warning' | 'critical'; label: string }) {
  const v = Math.round(Math.min(1, Math.max(0, props.fraction)) * 1000);
  return <progress class={`bar ${props.level}`} max="1000" value={String(v)} aria-label={props.label} />;
}

/** The level of a share used against the two thresholds (e.g. 0.8 and 0.95). */
export function levelOf(used: number, warning: number, critical: number): 'ok' | 'warning' | 'critical' {
  return used >= critical ? 'critical' : used >= warning ? 'warning' : 'ok';
}

/** One data series of a chart. */
export interface Series {
  label: string;
  data: number[];
}

/**
 * What a chart shows: `labels` and `series`, or `hours` — tokens per UTC hour (`[hour start as ISO
 * 8601, tokens]`) over the period from `since` — that the client script adds up into the
 * viewer's local days, so the chart is in the viewer's time zone like every time on the page.
 */
export type ChartData =
  | { labels: string[]; series: Series[] }
  | { hours: [string, number][]; since: string | null; label: string };

/**
 * A Chart.js chart drawn by the client script from its `data-chart` JSON (an attribute, so it is
 * escaped like any other and needs no inline script). The table next to it carries the same
 * numbers for screen readers and for people without script.
 */
export function ChartBox(props: { name: string; label: string; type: 'bar' | 'line' | 'doughnut'; data: ChartData }) {
  const spec = JSON.stringify({ type: props.type, ...props.data });
  return (
    <div class="chart">
      <canvas data-chart={spec} data-chart-name={props.name} role="img" aria-label={props.label} />
    </div>
  );
}

/**
 * An instant: written in `timeZone` by the server (`Nov 30, 2026, 19:13 CET`), then rewritten by the
 * client script in the viewer's own time zone, named the same way; `never` for null.
 */
export function Time(props: { iso: string | null; timeZone: string }) {
  return props.iso === null ? <>never</> : <time datetime={props.iso}>{when(props.iso, props.timeZone)}</time>;
}

/** The time zone the page's times are in: `timeZone` as served, the viewer's once the client script runs. */
export function Zone(props: { timeZone: string }) {
  return <span data-viewer-zone>{props.timeZone}</span>;
}

/**
 * A table column: its header, how a row renders in it, and whether it holds numbers (right-aligned,
 * never wrapped).
 */
export interface Column<R> {
  title: string;
  cell: (row: R) => Child;
  num?: boolean;
}

/**
 * A table with a caption. Text wraps inside its cells, so the table fits the width it is given; in
 * a box narrower than its columns need (a phone), each row becomes a block of `column: value`
 * lines (each cell names its column in `data-label`; CSS container query in dashboard.css). The
 * explicit ARIA roles keep it a table for screen readers in either layout.
 */
export function Table<R>(props: { caption: string; name: string; columns: Column<R>[]; rows: R[]; empty?: string }) {
  return (
    <div class="table-wrap" role="region" aria-label={props.caption} tabindex={0}>
      <table data-table={props.name} role="table">
        <caption>{props.caption}</caption>
        <thead role="rowgroup">
          <tr role="row">
            {props.columns.map((c) => (
              <th scope="col" role="columnheader" class={c.num ? 'num' : undefined}>
                {c.title}
              </th>
            ))}
          </tr>
        </thead>
        <tbody role="rowgroup">
          {props.rows.length === 0 ? (
            <tr role="row">
              <td role="cell" colspan={props.columns.length} class="empty">
                {props.empty ?? 'Nothing in this period.'}
              </td>
            </tr>
          ) : (
            props.rows.map((r) => (
              <tr role="row">
                {props.columns.map((c) => (
                  <td role="cell" class={c.num ? 'num' : undefined} data-label={c.title}>
                    <span class="v">{c.cell(r)}</span>
                  </td>
                ))}
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}

/** The filters a view offers, and their current values (kept in the URL, so a refresh keeps them). */
export interface FilterState {
  period: '7d' | '30d' | '90d';
  user?: string;
  model?: string;
  endpoint?: string;
  /** A spend tag: the requests carrying it. */
  tag?: string;
  /** An operator's company view. */
  company?: string;
}

/** Choices for the filter selects (from the period's usage). */
export interface FilterChoices {
  users?: string[];
  models: string[];
  endpoints: string[];
  /** The period's most used tags. */
  tags: string[];
}

function Select(props: { name: string; label: string; value: string | undefined; choices: string[] }) {
  const choices = props.value && !props.choices.includes(props.value) ? [props.value, ...props.choices] : props.choices;
  return (
    <label>
      {props.label}
      <select name={props.name}>
        <option value="">All</option>
        {choices.map((c) => (
          <option value={c} selected={c === props.value}>
            {c}
          </option>
        ))}
      </select>
    </label>
  );
}

/**
 * The filter form: a GET to the same page, so the filters live in the URL. It is outside every
 * refreshed region: a choice not yet applied survives the 30-second refresh.
 */
export function Filters(props: { state: FilterState; choices: FilterChoices; exportHref: string }) {
  const s = props.state;
  return (
    <form class="filters" method="get" action="/dashboard" aria-label="Filters">
      {s.company ? <input type="hidden" name="company" value={s.company} /> : null}
      <label>
        Period
        <select name="period">
          {(['7d', '30d', '90d'] as const).map((p) => (
            <option value={p} selected={p === s.period}>
              Last {p.slice(0, -1)} days
            </option>
          ))}
        </select>
      </label>
      {props.choices.users ? <Select name="user" label="User" value={s.user} choices={props.choices.users} /> : null}
      <Select name="model" label="Model" value={s.model} choices={props.choices.models} />
      <Select name="endpoint" label="Endpoint" value={s.endpoint} choices={props.choices.endpoints} />
      {props.choices.tags.length || s.tag ? (
        <Select name="tag" label="Tag" value={s.tag} choices={props.choices.tags} />
      ) : null}
      <button type="submit">Apply</button>
      <a class="button" href={props.exportHref} download="tollgate-usage.csv" data-export>
        Export CSV
      </a>
    </form>
  );
}

/** The read-API query of a filter state (for usage, requests and the CSV export). */
export function filterQuery(s: FilterState): Record<string, string | undefined> {
  return { period: s.period, user: s.user, model: s.model, endpoint: s.endpoint, tag: s.tag, company: s.company };
}

/** The CSV export URL of a filter state (the read API's `export.csv`, read with the session cookie). */
export function exportHref(s: FilterState): string {
  const q = new URLSearchParams(Object.entries(filterQuery(s)).filter((e): e is [string, string] => Boolean(e[1])));
  return `/tollgate/v1/export.csv?${q.toString()}`;
}
