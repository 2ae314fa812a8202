/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import type { OverviewJson } from '../data.js';
import { grouped, usd } from '../format.js';
import { Card, Table, Time } from './parts.js';
import { ReconciliationPanel, type ReconciliationData } from './reconciliation.js';

/** The operator's page body: every company at a glance, each linking to its admin view, and the reconciliation with OpenAI. */
export function OperatorView(props: { companies: OverviewJson[]; reconciliation?: ReconciliationData }) {
  const rows = props.companies;
  const sum = (f: (o: OverviewJson) => number) => rows.reduce((n, o) => n + f(o), 0);
  return (
    <>
      <section class="cards" aria-label="All companies" data-region="summary">
        <Card name="companies" label="Companies" value={grouped(rows.length)} exact={rows.length} />
        <Card
          name="spend-month"
          label="Spend this month"
          value={usd(sum((o) => o.month_cost_micro_usd))}
          exact={sum((o) => o.month_cost_micro_usd)}
          sub="each company's calendar month"
        />
        <Card
          name="open-holds"
          label="Open holds"
          value={grouped(sum((o) => o.open_holds))}
          exact={sum((o) => o.open_holds)}
          sub="requests in flight"
        />
        <Card
          name="alerts"
          label="Recent alerts"
          value={grouped(sum((o) => o.alerts.length))}
          exact={sum((o) => o.alerts.length)}
        />
      </section>
      <section class="panel wide" aria-labelledby="h-companies" data-region="companies">
        <h2 id="h-companies">Companies</h2>
        <Table
          caption="Every company at a glance"
          name="companies"
          rows={rows}
          columns={[
            {
              title: 'Company',
              cell: (o) => (
                <a href={`/dashboard?company=${encodeURIComponent(o.company_id)}`}>
                  {o.name} ({o.company_id})
                </a>
              ),
            },
            {
              title: 'Tokens left',
              num: true,
              cell: (o) => <span data-value={String(o.tokens)}>{grouped(o.tokens)}</span>,
            },
            { title: 'USD left', num: true, cell: (o) => usd(o.micro_usd) },
            {
              title: 'Spend this month',
              num: true,
              cell: (o) => <span data-value={String(o.month_cost_micro_usd)}>{usd(o.month_cost_micro_usd)}</span>,
            },
            {
              title: 'Tokens this month',
              num: true,
              cell: (o) => <span data-value={String(o.month_tokens)}>{grouped(o.month_tokens)}</span>,
            },
            {
              title: 'Open holds',
              num: true,
              cell: (o) => <span data-value={String(o.open_holds)}>{o.open_holds}</span>,
            },
            {
              title: 'Latest alert',
              cell: (o) =>
                o.alerts[0] ? (
                  <>
                    {o.alerts[0].kind}, <Time iso={o.alerts[0].fired_at} timeZone={o.time_zone} />
                  </>
                ) : (
                  'none'
                ),
            },
          ]}
        />
      </section>
      {props.reconciliation ? <ReconciliationPanel data={props.reconciliation} /> : null}
    </>
  );
}
