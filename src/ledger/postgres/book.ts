import type pg from 'pg';
import {
  capacityTokens,
  covers,
  isActive,
  microUsdOf,
  planBurn,
  planHold,
  remaining,
  type GrantState,
} from '../allocate.js';
import { quotaCapacityTokens, standingAfterHold, unlimitedFirst } from '../capacity.js';
import { unitsJson } from '../units.js';
import type { AdmitResult, CounterState, HoldRequest, Outcome, QuotaCheck, RequestFacts, Settled } from '../port.js';
import { tagsText } from '../tags.js';
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

/** The request row's columns at admission, in `INSERT_REQUEST`'s order ($1…$19). */
function requestValues(
  facts: RequestFacts,
  at: string,
  instanceId: string,
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
    facts.endUser ?? null,
    tagsText(facts.tags),
  ];
}

const INSERT_REQUEST = `INSERT INTO requests (id, created_at, company_id, key_id, user_id, session_id, feature, endpoint, requested_model, stream, status, estimated_prompt_tokens, hold_tokens, hold_micro_usd, instance_id, conversation_id, client_request_id, forwarded, end_user, tags)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'held', $11, $12, $13, $14, $15, $16, $17, $18, $19)`;

/** Writes the `held` row of a request that is not billed on an estimate (one statement, no lock). */
export async function openRow(
  c: pg.Pool | pg.PoolClient,
  facts: RequestFacts,
  now: Date,
  instanceId: string,
): Promise<void> {
  await c.query(INSERT_REQUEST, requestValues(facts, now.toISOString(), instanceId, 0, 0));
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
 */
export async function admitRow(
  c: pg.PoolClient,
  facts: RequestFacts,
  want: HoldRequest,
  now: Date,
  quotas: QuotaCheck[],
  instanceId: string,
): Promise<AdmitResult> {
  const at = now.toISOString();
  const costOnly = want.costOnly === true;
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
      h AS (INSERT INTO holds (request_id, grant_id, amount) SELECT $1, g, a FROM unnest($20::text[], $21::bigint[]) AS t(g, a)),
      u AS (UPDATE grants SET held = held + t.a FROM unnest($20::text[], $21::bigint[]) AS t(g, a) WHERE grants.id = t.g),
      qh AS (INSERT INTO quota_holds (request_id, counter_id, tokens, micro_usd) SELECT $1, q, $12, $13 FROM unnest($22::text[]) AS q),
      qu AS (UPDATE quota_counters SET held_tokens = held_tokens + $12, held_micro_usd = held_micro_usd + $13 WHERE id = ANY($22::text[]))
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

interface Head {
  company_id: string;
  requested_model: string | null;
  status: string;
  holds: { grantId: string; amount: number }[] | null;
  quota_holds: { counterId: string; tokens: number; microUsd: number }[] | null;
}

/**
 * Settles, voids or interrupts a held request inside a transaction: locks its row, then the
 * company's grants and its counters (the common order), burns with `allocate.ts` and writes the row,
 * debits, running totals and the billed object in one statement. `false` when the row is not held.
 */
export async function finishRow(
  c: pg.PoolClient,
  requestId: string,
  status: 'settled' | 'voided' | 'interrupted',
  outcome: Outcome,
  now: Date,
): Promise<Settled | false> {
  const at = now.toISOString();
  const { rows: heads } = await c.query<Head>(
    `SELECT r.company_id, r.requested_model, r.status,
       (SELECT json_agg(json_build_object('grantId', h.grant_id, 'amount', h.amount)) FROM holds h WHERE h.request_id = r.id) AS holds,
       (SELECT json_agg(json_build_object('counterId', q.counter_id, 'tokens', q.tokens, 'microUsd', q.micro_usd) ORDER BY q.counter_id COLLATE "C") FROM quota_holds q WHERE q.request_id = r.id) AS quota_holds
     FROM requests r WHERE r.id = $1 FOR UPDATE OF r`,
    [requestId],
  );
  const head = heads[0];
  if (!head || head.status !== 'held') return false;
  let o = outcome;
  if (o.billedObject && status === 'settled') {
    const billed = await c.query(
      'INSERT INTO billed_objects (object_id, kind, request_id, billed_at) VALUES ($1, $2, $3, $4) ON CONFLICT (object_id) DO NOTHING',
      [o.billedObject.id, o.billedObject.kind, requestId, at],
    );
    if (billed.rowCount === 0)
      o = { ...o, meteredTokens: 0, costMicroUsd: 0, costNanoUsd: 0, errorCode: o.errorCode ?? 'already_billed' };
  }
  const held = head.holds ?? [];
  const quotaHeld = head.quota_holds ?? [];
  const charged = status !== 'voided';
  const model = head.requested_model ?? o.model ?? null;
  const burning = o.meteredTokens > 0 || o.costMicroUsd > 0;
  const locked = held.length > 0 || burning ? await lockGrants(c, head.company_id) : [];
  // Each grant's standing with this request's hold released.
  const heldAmount = new Map(held.map((h) => [h.grantId, h.amount]));
  const released = burnOrder(locked).map((r) => ({ ...stateOf(r), held: r.held - (heldAmount.get(r.id) ?? 0) }));
  const parts = burning ? burn(released, held, model, o, at) : [];
  const delta = new Map<string, { held: number; spent: number }>();
  for (const h of held) delta.set(h.grantId, { held: -h.amount, spent: 0 });
  for (const p of parts) delta.set(p.grantId, { held: delta.get(p.grantId)?.held ?? 0, spent: p.amount });
  const u = o.usage;
  const { rows: counters } = await c.query<CounterRow>(
    `WITH r AS (UPDATE requests SET status = $2, http_status = $3, returned_model = $4, requested_model = COALESCE(requested_model, $5), price_version = $6,
          input_tokens = $7, cached_input_tokens = $8, output_tokens = $9, reasoning_tokens = $10, total_tokens = $11, metered_tokens = $12,
          cost_micro_usd = $13, usage_source = $14, latency_ms = $15, ttfb_ms = $16, upstream_request_id = $17, error_code = $18, settled_at = $19,
          cost_nano_usd = $32, tool_calls = $33, units = $34, price_source = $35
        WHERE id = $1),
      dh AS (DELETE FROM holds WHERE request_id = $1),
      g AS (UPDATE grants SET held = held + t.dh, spent = spent + t.ds FROM unnest($20::text[], $21::bigint[], $22::bigint[]) AS t(id, dh, ds) WHERE grants.id = t.id),
      d AS (INSERT INTO debits (request_id, grant_id, unit, amount, overdraft, created_at) SELECT $1, t.id, t.unit, t.amount, t.overdraft, $19 FROM unnest($23::text[], $24::text[], $25::bigint[], $26::bigint[]) AS t(id, unit, amount, overdraft)),
      dq AS (DELETE FROM quota_holds WHERE request_id = $1)
     UPDATE quota_counters c SET held_tokens = c.held_tokens - t.tokens, held_micro_usd = c.held_micro_usd - t.micro_usd, spent_tokens = c.spent_tokens + $27, spent_micro_usd = c.spent_micro_usd + $28
       FROM unnest($29::text[], $30::bigint[], $31::bigint[]) AS t(id, tokens, micro_usd) WHERE c.id = t.id
     RETURNING ${COUNTER_COLUMNS.replace(/(^|, )(\w+)/g, '$1c.$2')}`,
    [
      requestId,
      status,
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
      o.usageSource,
      o.latencyMs,
      o.ttfbMs ?? null,
      o.upstreamRequestId ?? null,
      o.errorCode ?? null,
      at,
      [...delta.keys()],
      [...delta.values()].map((x) => x.held),
      [...delta.values()].map((x) => x.spent),
      parts.map((p) => p.grantId),
      parts.map((p) => p.unit),
      parts.map((p) => p.amount),
      parts.map((p) => p.overdraft),
      charged ? o.meteredTokens : 0,
      charged ? o.costMicroUsd : 0,
      quotaHeld.map((q) => q.counterId),
      quotaHeld.map((q) => q.tokens),
      quotaHeld.map((q) => q.microUsd),
      o.costNanoUsd ?? o.costMicroUsd * 1000,
      o.toolCalls ? JSON.stringify(o.toolCalls) : null,
      unitsJson(u),
      o.priceSource ?? null,
    ],
  );
  const byId = new Map(released.map((g) => [g.id, g]));
  const grants = parts.map((p) => {
    const g = byId.get(p.grantId)!;
    return { ...g, spent: g.spent + p.amount };
  });
  const order = new Map(quotaHeld.map((q, i) => [q.counterId, i]));
  counters.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  return { grants, counters };
}

/** The debits of a settle, as the SQLite ledger computes them (see its `burn`): held grants first, then the others in burn order. */
function burn(
  released: GrantState[],
  held: { grantId: string; amount: number }[],
  model: string | null,
  o: Outcome,
  at: string,
) {
  const byId = new Map(released.map((g) => [g.id, g]));
  const heldGrants: GrantState[] = [];
  for (const h of held) {
    const g = byId.get(h.grantId);
    if (!g) continue;
    heldGrants.push(remaining(g) >= h.amount ? g : { ...g, amount: g.spent + g.held + h.amount });
  }
  let order = unlimitedFirst(heldGrants);
  let parts = planBurn(order, o.meteredTokens, o.costMicroUsd);
  if (order.length === 0 || parts.some((p) => p.overdraft > 0)) {
    const heldIds = new Set(held.map((h) => h.grantId));
    const others = released.filter((g) => !heldIds.has(g.id) && isActive(g, at) && covers(g, model));
    order = [...order, ...others];
    parts = planBurn(order, o.meteredTokens, o.costMicroUsd);
  }
  return parts;
}
