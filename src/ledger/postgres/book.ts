import type pg from 'pg';
import type { AdmitResult, HoldRequest, Outcome, QuotaCheck, RequestFacts, Settled } from '../port.js';
import { modelFamily } from '../../metering/model.js';
import { chargeColumns, outcomeValues } from '../outcome-values.js';
import type { Marks } from './marks.js';
import type { Pipelines } from './pipeline.js';
import { tagsText } from '../tags.js';

/**
 * The hot path's statements on a Postgres ledger: each admission and each settlement is one call of
 * a function the migrations own (`tollgate_admit`, `tollgate_finish`, see
 * migrations/postgres/0011_ledger_functions.sql), sent as a prepared statement: one round trip,
 * one commit.
 */

/** The request row's columns at admission, in `tollgate_admit`'s and `tollgate_open`'s order ($1…$17). */
function requestValues(facts: RequestFacts, at: string, instanceId: string | null): unknown[] {
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
    instanceId,
    facts.conversationId ?? null,
    facts.clientRequestId ?? null,
    facts.forwardedLater ? false : null,
    facts.endUser ?? null,
    tagsText(facts.tags),
  ];
}

const ADMIT = `SELECT tollgate_admit(${Array.from({ length: 31 }, (_, i) => `$${i + 1}`).join(', ')}) AS r`;

/** What `tollgate_admit` answers. */
type AdmitAnswer =
  | { fenced: true }
  | { count: true }
  | {
      ok: true;
      hold: number;
      tokens: number;
      microUsd: number;
      unlimited: boolean;
      quotas: { t: number | null; c: number | null }[];
    }
  | { ok: false; quota: number | null; available: number };

/**
 * Admission in one statement (`tollgate_admit`): locks the company's grants, then the quota
 * counters of `quotas` (each in id order, the one lock order of every writer), decides with the
 * arithmetic of `allocate.ts` and writes the row, its holds and the running totals — or refuses,
 * writing nothing. `'fenced'` (nothing written) when `instanceId` was declared gone. `ample` > 0 (a
 * request on a bound of its uncounted prompt): `'count'` (nothing written) when what is left is under
 * `ample` times the most it would hold — ask again on the counted prompt (see `AMPLE`).
 * @throws the driver's error; a unique violation when the admission was withdrawn before it arrived.
 */
export async function admitRow(
  hot: Pipelines,
  facts: RequestFacts,
  want: HoldRequest,
  now: Date,
  quotas: QuotaCheck[],
  instanceId: string,
  ample = 0,
): Promise<AdmitResult | 'fenced' | 'count'> {
  const { rows } = await hot.query<{ r: AdmitAnswer }>(facts.companyId, {
    name: 'tollgate_admit_ample',
    text: ADMIT,
    values: [
      ...requestValues(facts, now.toISOString(), instanceId),
      want.minTokens,
      want.maxTokens,
      want.clamp,
      want.maxPicoPerToken,
      want.costOnly === true,
      facts.requestedModel === null ? null : modelFamily(facts.requestedModel),
      quotas.map((q) => q.counterId),
      quotas.map((q) => q.scope),
      quotas.map((q) => q.scopeId),
      quotas.map((q) => q.window),
      quotas.map((q) => q.windowKey),
      quotas.map((q) => q.limitTokens ?? null),
      quotas.map((q) => q.limitMicroUsd ?? null),
      ample,
    ],
  });
  const r = rows[0]!.r;
  if ('fenced' in r) return 'fenced';
  if ('count' in r) return 'count';
  if (!r.ok)
    return r.quota === null
      ? { ok: false, reason: 'balance', availableTokens: r.available }
      : { ok: false, reason: 'quota', quota: quotas[r.quota]!, availableTokens: r.available };
  return {
    ok: true,
    holdTokens: r.hold,
    standing: {
      tokens: r.tokens,
      microUsd: r.microUsd,
      unlimited: r.unlimited,
      quotas: quotas.map((check, i) => ({
        check,
        remainingTokens: r.quotas[i]!.t ?? undefined,
        remainingMicroUsd: r.quotas[i]!.c ?? undefined,
      })),
    },
  };
}

const OPEN = `SELECT tollgate_open(${Array.from({ length: 17 }, (_, i) => `$${i + 1}`).join(', ')}) AS r`;

/**
 * Writes the `held` row of a request that is not billed on an estimate (one statement, no lock).
 * `'fenced'` (nothing written) when `instanceId` was declared gone.
 */
export async function openRow(
  hot: Pipelines,
  facts: RequestFacts,
  now: Date,
  instanceId: string,
): Promise<'fenced' | undefined> {
  const { rows } = await hot.query<{ r: boolean | null }>(facts.companyId, {
    name: 'tollgate_open',
    text: OPEN,
    values: requestValues(facts, now.toISOString(), instanceId),
  });
  return rows[0]?.r ? undefined : 'fenced';
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
  const inserted = await c.query(
    `INSERT INTO requests (id, created_at, company_id, key_id, user_id, session_id, feature, endpoint, requested_model, stream, status, estimated_prompt_tokens, instance_id, conversation_id, client_request_id, forwarded, end_user, tags, hold_tokens, hold_micro_usd, http_status, error_code, latency_ms, usage_source, settled_at, settle_xid)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'voided', $11, $12, $13, $14, $15, $16, $17, 0, 0, $18, $19, $20, 'none', $2, pg_current_xact_id())
     ON CONFLICT (id) DO NOTHING`,
    [...requestValues(facts, at, null), outcome.httpStatus, outcome.errorCode ?? null, outcome.latencyMs],
  );
  if (inserted.rowCount === 1) return true;
  return (await finishRow(c, facts.id, 'voided', { ...outcome, meteredTokens: 0, costMicroUsd: 0 }, now)) !== false;
}

/**
 * The parameters of `tollgate_finish` ($1…$26; see migrations/postgres/0011_ledger_functions.sql,
 * replaced by 0012_rollups.sql, which also writes the rollups' fold mark `settle_xid`; since
 * 0017_lean_settle.sql the common case — one grant held, which covers the charge — runs in a few small
 * statements, every other case in 0015's body, `tollgate_finish_general`).
 */
const FINISH = `SELECT tollgate_finish(${Array.from({ length: 26 }, (_, i) => `$${i + 1}`).join(', ')}) AS r`;
/**
 * `tollgate_finish` after writing `forwarded` marks ($1 the rows, $2 their prompts' tokens or NULL; see
 * migrations/postgres/0015_hold_on_row.sql).
 */
const FINISH_MARKING = `SELECT tollgate_finish_marking(${Array.from({ length: 28 }, (_, i) => `$${i + 1}`).join(', ')}) AS r`;

/** See `markForwarded`. */
const MARK_FORWARDED = `UPDATE requests SET forwarded = true, estimated_prompt_tokens = coalesce(t.prompt, requests.estimated_prompt_tokens)
  FROM unnest($1::text[], $2::bigint[]) AS t(id, prompt)
  WHERE requests.id = t.id AND requests.status = 'held' AND requests.forwarded = false`;

/**
 * Writes `forwarded` marks in a statement of their own (each with its prompt's tokens when admission did not
 * count them): only rows still held and not yet marked, as `tollgate_finish_marking` does.
 * @throws the driver's error.
 */
export async function markForwarded(hot: Pipelines, marks: Marks): Promise<void> {
  await hot.query('forwarded', {
    name: 'tollgate_forwarded_counted',
    text: MARK_FORWARDED,
    values: [marks.ids, marks.prompts],
  });
}

/**
 * Settles, voids or interrupts a held request in one statement (one round trip): `tollgate_finish`
 * locks its row, then the company's grants and its quota counters (the common order), burns with
 * the arithmetic of `allocate.ts` and writes the row, debits, running totals and the billed object.
 * `false` when the row is not held — except a late settlement of a row a sweep resolved while its
 * replica still served it (`interrupted`), which replaces the interrupted charge by the real one,
 * once. `sweeper` (a sweep by that instance): leaves a row another live instance holds (one that
 * registered again and took it over). `marks`: held rows to mark `forwarded` first (with their
 * prompts' tokens when given), in the same statement (see `ForwardedMarks.carry`).
 */
export async function finishRow(
  c: pg.Pool | pg.PoolClient | { hot: Pipelines; key: string },
  requestId: string,
  status: 'settled' | 'voided' | 'interrupted',
  o: Outcome,
  now: Date,
  sweeper: string | null = null,
  marks: Marks = { ids: [], prompts: [] },
): Promise<Settled | false> {
  const v = outcomeValues(o);
  const marking = marks.ids.length > 0;
  const q = {
    name: marking ? 'tollgate_finish_marking_counted' : 'tollgate_finish',
    text: marking ? FINISH_MARKING : FINISH,
    values: [
      ...(marking ? [marks.ids, marks.prompts] : []),
      requestId,
      status,
      now.toISOString(),
      sweeper,
      v.httpStatus,
      v.returnedModel,
      v.model,
      v.priceVersion,
      ...chargeColumns(v),
      v.usageSource,
      v.latencyMs,
      v.ttfbMs,
      v.upstreamRequestId,
      v.errorCode,
      o.billedObject?.id ?? null,
      o.billedObject?.kind ?? null,
      v.units,
      v.priceSource,
    ],
  };
  const { rows } =
    'hot' in c
      ? await c.hot.query<{ r: Settled | null }>(c.key, q)
      : await (c as pg.Pool).query<{ r: Settled | null }>(q);
  const r = rows[0]?.r;
  if (!r) return false;
  // Instants come as JSON renders timestamptz (`2026-11-22T10:00:00+00:00`): the port's are ISO 8601 UTC with ms.
  const iso = (t: string | null) => (t === null ? null : new Date(t).toISOString());
  for (const g of r.grants) {
    g.startsAt = iso(g.startsAt);
    g.expiresAt = iso(g.expiresAt);
    g.removedAt = iso(g.removedAt);
  }
  return r;
}
