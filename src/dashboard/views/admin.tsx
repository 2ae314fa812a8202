/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import type {
  ApiGet,
  BalanceJson,
  BudgetsJson,
  GrantJson,
  List,
  OverviewJson,
  PurchaseJson,
  QuotaRequestJson,
} from '../data.js';
import { Budgets } from './budgets.js';
import { grouped, percent, usd } from '../format.js';
import { Bar, Card, Filters, Table, Time, exportHref, levelOf, type FilterState } from './parts.js';
import { loadUsage, RecentCalls, UsageSections, type UsageData } from './usage.js';

/** What a company admin (or an operator looking at one company) sees. */
export interface AdminData {
  overview: OverviewJson;
  balance: BalanceJson;
  budgets: BudgetsJson;
  purchases: PurchaseJson[];
  usage: UsageData;
  /** The users' quota-increase requests; null for an operator (they are the company admins' to answer). */
  requests: QuotaRequestJson[] | null;
  lowBalance: [number, number];
}

/** Reads a company's admin view through the read API; `company` is set for an operator. */
export async function loadAdmin(
  api: ApiGet,
  s: FilterState,
  operator: boolean,
  lowBalance: [number, number],
): Promise<AdminData> {
  const c = { company: s.company };
  const [overview, balance, budgets, purchases, usage, requests] = await Promise.all([
    api<List<OverviewJson>>('/tollgate/v1/overview', c).then((r) => r.data[0]!),
    api<BalanceJson>('/tollgate/v1/balance', c),
    api<List<BudgetsJson>>('/tollgate/v1/budgets', c).then((r) => r.data[0]!),
    api<List<PurchaseJson>>('/tollgate/v1/purchases', c).then((r) => r.data),
    loadUsage(api, s, true, 50),
    operator ? Promise.resolve(null) : api<List<QuotaRequestJson>>('/tollgate/v1/quota-requests').then((r) => r.data),
  ]);
  return { overview, balance, budgets, purchases, usage, requests, lowBalance };
}

/** A grant's row: its models, a bar of what is left (critical/warning at the low-balance thresholds), the Unlimited badge, expiry and purchase. */
function grantColumns(timeZone: string, [warn, crit]: [number, number]) {
  const left = (g: GrantJson) => (g.unlimited || !g.amount ? 1 : Math.max(0, g.remaining ?? 0) / g.amount);
  const amount = (g: GrantJson, n: number) => (g.unit === 'tokens' ? grouped(n) : usd(n));
  return [
    {
      title: 'Grant',
      cell: (g: GrantJson) =>
        g.renews ? (
          <>
            {g.id} <span class="badge">{g.rollover ? 'carried over' : `renews every ${g.renews}`}</span>
          </>
        ) : (
          g.id
        ),
    },
    { title: 'Priority', num: true, cell: (g: GrantJson) => String(g.priority) },
    { title: 'Models', cell: (g: GrantJson) => (g.models ? g.models.join(', ') : 'all models') },
    {
      title: 'Available',
      cell: (g: GrantJson) =>
        g.unlimited ? (
          <span class="badge unlimited">Unlimited</span>
        ) : (
          <span class="avail">
            <span data-value={String(g.remaining)}>{amount(g, g.remaining ?? 0)}</span> of {amount(g, g.amount ?? 0)}
            <Bar
              fraction={left(g)}
              level={levelOf(1 - left(g), 1 - warn, 1 - crit)}
              label={`${g.id}: ${percent(left(g))} left`}
            />
          </span>
        ),
    },
    {
      title: 'Used',
      num: true,
      cell: (g: GrantJson) => (
        <>
          {amount(g, g.spent)}
          {g.held ? <span class="held">+{amount(g, g.held)} in flight</span> : null}
        </>
      ),
    },
    {
      title: 'Expires',
      cell: (g: GrantJson) => (g.expires_at ? <Time iso={g.expires_at} timeZone={timeZone} /> : 'No expiration'),
    },
    {
      title: 'Purchase',
      cell: (g: GrantJson) => (g.purchase ? `${g.purchase.id} (${g.purchase.provider}, ${g.purchase.date})` : '–'),
    },
    { title: 'Status', cell: (g: GrantJson) => (g.active ? 'active' : 'inactive') },
  ];
}

function Purchases(props: { rows: PurchaseJson[]; timeZone: string }) {
  return (
    <section class="panel" aria-labelledby="h-purchases">
      <h2 id="h-purchases">Recent purchases</h2>
      <Table
        caption="Recent purchases"
        name="purchases"
        rows={props.rows}
        empty="No purchase records: grants can name one under the config's purchases."
        columns={[
          { title: 'Purchase', cell: (p) => p.id },
          { title: 'Tokens', num: true, cell: (p) => grouped(p.total_tokens) },
          { title: 'Amount', num: true, cell: (p) => usd(p.amount_micro_usd) },
          { title: 'Date', cell: (p) => p.date },
          { title: 'Provider', cell: (p) => p.provider },
          { title: 'Grants', cell: (p) => p.grants.join(', ') },
        ]}
      />
    </section>
  );
}

function UserRequests(props: { rows: QuotaRequestJson[]; timeZone: string }) {
  return (
    <section class="panel" aria-labelledby="h-requests">
      <h2 id="h-requests">Quota-increase requests</h2>
      <Table
        caption="Quota-increase requests from the company's users"
        name="quota-requests"
        rows={props.rows}
        empty="No requests."
        columns={[
          { title: 'Date', cell: (r) => <Time iso={r.created_at} timeZone={props.timeZone} /> },
          { title: 'User', cell: (r) => r.user_id },
          { title: 'Quota', cell: (r) => r.requested.window ?? 'any' },
          { title: 'Tokens', num: true, cell: (r) => (r.requested.tokens ? grouped(r.requested.tokens) : '–') },
          { title: 'Why', cell: (r) => r.justification },
        ]}
      />
    </section>
  );
}

/** The admin's page body. */
export function AdminView(props: { data: AdminData; state: FilterState }) {
  const d = props.data;
  const tz = d.overview.time_zone;
  const limited = d.balance.grants.filter((g) => g.active && !g.unlimited && g.unit === 'tokens');
  const total = limited.reduce((n, g) => n + (g.amount ?? 0), 0);
  return (
    <>
      <section class="cards" aria-label="Summary" data-region="summary">
        <Card
          name="total-tokens"
          label="Total tokens"
          value={grouped(total)}
          exact={total}
          sub="on active token grants"
        />
        <Card
          name="available-tokens"
          label="Available tokens"
          value={grouped(d.balance.tokens)}
          exact={d.balance.tokens}
          sub={
            d.balance.unlimited_models.length ? `plus unlimited: ${d.balance.unlimited_models.join(', ')}` : undefined
          }
        />
        <Card
          name="used-month"
          label="Used this month"
          value={grouped(d.overview.month_tokens)}
          exact={d.overview.month_tokens}
          sub={`${usd(d.overview.month_cost_micro_usd)} · resets on the 1st`}
        />
        <Card
          name="active-allocations"
          label="Active allocations"
          value={String(d.overview.active_grants)}
          exact={d.overview.active_grants}
          sub={`${d.overview.open_holds} requests in flight`}
        />
      </section>
      <section class="panel wide" aria-labelledby="h-allocations" data-region="allocations">
        <h2 id="h-allocations">Allocations</h2>
        <Table
          caption="Allocations per model scope"
          name="allocations"
          columns={grantColumns(tz, d.lowBalance)}
          rows={d.balance.grants}
          empty="No grants: add allocations in the config."
        />
      </section>
      <div data-region="budgets">
        <Budgets data={d.budgets} timeZone={tz} />
      </div>
      <div data-region="alerts">
        {d.overview.alerts.length ? (
          <section class="panel wide" aria-labelledby="h-alerts">
            <h2 id="h-alerts">Recent alerts</h2>
            <ul class="alerts">
              {d.overview.alerts.map((a) => (
                <li>
                  <Time iso={a.fired_at} timeZone={tz} /> <strong>{a.kind}</strong> <code>{a.key}</code>
                </li>
              ))}
            </ul>
          </section>
        ) : null}
      </div>
      <Filters state={props.state} choices={d.usage.choices} exportHref={exportHref(props.state)} />
      <section class="cards" aria-label="This period" data-region="period">
        <Card
          name="requests-period"
          label="Requests"
          value={grouped(d.usage.total.requests)}
          exact={d.usage.total.requests}
          sub={`${grouped(d.usage.total.errors)} failed`}
        />
        <Card
          name="tokens-period"
          label="Tokens"
          value={grouped(d.usage.total.total_tokens)}
          exact={d.usage.total.total_tokens}
        />
        <Card
          name="cost-period"
          label="Cost"
          value={usd(d.usage.total.cost_micro_usd)}
          exact={d.usage.total.cost_micro_usd}
        />
      </section>
      <UsageSections data={d.usage} timeZone={tz} />
      <RecentCalls rows={d.usage.recent} timeZone={tz} title="Usage history (last 50)" remaining showUser />
      <div class="grid-2" data-region="purchases">
        <Purchases rows={d.purchases} timeZone={tz} />
        {d.requests ? <UserRequests rows={d.requests} timeZone={tz} /> : null}
      </div>
    </>
  );
}
