/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import { localMidnight } from '../../limits/windows.js';
import type { ApiGet, List, QuotaJson, QuotaRequestJson, QuotasJson, UsageRowJson } from '../data.js';
import { grouped, percent, usd } from '../format.js';
import { Bar, Card, Filters, exportHref, Time, type FilterState } from './parts.js';
import { loadUsage, RecentCalls, UsageSections, type UsageData } from './usage.js';

/** What a user (or a member key) sees: quota cards, today, usage breakdowns, recent calls, quota-increase requests. */
export interface UserData {
  quotas: QuotasJson;
  today: UsageRowJson;
  /** The last 60 minutes, for the rate. */
  lastHour: UsageRowJson;
  /** Today's tokens at the rate so far, to the end of the local day. */
  projectedToday: number;
  /** When today began: midnight in the company's time zone (ISO 8601 UTC). */
  todayStart: string;
  usage: UsageData;
  requests: QuotaRequestJson[];
  timeZone: string;
}

/** Local midnight of `now`'s day in `timeZone` (UTC ISO), for "today". */
export function todayStart(now: Date, timeZone: string): string {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric' })
      .formatToParts(now)
      .map((x) => [x.type, x.value]),
  );
  return localMidnight({ year: Number(p.year), month: Number(p.month), day: Number(p.day) }, timeZone).toISOString();
}

/** Reads a user's view through the read API. */
export async function loadUser(api: ApiGet, s: FilterState, timeZone: string, now: Date): Promise<UserData> {
  const start = todayStart(now, timeZone);
  const [quotas, today, lastHour, usage, requests] = await Promise.all([
    api<QuotasJson>('/tollgate/v1/quotas'),
    api<List<UsageRowJson>>('/tollgate/v1/usage', { since: start }).then((r) => r.data[0]!),
    api<List<UsageRowJson>>('/tollgate/v1/usage', { since: new Date(now.getTime() - 3_600_000).toISOString() }).then(
      (r) => r.data[0]!,
    ),
    loadUsage(api, s, false, 20),
    api<List<QuotaRequestJson>>('/tollgate/v1/quota-requests').then((r) => r.data),
  ]);
  // Local days are 23 to 25 hours long; 24 h is close enough for a projection.
  const elapsed = Math.max(now.getTime() - Date.parse(start), 60_000);
  const projectedToday = Math.round((today.total_tokens * 86_400_000) / elapsed);
  return { quotas, today, lastHour, projectedToday, todayStart: start, usage, requests, timeZone };
}

const WINDOW_NAMES: Record<QuotaJson['window'], string> = {
  daily: 'Daily quota',
  monthly: 'Monthly quota',
  hard: 'Hard limit',
  session: 'Session quota',
};

function QuotaCard(props: { q: QuotaJson; timeZone: string }) {
  const q = props.q;
  const tokens = q.limit_tokens !== null;
  const used = tokens
    ? `${grouped(q.spent_tokens)} / ${grouped(q.limit_tokens!)} tokens`
    : `${usd(q.spent_micro_usd)} / ${usd(q.limit_micro_usd ?? 0)}`;
  const name = WINDOW_NAMES[q.window];
  return (
    <section class={`card quota ${q.level}`} data-card={`quota-${q.window}`} aria-label={name}>
      <h3>{name}</h3>
      <p
        class="big"
        data-value={String(tokens ? q.spent_tokens : q.spent_micro_usd)}
        data-limit={String(tokens ? q.limit_tokens : q.limit_micro_usd)}
      >
        {used}
      </p>
      <Bar fraction={q.used} level={q.level} label={`${name}: ${percent(q.used)} used`} />
      <p class="sub">
        {percent(q.used)} used{q.held_tokens ? ` · ${grouped(q.held_tokens)} tokens in flight` : ''}
        {q.level !== 'ok' ? (
          <strong class={`badge ${q.level}`}> {q.level === 'critical' ? 'critical' : 'warning'}</strong>
        ) : null}
        <br />
        {q.resets_at ? (
          <>
            Resets <Time iso={q.resets_at} timeZone={props.timeZone} />
          </>
        ) : q.window === 'hard' ? (
          'Never resets'
        ) : (
          'Ends with the session'
        )}
      </p>
    </section>
  );
}

/**
 * The quota-increase form (POST with the session's CSRF token) and the status of the caller's
 * requests. Only the list is a refreshed region: what is being typed into the form survives.
 */
function QuotaRequests(props: { csrf: string; requests: QuotaRequestJson[]; timeZone: string }) {
  return (
    <section class="panel" aria-labelledby="h-increase" id="increase">
      <h2 id="h-increase">Request a quota increase</h2>
      <form method="post" action="/dashboard/quota-requests" class="stack">
        <input type="hidden" name="csrf" value={props.csrf} />
        <label>
          Quota
          <select name="window">
            <option value="daily">Daily</option>
            <option value="monthly">Monthly</option>
            <option value="hard">Hard limit</option>
            <option value="session">Session</option>
          </select>
        </label>
        <label>
          Tokens wanted
          <input name="tokens" type="number" min="1" step="1" inputmode="numeric" />
        </label>
        <label>
          Why (current use, what it is for, what you expect to need)
          <textarea name="justification" required maxlength={2000} rows={3} />
        </label>
        <button type="submit">Send request</button>
      </form>
      <h3>Your requests</h3>
      <div data-region="my-requests">
        {props.requests.length === 0 ? (
          <p class="sub">None yet.</p>
        ) : (
          <ul class="requests" data-table="quota-requests">
            {props.requests.map((r) => (
              <li>
                <Time iso={r.created_at} timeZone={props.timeZone} />: {r.requested.window ?? 'any'} quota
                {r.requested.tokens ? `, ${grouped(r.requested.tokens)} tokens` : ''} — <q>{r.justification}</q>{' '}
                <span class="badge">pending: an admin grants it in the config</span>
              </li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}

/** The user's page body. */
export function UserView(props: { data: UserData; state: FilterState; csrf: string }) {
  const d = props.data;
  const tz = d.timeZone;
  return (
    <>
      <section class="cards" aria-label="Quotas" data-region="quotas">
        {d.quotas.data.map((q) => (
          <QuotaCard q={q} timeZone={tz} />
        ))}
        {d.quotas.data.length === 0 ? (
          <Card
            name="quota-none"
            label="Quotas"
            value="None"
            sub="No quota bounds you; the company's grants still do."
          />
        ) : null}
      </section>
      <section class="cards" aria-label="Today and this period" data-region="today">
        <Card
          name="tokens-today"
          label="Tokens today"
          value={grouped(d.today.total_tokens)}
          exact={d.today.total_tokens}
          sub={
            <>
              {grouped(d.today.requests)} requests since <Time iso={d.todayStart} timeZone={tz} />
            </>
          }
        />
        <Card name="cost-today" label="Cost today" value={usd(d.today.cost_micro_usd)} exact={d.today.cost_micro_usd} />
        <Card
          name="rate"
          label="Rate, last hour"
          value={`${grouped(Math.round(d.lastHour.total_tokens / 60))} tokens/min`}
          exact={d.lastHour.total_tokens}
          sub={`${grouped(d.lastHour.total_tokens)} tokens in the last 60 minutes`}
        />
        <Card
          name="projected-today"
          label="Projected today"
          value={grouped(d.projectedToday)}
          exact={d.projectedToday}
          sub="at today's rate so far"
        />
        <Card
          name="tokens-period"
          label={`Tokens, last ${props.state.period.slice(0, -1)} days`}
          value={grouped(d.usage.total.total_tokens)}
          exact={d.usage.total.total_tokens}
          sub={`${grouped(d.usage.total.requests)} requests`}
        />
        <Card
          name="cost-period"
          label={`Cost, last ${props.state.period.slice(0, -1)} days`}
          value={usd(d.usage.total.cost_micro_usd)}
          exact={d.usage.total.cost_micro_usd}
        />
      </section>
      <Filters state={props.state} choices={d.usage.choices} exportHref={exportHref(props.state)} />
      <UsageSections data={d.usage} timeZone={tz} />
      <RecentCalls rows={d.usage.recent} timeZone={tz} title="Your recent calls" />
      <QuotaRequests csrf={props.csrf} requests={d.requests} timeZone={tz} />
    </>
  );
}
