import { toCsv } from '../reports/csv.js';
import { type Column, formatTable, int } from '../reports/table.js';
import { formatNanoUsd } from '../utils/money.js';
import type { Comparison, Line, ReconciliationReport } from './report.js';

/** The formats `tollgate reconcile --format` prints. */
export const FORMATS = ['table', 'csv', 'json'] as const;
export type Format = (typeof FORMATS)[number];

const usd = (nano: number) => (nano < 0 ? `-$${formatNanoUsd(-nano)}` : `$${formatNanoUsd(nano)}`);
const value = (name: string, v: number) => (name === 'cost_nano_usd' ? usd(v) : int(v));
const percent = (p: number | null) => (p === null ? 'n/a' : `${p > 0 ? '+' : ''}${p.toFixed(2)}%`);
const measureTitle = (name: string) => (name === 'cost_nano_usd' ? 'cost (USD)' : name);

/** A line's verdict in words: `drift, over`, `match, provisional`. */
export function verdict(l: Line): string {
  return [l.status.replace('_', ' '), ...(l.over ? ['OVER'] : []), ...(l.provisional ? ['provisional'] : [])].join(
    ', ',
  );
}

interface Row {
  line: Line;
  m: Comparison;
  first: boolean;
}

const rowsOf = (lines: Line[]): Row[] =>
  lines.flatMap((line) => line.measures.map((m, i) => ({ line, m, first: i === 0 })));

function columns(r: ReconciliationReport, withDay: boolean, withModel: boolean): Column<Row>[] {
  const cols: Column<Row>[] = [];
  const first = (f: (l: Line) => string | null) => (row: Row) => (row.first ? (f(row.line) ?? '(none)') : '');
  if (withDay) cols.push({ title: 'DAY', cell: first((l) => l.day) });
  if (withModel) cols.push({ title: 'MODEL', cell: first((l) => l.model) });
  if (r.groupBy.includes('project')) cols.push({ title: 'PROJECT', cell: first((l) => l.projectId) });
  if (r.groupBy.includes('key')) cols.push({ title: 'KEY', cell: first((l) => l.apiKeyId) });
  cols.push(
    { title: 'STATUS', cell: (row) => (row.first ? verdict(row.line) : '') },
    { title: 'MEASURE', cell: (row) => measureTitle(row.m.name) + (row.m.judged ? '' : ' (shown)') },
    { title: 'LEDGER', cell: (row) => value(row.m.name, row.m.ledger), numeric: true },
    { title: 'OPENAI', cell: (row) => value(row.m.name, row.m.openai), numeric: true },
    { title: 'DRIFT', cell: (row) => value(row.m.name, row.m.drift), numeric: true },
    { title: 'DRIFT %', cell: (row) => percent(row.m.driftPercent), numeric: true },
    { title: '', cell: (row) => (row.m.over ? '<' : '') },
  );
  return cols;
}

/** The report as text tables for a terminal: the lines, cost per day, the total, what is outside, notes and a summary. */
export function renderTable(r: ReconciliationReport): string {
  const out: string[] = [];
  const t = r.threshold;
  out.push(
    `Reconciliation of the ledger with OpenAI, ${r.from} to ${r.to} (UTC days), by ${r.groupBy.join(', ') || 'nothing'}`,
    `Threshold: drift beyond ${t.percent}% of OpenAI's figure (floors: ${int(t.tokens)} tokens, $${t.usd}); "<" marks a measure beyond it`,
    '',
  );
  out.push(
    r.lines.length
      ? formatTable(columns(r, r.groupBy.includes('day'), r.groupBy.includes('model')), rowsOf(r.lines))
      : '(no usage on either side)\n',
  );
  if (r.days.length)
    out.push(
      `Cost${r.groupBy.includes('day') ? ' per day' : ''} (judged here: the costs API has no model)`,
      formatTable(
        columns(r, r.groupBy.includes('day'), false),
        rowsOf(r.days.map((d) => ({ ...d, measures: d.measures.filter((m) => m.judged) }))),
      ),
    );
  out.push('Total', formatTable(columns(r, false, false), rowsOf([r.total])));
  if (r.outside.length)
    out.push(
      "Outside tollgate's key or project (not compared)",
      formatTable(
        [
          { title: 'PROJECT', cell: (o) => o.projectId ?? '(none)' },
          { title: 'KEY', cell: (o) => o.apiKeyId ?? '(none)' },
          { title: 'REQUESTS', cell: (o) => int(o.num_model_requests), numeric: true },
          { title: 'INPUT', cell: (o) => int(o.input_tokens), numeric: true },
          { title: 'OUTPUT', cell: (o) => int(o.output_tokens), numeric: true },
          { title: 'COST (USD)', cell: (o) => usd(o.cost_nano_usd), numeric: true },
        ],
        r.outside,
      ),
    );
  if (r.other.length)
    out.push(
      'Other usage at OpenAI (not metered per request, not compared)',
      formatTable(
        [
          { title: 'DAY', cell: (o) => o.day },
          { title: 'PROJECT', cell: (o) => o.projectId ?? '(none)' },
          {
            title: 'WHAT',
            cell: (o) => (o.kind === 'vector_stores' ? 'vector store bytes' : 'code interpreter sessions'),
          },
          { title: 'AMOUNT', cell: (o) => int(o.value), numeric: true },
        ],
        r.other,
      ),
    );
  out.push('Notes', ...r.notes.map((n) => `- ${n}`), '', summaryLine(r));
  return `${out.join('\n')}\n`;
}

/** One sentence: how many lines matched, drifted, were unmatched, and how many are beyond the threshold. */
export function summaryLine(r: ReconciliationReport): string {
  const s = r.summary;
  const parts = [
    `${s.match} match`,
    `${s.drift} drift`,
    `${s.unmatched} unmatched`,
    `${s.ledgerOnly} only in the ledger`,
    `${s.openaiOnly} only at OpenAI`,
  ];
  return `${s.lines} lines: ${parts.join(', ')}; ${s.over === 0 ? 'nothing beyond the threshold' : `${s.over} beyond the threshold`}.`;
}

/**
 * The report as CSV (RFC 4180), one record per line and measure: section (`line`, `day`, `total`,
 * `outside`), the line's coordinates and verdict, then the measure on both sides. Money in integer
 * nano-USD (`cost_nano_usd`), drift % with 2 decimals.
 */
export function renderCsv(r: ReconciliationReport): string {
  const header = [
    'section',
    'day',
    'model',
    'project_id',
    'api_key_id',
    'status',
    'provisional',
    'over',
    'measure',
    'ledger',
    'openai',
    'drift',
    'drift_percent',
    'judged',
  ];
  const records: (string | number | boolean | null)[][] = [];
  const add = (section: string, lines: Line[]) => {
    for (const l of lines)
      for (const m of l.measures)
        records.push([
          section,
          l.day,
          l.model,
          l.projectId,
          l.apiKeyId,
          l.status,
          l.provisional,
          m.over,
          m.name,
          m.ledger,
          m.openai,
          m.drift,
          m.driftPercent,
          m.judged,
        ]);
  };
  add('line', r.lines);
  add(
    'day',
    r.days.map((d) => ({ ...d, measures: d.measures.filter((m) => m.judged) })),
  );
  add('total', [r.total]);
  for (const o of r.outside)
    for (const name of ['num_model_requests', 'input_tokens', 'output_tokens', 'cost_nano_usd'] as const)
      records.push([
        'outside',
        null,
        null,
        o.projectId,
        o.apiKeyId,
        'outside',
        false,
        false,
        name,
        null,
        o[name],
        null,
        null,
        false,
      ]);
  return toCsv(header, records);
}

/** The report in the chosen format. */
export function render(r: ReconciliationReport, format: Format): string {
  if (format === 'json') return `${JSON.stringify(r, null, 2)}\n`;
  return format === 'csv' ? renderCsv(r) : renderTable(r);
}
