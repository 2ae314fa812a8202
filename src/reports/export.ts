import type { RequestRow } from '../ledger/port.js';
import { toCsv } from './csv.js';
import { formatMicroUsd } from './money.js';

/**
 * The CSV columns: seed 003's ten, in its order, then the company and the ledger row's id.
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

/** A request succeeded: it settled with an HTTP status below 400 (the usage log's Success). */
export function succeeded(r: Pick<RequestRow, 'status' | 'httpStatus'>): boolean {
  return r.status === 'settled' && r.httpStatus !== null && r.httpStatus < 400;
}

/** The rows as an RFC 4180 CSV document (CRLF line ends, header first) with `EXPORT_COLUMNS`. */
export function exportCsv(rows: readonly RequestRow[]): string {
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
      succeeded(r),
      r.latencyMs === null ? null : Math.round(r.latencyMs),
      r.companyId,
      r.id,
    ]),
  );
}
