import { asc, sql } from 'drizzle-orm';
import { requests } from '../ledger/sqlite/schema.js';
import { toCsv } from './csv.js';
import type { ReportDb } from './db.js';
import { requestWhere, type RequestFilter } from './filters.js';
import { formatMicroUsd } from '../utils/money.js';

/**
 * The CSV columns: the usage log's ten (Date, User ID, Endpoint, Model, Input Tokens, Output Tokens,
 * Total Tokens, Total Cost (USD), Success, Response Time (ms)), then the company and the ledger row's id.
 * Date is the admission instant (ISO 8601 UTC), Model the requested model, tokens are counts,
 * Total Cost (USD) has 6 decimals (exact, from integer micro-USD), Success is `true` when the row
 * settled with an HTTP status below 400, Response Time (ms) is the latency rounded to whole ms.
 */
export const EXPORT_COLUMNS = [
  'Date',
  'User ID',
  'Endpoint',
  'Model',
  'Input Tokens',
  'Output Tokens',
  'Total Tokens',
  'Total Cost (USD)',
  'Success',
  'Response Time (ms)',
  'Company',
  'Request ID',
] as const;

/** One exported request. Tokens are counts, cost integer micro-USD, latency ms. */
export interface ExportRow {
  id: string;
  createdAt: string;
  companyId: string;
  userId: string | null;
  endpoint: string;
  requestedModel: string | null;
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  costMicroUsd: number;
  success: boolean;
  latencyMs: number | null;
}

/** The ledger rows matching `filter` (never rows still `held`), oldest first. */
export function exportRows(db: ReportDb, filter: RequestFilter): ExportRow[] {
  return db
    .select({
      id: requests.id,
      createdAt: requests.createdAt,
      companyId: requests.companyId,
      userId: requests.userId,
      endpoint: requests.endpoint,
      requestedModel: requests.requestedModel,
      inputTokens: requests.inputTokens,
      outputTokens: requests.outputTokens,
      totalTokens: requests.totalTokens,
      costMicroUsd: requests.costMicroUsd,
      success: sql<boolean>`CASE WHEN ${requests.status} = 'settled' AND ${requests.httpStatus} < 400 THEN 1 ELSE 0 END`.mapWith((v) => v === 1),
      latencyMs: requests.latencyMs,
    })
    .from(requests)
    .where(requestWhere(filter))
    .orderBy(asc(requests.createdAt), asc(sql`${requests}.rowid`))
    .all();
}

/** The rows as an RFC 4180 CSV document (CRLF line ends, header first) with `EXPORT_COLUMNS`. */
export function exportCsv(rows: readonly ExportRow[]): string {
  return toCsv(
    EXPORT_COLUMNS,
    rows.map((r) => [
      r.createdAt,
      r.userId,
      r.endpoint,
      r.requestedModel,
      r.inputTokens,
      r.outputTokens,
      r.totalTokens,
      formatMicroUsd(r.costMicroUsd),
      r.success,
      r.latencyMs === null ? null : Math.round(r.latencyMs),
      r.companyId,
      r.id,
    ]),
  );
}
