import {
  formatMicroUsd,
  formatTable,
  int,
  tagsCell,
  toCsv,
  type Column,
  type CompanyBalance,
  type GrantReport,
  type GroupBy,
  type HistoryRow,
  type ScopeBalance,
  type UsageRow,
} from '../reports/index.js';

/**
 * How the report commands print: the text tables' columns and the CSV layouts of `balance`,
 * `usage` and `history` (JSON is the reports' own shape). Amounts in a grant's unit: tokens with
 * separators, micro-USD as USD with six decimals.
 */

/** Writes `text` to stdout as is. */
export const out = (text: string) => process.stdout.write(text);
/** Writes `value` to stdout as JSON, indented two spaces, with a final newline. */
export const json = (value: unknown) => out(`${JSON.stringify(value, null, 2)}\n`);
/** An amount in a grant's unit, for tables: tokens with separators, micro-USD as USD. */
const amount = (unit: 'tokens' | 'micro_usd', n: number | null) =>
  n === null ? 'unlimited' : unit === 'tokens' ? int(n) : formatMicroUsd(n);

// balance

const GRANT_COLUMNS: Column<GrantReport>[] = [
  { title: 'grant', cell: (g) => g.id },
  { title: 'unit', cell: (g) => (g.unit === 'tokens' ? 'tokens' : 'USD') },
  { title: 'models', cell: (g) => g.models?.join(' ') ?? 'all' },
  { title: 'amount', cell: (g) => (g.unlimited ? 'unlimited' : amount(g.unit, g.amount)), numeric: true },
  { title: 'spent', cell: (g) => amount(g.unit, g.spent), numeric: true },
  { title: 'held', cell: (g) => amount(g.unit, g.held), numeric: true },
  { title: 'remaining', cell: (g) => amount(g.unit, g.remaining), numeric: true },
  { title: 'active', cell: (g) => (g.active ? 'yes' : 'no') },
  { title: 'expires', cell: (g) => g.expiresAt ?? 'never' },
  {
    title: 'purchase',
    cell: (g) => (g.purchase ? `${g.purchase.id} (${g.purchase.provider}, ${g.purchase.date})` : (g.purchaseId ?? '-')),
  },
  { title: 'priority', cell: (g) => String(g.priority), numeric: true },
];

const SCOPE_COLUMNS: Column<ScopeBalance>[] = [
  { title: 'models', cell: (s) => s.models?.join(' ') ?? 'all models' },
  { title: 'tokens', cell: (s) => int(s.tokens), numeric: true },
  { title: 'USD', cell: (s) => formatMicroUsd(s.microUsd), numeric: true },
  { title: 'unlimited', cell: (s) => (s.unlimited ? 'yes' : 'no') },
  { title: 'expires', cell: (s) => s.expiresAt ?? 'never' },
  { title: 'grants', cell: (s) => s.grantIds.join(' ') },
];

/** Prints a company's balance as text: what is left (tokens, USD), its grants, then what is left by model. */
export function printBalance(b: CompanyBalance): void {
  const unlimited = b.unlimitedModels.length ? `; unlimited: ${b.unlimitedModels.join(', ')}` : '';
  out(
    `${b.companyId}: ${int(b.tokens)} tokens and ${formatMicroUsd(b.microUsd)} USD left on active grants${unlimited}\n\n`,
  );
  out(formatTable(GRANT_COLUMNS, b.grants));
  out('\nby model:\n');
  out(formatTable(SCOPE_COLUMNS, b.byModel));
}

/** The balance of each company as CSV (see `toCsv`): one line per grant, amounts as integers in the grant's `unit` (tokens or micro-USD), instants ISO 8601 UTC. */
export function balanceCsv(report: CompanyBalance[]): string {
  const header = [
    'company',
    'grant',
    'unit',
    'unlimited',
    'models',
    'amount',
    'spent',
    'held',
    'remaining',
    'active',
    'starts_at',
    'expires_at',
    'purchase',
    'priority',
  ];
  return toCsv(
    header,
    report.flatMap((b) =>
      b.grants.map((g) => [
        b.companyId,
        g.id,
        g.unit,
        g.unlimited,
        g.models?.join(' ') ?? null,
        g.unlimited ? null : g.amount,
        g.spent,
        g.held,
        g.remaining,
        g.active,
        g.startsAt,
        g.expiresAt,
        g.purchaseId,
        g.priority,
      ]),
    ),
  );
}

// usage

/** Groupings whose groups are per company (a user id or end-user id means something only within its company). */
const perCompany = (groupBy: GroupBy) => groupBy === 'user' || groupBy === 'end_user';

/** The text table's columns of a usage report grouped by `groupBy` (the company first for per-company groups; tokens, USD, errors, mean latency in ms). */
export function usageColumns(groupBy: GroupBy): Column<UsageRow>[] {
  const cols: Column<UsageRow>[] = [];
  if (perCompany(groupBy)) cols.push({ title: 'company', cell: (r) => r.companyId ?? '-' });
  if (groupBy !== 'none') cols.push({ title: groupBy, cell: (r) => r.key ?? '-' });
  return [
    ...cols,
    { title: 'requests', cell: (r) => int(r.requests), numeric: true },
    { title: 'input', cell: (r) => int(r.inputTokens), numeric: true },
    { title: 'cached', cell: (r) => int(r.cachedInputTokens), numeric: true },
    { title: 'output', cell: (r) => int(r.outputTokens), numeric: true },
    { title: 'reasoning', cell: (r) => int(r.reasoningTokens), numeric: true },
    { title: 'total', cell: (r) => int(r.totalTokens), numeric: true },
    { title: 'cost USD', cell: (r) => formatMicroUsd(r.costMicroUsd), numeric: true },
    { title: 'errors', cell: (r) => int(r.errors), numeric: true },
    { title: 'avg ms', cell: (r) => (r.avgLatencyMs === null ? '-' : r.avgLatencyMs.toFixed(1)), numeric: true },
  ];
}

/** A usage report as CSV (see `toCsv`): the group's column(s) (the company first for per-company groups), then tokens, cost in micro-USD and in USD, errors and mean latency in ms. */
export function usageCsv(rows: UsageRow[], groupBy: GroupBy): string {
  const lead = [...(perCompany(groupBy) ? ['company'] : []), ...(groupBy !== 'none' ? [groupBy] : [])];
  const header = [
    ...lead,
    'requests',
    'input_tokens',
    'cached_input_tokens',
    'output_tokens',
    'reasoning_tokens',
    'total_tokens',
    'cost_micro_usd',
    'cost_usd',
    'errors',
    'avg_latency_ms',
  ];
  return toCsv(
    header,
    rows.map((r) => [
      ...(perCompany(groupBy) ? [r.companyId] : []),
      ...(groupBy !== 'none' ? [r.key] : []),
      r.requests,
      r.inputTokens,
      r.cachedInputTokens,
      r.outputTokens,
      r.reasoningTokens,
      r.totalTokens,
      r.costMicroUsd,
      formatMicroUsd(r.costMicroUsd),
      r.errors,
      r.avgLatencyMs,
    ]),
  );
}

// history

/** The text table's columns of the request log: instant (ISO 8601 UTC), who, what, status, tags, tokens used and remaining, cost in USD. */
export const HISTORY_COLUMNS: Column<HistoryRow>[] = [
  { title: 'date', cell: (r) => r.createdAt },
  { title: 'company', cell: (r) => r.companyId },
  { title: 'user', cell: (r) => r.userId ?? '-' },
  { title: 'model', cell: (r) => r.model ?? '-' },
  { title: 'endpoint', cell: (r) => r.endpoint },
  { title: 'status', cell: (r) => r.status },
  { title: 'tags', cell: (r) => r.tags.join(', ') || '-' },
  { title: 'tokens used', cell: (r) => int(r.tokensUsed), numeric: true },
  { title: 'remaining', cell: (r) => int(r.remainingTokens), numeric: true },
  { title: 'cost USD', cell: (r) => formatMicroUsd(r.costMicroUsd), numeric: true },
];

/** The request log as CSV (see `toCsv`): one line per request, its instant ISO 8601 UTC, tokens used and remaining, cost in micro-USD, end user as stored, tags as a JSON array. */
export function historyCsv(rows: HistoryRow[]): string {
  return toCsv(
    [
      'date',
      'company',
      'user',
      'model',
      'endpoint',
      'feature',
      'end_user',
      'tags',
      'status',
      'tokens_used',
      'remaining_tokens',
      'cost_micro_usd',
      'request_id',
    ],
    rows.map((r) => [
      r.createdAt,
      r.companyId,
      r.userId,
      r.model,
      r.endpoint,
      r.feature,
      r.endUser,
      tagsCell(r.tags),
      r.status,
      r.tokensUsed,
      r.remainingTokens,
      r.costMicroUsd,
      r.requestId,
    ]),
  );
}
