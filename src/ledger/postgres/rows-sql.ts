import type { RequestFilter, RequestRow } from '../port.js';
import { tagsOf } from '../tags.js';
import { USAGE } from './rollup-sql.js';

/** The SQL condition for a filter over `requests r` (rows still `held` left out), with its parameters. */
export function where(f: RequestFilter): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const parts = ["r.status <> 'held'"];
  const add = (column: string, value: string | undefined, op = '=') => {
    if (value === undefined) return;
    params.push(value);
    parts.push(`r.${column} ${op} $${params.length}`);
  };
  add('company_id', f.companyId);
  add('user_id', f.userId);
  add('key_id', f.keyId);
  add('requested_model', f.model);
  add('endpoint', f.endpoint);
  add('feature', f.feature);
  add('end_user', f.endUser);
  if (f.tag !== undefined) {
    params.push(f.tag);
    parts.push(USAGE.hasTag(`$${params.length}`));
  }
  add('created_at', f.since, '>=');
  add('created_at', f.until, '<');
  return { sql: parts.join(' AND '), params };
}

/** The columns of a `RequestRow` over `requests r` (with `r.seq` selected beside: the order of rows admitted in the same millisecond). */
export const ROW = `r.id, r.created_at AS "createdAt", r.company_id AS "companyId", r.user_id AS "userId", r.key_id AS "keyId", r.endpoint,
  r.requested_model AS "requestedModel", r.returned_model AS "returnedModel", r.feature, r.end_user AS "endUser", r.tags, r.stream, r.status, r.http_status AS "httpStatus",
  r.input_tokens AS "inputTokens", r.cached_input_tokens AS "cachedInputTokens", r.output_tokens AS "outputTokens", r.reasoning_tokens AS "reasoningTokens",
  r.total_tokens AS "totalTokens", r.metered_tokens AS "meteredTokens", r.cost_micro_usd AS "costMicroUsd", r.usage_source AS "usageSource",
  r.latency_ms AS "latencyMs", r.error_code AS "errorCode"`;

/** A `RequestRow` as selected (tags as the column's JSON text), with its `seq`. */
export type Selected = Omit<RequestRow, 'tags'> & { tags: string | null; seq: number };

/** The `RequestRow` of a selected row. */
export const strip = ({ seq: _seq, ...row }: Selected): RequestRow => ({ ...row, tags: tagsOf(row.tags) });
