import type { ArchiveColumn } from '../port/maintenance.js';

/**
 * The archive file (`tollgate ledger archive`, and `ledger.retention` in `serve`): gzip-compressed
 * NDJSON (RFC 8259 JSON, one object per line, `\n` line ends, UTF-8), readable with `zcat`, `jq`,
 * DuckDB, BigQuery or a few lines of any language:
 *
 * 1. a header: `{"format":"tollgate-ledger-archive","version":1,"engine":"sqlite"|"postgres",
 *    "before":"<ISO 8601 UTC>","created_at":"<ISO 8601 UTC>","columns":{"requests":[{"name","type"}…],
 *    "debits":[…]}}` — the columns of every row that follows, as the ledger had them;
 * 2. one line per archived request: its `requests` columns by name, plus `"debits"`: an array of
 *    its `debits` rows (`grant_id`, `unit`, `amount`, `overdraft`, `created_at`), oldest first;
 * 3. a trailer: `{"end":true,"requests":N,"debits":M}` — a file without it is incomplete.
 *
 * Types: `text` a JSON string; `integer` a JSON number (tokens, micro- and nano-USD, counts; all
 * below 2^53); `real` a JSON number (latencies, ms); `boolean` true/false; `instant` an ISO 8601
 * UTC string (`2026-11-22T01:02:03.456Z`); any of them may be null. `tool_calls` stays the JSON
 * text the ledger stored. Version 1; a later version adds columns, never renames one.
 */

export const ARCHIVE_FORMAT = 'tollgate-ledger-archive';
export const ARCHIVE_VERSION = 1;

/** The engines' own bookkeeping columns, never archived. */
export const NOT_ARCHIVED: ReadonlySet<string> = new Set(['settle_seq', 'settle_xid', 'seq']);

/** The archive's first line. */
export function headerLine(h: {
  engine: 'sqlite' | 'postgres';
  before: string;
  createdAt: string;
  requests: ArchiveColumn[];
  debits: ArchiveColumn[];
}): string {
  return JSON.stringify({
    format: ARCHIVE_FORMAT,
    version: ARCHIVE_VERSION,
    engine: h.engine,
    before: h.before,
    created_at: h.createdAt,
    columns: { requests: h.requests, debits: h.debits },
  });
}

/** The archive's last line. */
export function trailerLine(requests: number, debits: number): string {
  return JSON.stringify({ end: true, requests, debits });
}
