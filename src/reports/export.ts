import type { RequestRow } from '../ledger/port.js';
import { csvRecord, toCsv } from './csv.js';
import { formatMicroUsd } from '../utils/money.js';

/**
 * The CSV columns: the usage log's ten (Date, User ID, Endpoint, Model, Input Tokens, Output Tokens,
 * Total Tokens, Total Cost (USD), Success, Response Time (ms)), then the company, the ledger row's
 * id, the end user (as stored: sent or hashed) and the spend tags (`tagsCell`).
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
  'End User',
  'Tags',
] as const;

/** A request succeeded: it settled with an HTTP status below 400 (the usage log's Success). */
export function succeeded(r: Pick<RequestRow, 'status' | 'httpStatus'>): boolean {
  return r.status === 'settled' && r.httpStatus !== null && r.httpStatus < 400;
}

/** A row's spend tags in one CSV cell: their JSON array (`["search","team:growth"]`, unambiguous whatever a tag holds); empty when none. */
export function tagsCell(tags: readonly string[]): string | null {
  return tags.length ? JSON.stringify(tags) : null;
}

/** A row's values in `EXPORT_COLUMNS` order. */
function exportValues(r: RequestRow) {
  return [
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
    r.endUser,
    tagsCell(r.tags),
  ];
}

/** The rows as an RFC 4180 CSV document (CRLF line ends, header first) with `EXPORT_COLUMNS`. */
export function exportCsv(rows: readonly RequestRow[]): string {
  return toCsv(EXPORT_COLUMNS, rows.map(exportValues));
}

/**
 * The same CSV document as `exportCsv`, as text chunks: the header, then one chunk per page of rows
 * as `pages` yields them (`LedgerReader.exportRows`), so an export of any size holds one page in
 * memory. `onPage` is told the rows written so far.
 */
export async function* exportCsvChunks(
  pages: AsyncIterable<readonly RequestRow[]>,
  onPage?: (rows: number) => void,
): AsyncGenerator<string> {
  yield csvRecord(EXPORT_COLUMNS);
  let rows = 0;
  for await (const page of pages) {
    let chunk = '';
    for (const r of page) chunk += csvRecord(exportValues(r));
    rows += page.length;
    onPage?.(rows);
    yield chunk;
  }
}
