/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import type { Child } from 'hono/jsx';
import type { Line, ReconciliationReport } from '../../reconcile/report.js';
import { formatNanoUsd } from '../../utils/money.js';
import type { ApiGet, List } from '../data.js';
import { grouped } from '../format.js';
import { ChartBox, Table, Time } from './parts.js';

/** A run as `GET /tollgate/v1/reconciliations` lists it (see src/reconcile/routes.ts). */
export interface ReconciliationRunJson {
  id: string;
  trigger: 'cli' | 'schedule';
  started_at: string;
  finished_at: string | null;
  from: string;
  to: string;
  status: 'running' | 'ok' | 'drift' | 'failed';
  error: string | null;
  summary: ReconciliationReport['summary'] | null;
}

/** The panel's data: the last runs, and the newest finished run's whole report. */
export interface ReconciliationData {
  runs: ReconciliationRunJson[];
  latest: ReconciliationReport | null;
}

/** Reads the last 10 runs and the newest finished one's report through the read API (operators only). */
export async function loadReconciliation(api: ApiGet): Promise<ReconciliationData> {
  const runs = (await api<List<ReconciliationRunJson>>('/tollgate/v1/reconciliations', { limit: '10' })).data;
  // Run ids (`daily:2026-11-22`, `rec_…`) are path-safe as they are; tollgate refuses percent-encoded paths.
  const done = runs.find((r) => (r.status === 'ok' || r.status === 'drift') && /^[A-Za-z0-9:_-]+$/.test(r.id));
  const latest = done
    ? (await api<{ report: ReconciliationReport }>(`/tollgate/v1/reconciliations/${done.id}`)).report
    : null;
  return { runs, latest };
}

const STATUS_TEXT = {
  ok: 'within the threshold',
  drift: 'drift beyond the threshold',
  failed: 'failed',
  running: 'running',
};

/** The line's measure that drifts most: what the table shows of it. */
function worst(l: Line) {
  const judged = l.measures.filter((m) => m.judged);
  return judged.reduce(
    (w, m) => (Math.abs(m.drift) * (w.openai || 1) > Math.abs(w.drift) * (m.openai || 1) ? m : w),
    judged[0] ?? l.measures[0]!,
  );
}

const amount = (name: string, v: number) => (name === 'cost_nano_usd' ? `$${formatNanoUsd(v)}` : grouped(v));

/**
 * The operator's "Reconciliation with OpenAI" panel: the newest finished run's daily drift by model
 * as a chart (the judged measure that drifts most, in % of OpenAI's figure) with the same numbers in
 * a table, and the last runs with their status.
 */
export function ReconciliationPanel(props: { data: ReconciliationData }) {
  const { runs, latest } = props.data;
  if (runs.length === 0)
    return (
      <Frame>
        <p class="sub">
          No reconciliation yet. Set <code>reconciliation.schedule</code> in the config to run it daily, or run{' '}
          <code>tollgate reconcile --save</code>.
        </p>
      </Frame>
    );
  const lines = (latest?.lines ?? []).filter((l) => l.day !== null && l.model !== null && l.status !== 'openai_only');
  const days = [...new Set(lines.map((l) => l.day!))].sort();
  const models = [...new Set(lines.map((l) => l.model!))].sort();
  const series = models.map((model) => ({
    label: model,
    data: days.map((day) => lines.find((l) => l.day === day && l.model === model)?.driftPercent ?? 0),
  }));
  const notMatching = (latest?.lines ?? []).filter((l) => l.status !== 'match');
  const last = runs[0]!;
  return (
    <Frame>
      <p class="sub" data-last-run={last.status}>
        Last run <Time iso={last.started_at} timeZone="UTC" /> ({last.from} to {last.to}): {STATUS_TEXT[last.status]}
        {last.error ? `: ${last.error}` : ''}
        {last.summary
          ? `; ${last.summary.over} beyond the threshold, ${last.summary.match} of ${last.summary.lines} lines match.`
          : '.'}
      </p>
      {latest && days.length > 0 ? (
        <ChartBox
          name="reconciliation-drift"
          label="Daily drift by model, % of OpenAI's figure (ledger minus OpenAI)"
          type="bar"
          data={{ labels: days, series }}
        />
      ) : null}
      {latest ? <h3>Lines that do not match</h3> : null}
      {latest ? (
        <Table
          caption={`Lines that do not match, ${latest.from} to ${latest.to} (${latest.summary.match} match)`}
          name="reconciliation-lines"
          rows={notMatching}
          empty="Every line matches."
          columns={[
            { title: 'Day', cell: (l) => (l.day ?? '') + (l.provisional ? ' (provisional)' : '') },
            { title: 'Model', cell: (l) => l.model ?? '(none)' },
            { title: 'Status', cell: (l) => l.status.replace('_', ' ') + (l.over ? ', over' : '') },
            { title: 'Measure', cell: (l) => worst(l).name },
            { title: 'Ledger', num: true, cell: (l) => amount(worst(l).name, worst(l).ledger) },
            { title: 'OpenAI', num: true, cell: (l) => amount(worst(l).name, worst(l).openai) },
            {
              title: 'Drift %',
              num: true,
              cell: (l) => (
                <span data-value={String(l.driftPercent)}>
                  {l.driftPercent === null ? 'n/a' : `${l.driftPercent}%`}
                </span>
              ),
            },
          ]}
        />
      ) : null}
      <h3>Recent runs</h3>
      <Table
        caption="Recent runs"
        name="reconciliation-runs"
        rows={runs}
        columns={[
          { title: 'Started', cell: (r) => <Time iso={r.started_at} timeZone="UTC" /> },
          { title: 'Days', cell: (r) => `${r.from} to ${r.to}` },
          { title: 'By', cell: (r) => (r.trigger === 'schedule' ? 'schedule' : 'command line') },
          { title: 'Result', cell: (r) => <span data-status={r.status}>{STATUS_TEXT[r.status]}</span> },
          { title: 'Beyond threshold', num: true, cell: (r) => (r.summary ? String(r.summary.over) : '–') },
          { title: 'Error', cell: (r) => r.error ?? '' },
        ]}
      />
    </Frame>
  );
}

/** The panel's section and heading, the same whether any run exists or not. */
function Frame(props: { children: Child }) {
  return (
    <section
      class="panel wide"
      aria-labelledby="h-reconciliation"
      data-panel="reconciliation"
      data-region="reconciliation"
    >
      <h2 id="h-reconciliation">Reconciliation with OpenAI</h2>
      {props.children}
    </section>
  );
}
