import type pg from 'pg';
import { capacityTokens, covers, isActive, microUsdOf, planHold, type GrantState } from '../allocate.js';
import { quotaCapacityTokens, standingAfterHold } from '../capacity.js';
import type { AdmitResult, CounterState, HoldRequest, Outcome, QuotaCheck, RequestFacts, Settled } from '../port.js';
import { burnOrder, stateOf, type GrantRow } from './grants.js';

/** Locks every grant of a company (removed ones too), in id order: the one lock order every writer follows (grants, then counters). */
async function lockGrants(c: pg.PoolClient, companyId: string): Promise<GrantRow[]> {
  const { rows } = await c.query<GrantRow>(
    'SELECT * FROM grants WHERE company_id = $1 ORDER BY id COLLATE "C" FOR UPDATE',
    [companyId],
  );
  return rows;
}

interface CounterRow extends CounterState {
  id: string;
}

const COUNTER_COLUMNS =
  'id, spent_tokens AS "spentTokens", held_tokens AS "heldTokens", spent_micro_usd AS "spentMicroUsd", held_micro_usd AS "heldMicroUsd"';

/** Creates the quota counters missing and locks all of them in id order, in one statement; returns them in `checks` order. */
async function lockCounters(
  c: pg.PoolClient,
  companyId: string,
  checks: QuotaCheck[],
  at: string,
): Promise<CounterRow[]> {
  if (checks.length === 0) return [];
  const sorted = [...new Map(checks.map((q) => [q.counterId, q])).values()].sort((a, b) =>
    a.counterId < b.counterId ? -1 : 1,
  );
  const { rows } = await c.query<CounterRow>(
    `INSERT INTO quota_counters (id, company_id, scope, scope_id, "window", window_key, created_at)
     SELECT t.id, $1, t.scope, t.scope_id, t.win, t.win_key, $2 FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS t(id, scope, scope_id, win, win_key, n)
     ORDER BY t.n
     ON CONFLICT (id) DO UPDATE SET id = EXCLUDED.id
     RETURNING ${COUNTER_COLUMNS}`,
    [
      companyId,
      at,
      sorted.map((q) => q.counterId),
      sorted.map((q) => q.scope),
      sorted.map((q) => q.scopeId),
      sorted.map((q) => q.window),
      sorted.map((q) => q.windowKey),
    ],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  return checks.map((q) => byId.get(q.counterId)!);
}

/** The request row's columns at admission, in `INSERT_REQUEST`'s order ($1…$17). */
function requestValues(
  facts: RequestFacts,
  at: string,
  instanceId: string | null,
  holdTokens: number,
  holdMicroUsd: number,
): unknown[] {
  return [
    facts.id,
    at,
    facts.companyId,
    facts.keyId,
    facts.userId ?? null,
    facts.sessionId ?? null,
    facts.feature ?? null,
    facts.endpoint,
    facts.requestedModel,
    facts.stream,
    facts.estimatedPromptTokens ?? 0,
    holdTokens,
    holdMicroUsd,
    instanceId,
    facts.conversationId ?? null,
    facts.clientRequestId ?? null,
    facts.forwardedLater ? false : null,
  ];
}

const INSERT_REQUEST = `INSERT INTO requests (id, created_at, company_id, key_id, user_id, session_id, feature, endpoint, requested_model, stream, status, estimated_prompt_tokens, hold_tokens, hold_micro_usd, instance_id, conversation_id, client_request_id, forwarded)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'held', $11, $12, $13, $14, $15, $16, $17)`;

/** Writes the `held` row of a request that is not billed on an estimate (one statement, no lock). */
export async function openRow(
  c: pg.Pool | pg.PoolClient,
  facts: RequestFacts,
  now: Date,
  instanceId: string,
): Promise<void> {
  await c.query(INSERT_REQUEST, requestValues(facts, now.toISOString(), instanceId, 0, 0));
}

/**
 * Withdraws a request whose admission was never confirmed (see `LedgerWriter.cancel`), inside a
 * transaction: records it `voided` when its row is absent — so an admission arriving later conflicts
 * on the id and writes nothing — else voids it like `finishRow` (nothing when it is no longer held).
 */
export async function cancelRow(
  c: pg.PoolClient,
  facts: RequestFacts,
  outcome: Omit<Outcome, 'meteredTokens' | 'costMicroUsd'>,
  now: Date,
): Promise<boolean> {
  const at = now.toISOString();
  const values = requestValues(facts, at, null, 0, 0);
  const inserted = await c.query(
    `INSERT INTO requests (id, created_at, company_id, key_id, user_id, session_id, feature, endpoint, requested_model, stream, status, estimated_prompt_tokens, hold_tokens, hold_micro_usd, instance_id, conversation_id, client_request_id, forwarded, http_status, error_code, latency_ms, usage_source, settled_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'voided', $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, 'none', $2)
     ON CONFLICT (id) DO NOTHING`,
    [...values, outcome.httpStatus, outcome.errorCode ?? null, outcome.latencyMs],
  );
  if (inserted.rowCount === 1) return true;
  return (await finishRow(c, facts.id, 'voided', { ...outcome, meteredTokens: 0, costMicroUsd: 0 }, now)) !== false;
}

interface Decision {
  eligible: GrantState[];
  pico: number;
  /** The tokens to hold, or the refusal. */
  hold: number | AdmitResult;
}

/** Admission's decision on the grants and counters read (the same arithmetic as the SQLite ledger, with `allocate.ts`). */
function decide(
  rows: GrantRow[],
  counters: CounterRow[],
  facts: RequestFacts,
  want: HoldRequest,
  quotas: QuotaCheck[],
  at: string,
): Decision {
  const costOnly = want.costOnly === true;
  const pico = costOnly ? 1_000_000 : want.maxPicoPerToken;
  const eligible = burnOrder(rows)
    .map(stateOf)
    .filter(
      (g) => isActive(g, at) && covers(g, facts.requestedModel) && (!costOnly || g.unlimited || g.unit === 'micro_usd'),
    );
  const grantCapacity = eligible.reduce((sum, g) => sum + capacityTokens(g, pico), 0);
  const quotaCapacity = quotas.map((check, i) =>
    quotaCapacityTokens(costOnly ? { ...check, limitTokens: undefined } : check, counters[i]!, pico),
  );
  const available = Math.min(grantCapacity, ...quotaCapacity);
  const min = Math.max(1, want.minTokens);
  const max = Math.max(min, want.maxTokens);
  if (available >= max) return { eligible, pico, hold: max };
  if (want.clamp && available > min) return { eligible, pico, hold: available };
  const q = quotaCapacity.findIndex((cap) => cap === available && cap < grantCapacity);
  return {
    eligible,
    pico,
    hold:
      q >= 0
        ? { ok: false, reason: 'quota', quota: quotas[q]!, availableTokens: available }
        : { ok: false, reason: 'balance', availableTokens: available },
  };
}

const EMPTY_COUNTER = { spentTokens: 0, heldTokens: 0, spentMicroUsd: 0, heldMicroUsd: 0 };

/**
 * Admission's refusal read without locks (one or two statements, no transaction): when the grants
 * and counters as last committed cannot cover the request, it is refused at that instant — a
 * refusal needs no lock, since holding nothing changes nothing. Resolves to the refusal, or null
 * when the request may fit (then `admitRow` decides under the locks).
 */
export async function refusalWithoutLock(
  c: pg.Pool,
  facts: RequestFacts,
  want: HoldRequest,
  now: Date,
  quotas: QuotaCheck[],
): Promise<AdmitResult | null> {
  const { rows } = await c.query<GrantRow>('SELECT * FROM grants WHERE company_id = $1', [facts.companyId]);
  let counters: CounterRow[] = [];
  if (quotas.length) {
    const read = await c.query<CounterRow>(`SELECT ${COUNTER_COLUMNS} FROM quota_counters WHERE id = ANY($1::text[])`, [
      quotas.map((q) => q.counterId),
    ]);
    const byId = new Map(read.rows.map((r) => [r.id, r]));
    counters = quotas.map((q) => byId.get(q.counterId) ?? { id: q.counterId, ...EMPTY_COUNTER });
  }
  const { hold } = decide(rows, counters, facts, want, quotas, now.toISOString());
  return typeof hold === 'number' ? null : hold;
}

/**
 * Admission inside a transaction: locks the company's grants (id order), then its quota counters
 * (id order), decides with `allocate.ts`, and writes the row, its holds and the running totals in
 * one statement. Round trips: the grants lock, the counters lock (when quotas apply), the write.
 * `'fenced'` (nothing written) when this instance was declared gone.
 */
export async function admitRow(
  c: pg.PoolClient,
  facts: RequestFacts,
  want: HoldRequest,
  now: Date,
  quotas: QuotaCheck[],
  instanceId: string,
): Promise<AdmitResult | 'fenced'> {
  const at = now.toISOString();
  const costOnly = want.costOnly === true;
  const live = await c.query<{ live: boolean }>('SELECT stopped_at IS NULL AS live FROM instances WHERE id = $1', [
    instanceId,
  ]);
  if (live.rows[0]?.live !== true) return 'fenced';
  const locked = await lockGrants(c, facts.companyId);
  const counters = await lockCounters(c, facts.companyId, quotas, at);
  const { eligible, pico, hold } = decide(locked, counters, facts, want, quotas, at);
  if (typeof hold !== 'number') return hold;
  const holdMicroUsd = costOnly ? hold : microUsdOf(hold, pico);
  const holdTokens = costOnly ? 0 : hold;
  const parts = planHold(eligible, hold, pico);
  const counterIds = [...new Set(quotas.map((q) => q.counterId))];
  await c.query(
    `WITH r AS (${INSERT_REQUEST}),
      h AS (INSERT INTO holds (request_id, grant_id, amount) SELECT $1, g, a FROM unnest($18::text[], $19::bigint[]) AS t(g, a)),
      u AS (UPDATE grants SET held = held + t.a FROM unnest($18::text[], $19::bigint[]) AS t(g, a) WHERE grants.id = t.g),
      qh AS (INSERT INTO quota_holds (request_id, counter_id, tokens, micro_usd) SELECT $1, q, $12, $13 FROM unnest($20::text[]) AS q),
      qu AS (UPDATE quota_counters SET held_tokens = held_tokens + $12, held_micro_usd = held_micro_usd + $13 WHERE id = ANY($20::text[]))
     SELECT 1`,
    [
      ...requestValues(facts, at, instanceId, holdTokens, holdMicroUsd),
      parts.map((p) => p.grantId),
      parts.map((p) => p.amount),
      counterIds,
    ],
  );
  return {
    ok: true,
    holdTokens,
    standing: standingAfterHold(eligible, parts, quotas, counters, holdTokens, holdMicroUsd),
  };
}

/** The parameters of `tollgate_finish` ($1…$24, see migrations/postgres/0007_ledger_functions.sql). */
const FINISH = `SELECT tollgate_finish($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24) AS r`;

/**
 * Settles, voids or interrupts a held request in one statement (one round trip): `tollgate_finish`
 * locks its row, then the company's grants and its quota counters (the common order), burns with
 * the arithmetic of `allocate.ts` and writes the row, debits, running totals and the billed object.
 * `false` when the row is not held — except a late settlement of a row a sweep resolved while its
 * replica still served it (`interrupted`), which replaces the interrupted charge by the real one,
 * once. `sweeper` (a sweep by that instance): leaves a row another live instance holds (one that
 * registered again and took it over).
 */
export async function finishRow(
  c: pg.Pool | pg.PoolClient,
  requestId: string,
  status: 'settled' | 'voided' | 'interrupted',
  o: Outcome,
  now: Date,
  sweeper: string | null = null,
): Promise<Settled | false> {
  const u = o.usage;
  const { rows } = await (c as pg.Pool).query<{ r: Settled | null }>({
    name: 'tollgate_finish',
    text: FINISH,
    values: [
      requestId,
      status,
      now.toISOString(),
      sweeper,
      o.httpStatus,
      o.returnedModel ?? null,
      o.model ?? null,
      o.priceVersion ?? null,
      u?.inputTokens ?? 0,
      u?.cachedInputTokens ?? 0,
      u?.outputTokens ?? 0,
      u?.reasoningTokens ?? 0,
      u?.totalTokens ?? 0,
      o.meteredTokens,
      o.costMicroUsd,
      o.costNanoUsd ?? o.costMicroUsd * 1000,
      o.toolCalls ? JSON.stringify(o.toolCalls) : null,
      o.usageSource,
      o.latencyMs,
      o.ttfbMs ?? null,
      o.upstreamRequestId ?? null,
      o.errorCode ?? null,
      o.billedObject?.id ?? null,
      o.billedObject?.kind ?? null,
    ],
  });
  return rows[0]?.r ?? false;
}
