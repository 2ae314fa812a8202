/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import type { BudgetsJson } from '../data.js';
import { grouped, percent, usd } from '../format.js';
import { Bar, Table, Time } from './parts.js';

type Renewing = BudgetsJson['renewing'][number];
type KeyBudget = BudgetsJson['budgets'][number];

const amount = (unit: 'tokens' | 'micro_usd', n: number) => (unit === 'tokens' ? grouped(n) : usd(n));

/**
 * The company's budgets (for its admins): the allocations that renew — this period's grant, what
 * the last period carried over, what is left and when it renews — and each key's own budget with a
 * bar of what it has used (warning and critical at the quota alert thresholds).
 */
export function Budgets(props: { data: BudgetsJson; timeZone: string }) {
  const { renewing, budgets } = props.data;
  if (renewing.length === 0 && budgets.length === 0) return null;
  return (
    <section class="panel wide" aria-labelledby="h-budgets">
      <h2 id="h-budgets">Budgets</h2>
      {renewing.length ? (
        <Table
          caption="Allocations that renew"
          name="renewing"
          rows={renewing}
          columns={[
            { title: 'Allocation', cell: (r: Renewing) => r.allocation },
            { title: 'Renews', cell: (r: Renewing) => `every ${r.every}` },
            { title: 'This period', cell: (r: Renewing) => r.grant ?? 'not started' },
            { title: 'Amount', num: true, cell: (r: Renewing) => amount(r.unit, r.amount) },
            {
              title: 'Carried over',
              num: true,
              cell: (r: Renewing) => (r.carried === null ? '–' : amount(r.unit, r.carried)),
            },
            { title: 'Left', num: true, cell: (r: Renewing) => amount(r.unit, r.remaining) },
            {
              title: 'Next period',
              cell: (r: Renewing) => <Time iso={r.renews_at} timeZone={props.timeZone} />,
            },
          ]}
        />
      ) : null}
      {budgets.length ? (
        <Table
          caption="Key budgets"
          name="key-budgets"
          rows={budgets}
          columns={[
            { title: 'Key', cell: (b: KeyBudget) => b.subject.replace(/^key /, '') },
            { title: 'Window', cell: (b: KeyBudget) => b.window },
            {
              title: 'Used',
              cell: (b: KeyBudget) => (
                <span class="avail">
                  {b.limit_micro_usd !== null
                    ? `${usd(b.spent_micro_usd)} of ${usd(b.limit_micro_usd)}`
                    : `${grouped(b.spent_tokens)} of ${grouped(b.limit_tokens ?? 0)} tokens`}
                  <Bar fraction={b.used} level={b.level} label={`${b.subject}: ${percent(b.used)} used`} />
                </span>
              ),
            },
            { title: 'Resets', cell: (b: KeyBudget) => <Time iso={b.resets_at} timeZone={props.timeZone} /> },
          ]}
        />
      ) : null}
    </section>
  );
}
