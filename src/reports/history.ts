import type { LedgerReader, RequestFilter } from '../ledger/port.js';

/** One request in the usage history: model, tokens used, date, and the tokens remaining after it. */
export interface HistoryRow {
  requestId: string;
  /** Admission instant, ISO 8601 UTC. */
  createdAt: string;
  companyId: string;
  userId: string | null;
  endpoint: string;
  /** The model the caller asked for. */
  model: string | null;
  feature: string | null;
  /** The end user the request was made for, as stored (sent or hashed); null when none. */
  endUser: string | null;
  /** Its spend tags; empty when none. */
  tags: string[];
  status: 'settled' | 'voided' | 'interrupted';
  /** Tokens the request used (`total_tokens`). */
  tokensUsed: number;
  /** Its cost, integer micro-USD. */
  costMicroUsd: number;
  /** The company's tokens left right after this request (null when too far back to replay); see `LedgerReader.recent`. */
  remainingTokens: number | null;
}

/**
 * The last `limit` finished requests (default 50; rows still `held` are in flight and left out),
 * newest first, of one company or of all (and of one spend tag or end user, as stored), each with the company's tokens remaining after it: the
 * tokens left now on its active limited tokens grants plus what its later rows debited from them.
 * Usage charged to an unlimited grant, a USD grant, or a grant that is no longer active does not
 * move it; a grant's later edits, expiries and overdrafts are not replayed, so for old rows it is
 * the current grants' view.
 */
export async function historyReport(
  reader: LedgerReader,
  now: Date,
  opts: { companyId?: string; limit?: number; tag?: string; endUser?: string } = {},
): Promise<HistoryRow[]> {
  const filter: RequestFilter = {};
  if (opts.companyId !== undefined) filter.companyId = opts.companyId;
  if (opts.tag !== undefined) filter.tag = opts.tag;
  if (opts.endUser !== undefined) filter.endUser = opts.endUser;
  const rows = await reader.recent(filter, opts.limit ?? 50, now);
  return rows.map((r) => ({
    requestId: r.id,
    createdAt: r.createdAt,
    companyId: r.companyId,
    userId: r.userId,
    endpoint: r.endpoint,
    model: r.requestedModel,
    feature: r.feature,
    endUser: r.endUser,
    tags: r.tags,
    status: r.status,
    tokensUsed: r.totalTokens,
    costMicroUsd: r.costMicroUsd,
    remainingTokens: r.remainingTokens,
  }));
}
