/** Reports over the ledger for admins and operators: balance, usage, CSV export, history. */
export { balanceReport, scopeBalances, type CompanyBalance, type GrantReport, type ScopeBalance } from './balance.js';
export { csvField, csvRecord, toCsv } from './csv.js';
export { EXPORT_COLUMNS, exportCsv, exportCsvChunks, succeeded, tagsCell } from './export.js';
export { PERIODS, parseInstant, resolveWindow, type Period, type RequestFilter, type WindowSpec } from './filters.js';
export { historyReport, type HistoryRow } from './history.js';
export { formatMicroUsd } from '../utils/money.js';
export { formatTable, int, type Column } from './table.js';
export { GROUP_BYS, type GroupBy, type UsageRow } from '../ledger/port.js';
