import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

export * from './schema-objects.js';
export * from './schema-rollups.js';

/**
 * The ledger's tables (SQLite, via drizzle). Conventions an operator can rely on:
 * times are ISO 8601 UTC text (`2026-11-22T01:02:03.456Z`), tokens and money are integers,
 * money is micro-USD (1 USD = 1,000,000), durations are milliseconds.
 */

/**
 * Grants (the config's `allocations`), mirrored from the config at start and on reload. A grant's
 * `amount`, `spent` and `held` are in its `unit`: `tokens`, or `micro_usd` (1 USD = 1,000,000).
 * An `unlimited` grant has no amount; what it covers is still debited to it, in tokens.
 * `spent` and `held` are running totals kept in the same transaction as the debits and holds that
 * change them, so admission never sums history.
 */
export const grants = sqliteTable(
  'grants',
  {
    id: text('id').primaryKey(),
    companyId: text('company_id').notNull(),
    unit: text('unit', { enum: ['tokens', 'micro_usd'] }).notNull(),
    amount: integer('amount').notNull(),
    unlimited: integer('unlimited', { mode: 'boolean' }).notNull().default(false),
    /** JSON array of model names or families the grant covers; NULL covers every model. */
    models: text('models'),
    startsAt: text('starts_at'),
    expiresAt: text('expires_at'),
    purchaseId: text('purchase_id'),
    note: text('note'),
    /** Burn order between grants: lower burns first (then soonest expiry, then oldest); 1 unless the config sets it. */
    priority: integer('priority').notNull().default(1),
    /** Set when the grant disappears from the config: it stops counting, its history stays. */
    removedAt: text('removed_at'),
    spent: integer('spent').notNull().default(0),
    held: integer('held').notNull().default(0),
    createdAt: text('created_at').notNull(),
    updatedAt: text('updated_at').notNull(),
  },
  (t) => [index('grants_company').on(t.companyId)],
);

/** Purchase records (where a company's tokens came from and what they cost), mirrored from the config's `purchases`. */
export const purchases = sqliteTable('purchases', {
  id: text('id').primaryKey(),
  date: text('date').notNull(),
  totalTokens: integer('total_tokens').notNull(),
  /** USD per token, as the admin entered it (a price, not an amount of money owed). */
  costPerTokenUsd: real('cost_per_token_usd').notNull(),
  provider: text('provider').notNull(),
  expiresAt: text('expires_at'),
  notes: text('notes'),
  removedAt: text('removed_at'),
});

/** One row per request forwarded upstream, written (status `held`) before the first byte goes upstream. */
export const requests = sqliteTable(
  'requests',
  {
    id: text('id').primaryKey(),
    createdAt: text('created_at').notNull(),
    companyId: text('company_id').notNull(),
    keyId: text('key_id'),
    userId: text('user_id'),
    /** The JWT's session id (`sid`), for per-session quotas; on a Realtime row, the WebSocket session's `rts_…` id. */
    sessionId: text('session_id'),
    /** The Responses conversation the request continues (`conversation`), to hold for its earlier turns. */
    conversationId: text('conversation_id'),
    /** The feature named by the request's `x-tollgate-feature` header, whose rate scaled `metered_tokens`. */
    feature: text('feature'),
    /**
     * The end user of the company's app the request was made for: its `safety_identifier` (else
     * `user`), as sent or hashed per the company's `endUsers.store`; NULL when it carried none.
     */
    endUser: text('end_user'),
    /** Spend tags, a JSON array of strings (`["search","team:growth"]`) from `x-tollgate-tags` and named `metadata` keys; NULL when none. */
    tags: text('tags'),
    endpoint: text('endpoint').notNull(),
    requestedModel: text('requested_model'),
    returnedModel: text('returned_model'),
    stream: integer('stream', { mode: 'boolean' }).notNull(),
    /** held → settled | voided | interrupted. */
    status: text('status', { enum: ['held', 'settled', 'voided', 'interrupted'] }).notNull(),
    /** The process (instance) that admitted the row, `inst_` + 16 hex digits; null for rows written before it was recorded. */
    instanceId: text('instance_id'),
    /**
     * Whether the request went upstream: 0 from admission until its first byte is sent, then 1
     * (written with the next group commit); NULL for rows that do not track it (taken as sent).
     * Crash recovery charges a row left at 0 nothing.
     */
    forwarded: integer('forwarded', { mode: 'boolean' }),
    /** The prompt tokens counted at admission (gpt-tokenizer). */
    estimatedPromptTokens: integer('estimated_prompt_tokens').notNull().default(0),
    /** The worst case held at admission, in tokens and in micro-USD. */
    holdTokens: integer('hold_tokens').notNull(),
    holdMicroUsd: integer('hold_micro_usd').notNull().default(0),
    /**
     * The grant the hold was placed on when it fit on one (most requests), and the amount held on it
     * in that grant's unit: an open hold while the row is `held`, kept on the row instead of a
     * `holds` row (one INSERT and one DELETE fewer per request). NULL when the hold spread over
     * several grants (then in `holds`) or there was none. The `open_holds` view shows both.
     */
    holdGrantId: text('hold_grant_id'),
    holdAmount: integer('hold_amount'),
    httpStatus: integer('http_status'),
    inputTokens: integer('input_tokens').notNull().default(0),
    cachedInputTokens: integer('cached_input_tokens').notNull().default(0),
    outputTokens: integer('output_tokens').notNull().default(0),
    reasoningTokens: integer('reasoning_tokens').notNull().default(0),
    totalTokens: integer('total_tokens').notNull().default(0),
    /** Tokens charged to grants. */
    meteredTokens: integer('metered_tokens').notNull().default(0),
    /** `cost_nano_usd` rounded half up: what USD grants and quota counters were charged. */
    costMicroUsd: integer('cost_micro_usd').notNull().default(0),
    /** The row's exact cost in nano-USD (1 USD = 1e9), built-in tool fees included; reports sum this. */
    costNanoUsd: integer('cost_nano_usd').notNull().default(0),
    /** Built-in tool calls billed on the row, JSON (`{"web_search":2,"code_interpreter":1}`); NULL when none. */
    toolCalls: text('tool_calls'),
    /** Usage beyond the token columns (audio and image tokens, images, characters, seconds), JSON; NULL when none (see src/ledger/units.ts). */
    units: text('units'),
    /**
     * Which price the cost used: `<priced name>@<origin>#<content hash>` (e.g.
     * `gpt-5.4@genai-prices-0.1.8#1f2e3d4c5b6a`; rows written before the hash: `gpt-4o@2025-08-07`).
     */
    priceVersion: text('price_version'),
    /** Who answered the price: `config`, `tollgate` (its own table), `genai-prices` (the price source) or `fallback`; NULL when unpriced. */
    priceSource: text('price_source', { enum: ['config', 'tollgate', 'genai-prices', 'fallback'] }),
    /**
     * `upstream`: the upstream's own usage; `computed`: units known from the request and response
     * (images, characters, a transcription's reported duration); `estimated`: counted with
     * gpt-tokenizer or from an upload's size because the upstream's usage never arrived (stream cut);
     * `none`: no usage and nothing charged.
     */
    usageSource: text('usage_source', { enum: ['upstream', 'computed', 'estimated', 'none'] }),
    latencyMs: real('latency_ms'),
    ttfbMs: real('ttfb_ms'),
    upstreamRequestId: text('upstream_request_id'),
    /** The caller's own `X-Client-Request-Id`, if it sent one (upstream gets tollgate's request id instead). */
    clientRequestId: text('client_request_id'),
    errorCode: text('error_code'),
    settledAt: text('settled_at'),
    /**
     * Finish order: set when the row leaves `held` (greater than any committed before it), NULL
     * while held. The rollups fold rows in this order (see schema-rollups.ts); a finished row left
     * NULL (copied in, written by an older tollgate) is given one by the folder.
     */
    settleSeq: integer('settle_seq'),
  },
  // Only open holds are looked up by status (recovery, metrics, verify): a partial index keeps it
  // as small as the number of requests in flight, instead of one entry per row ever written.
  (t) => [
    index('requests_company_created').on(t.companyId, t.createdAt),
    // Every company's rows by time: the operator's history, reports' partial hours, archiving.
    index('requests_created').on(t.createdAt),
    index('requests_settle_seq').on(t.settleSeq),
    index('requests_held').on(t.status).where(sql`${t.status} = 'held'`),
    index('requests_conversation')
      .on(t.companyId, t.conversationId, t.createdAt)
      .where(sql`${t.conversationId} IS NOT NULL`),
    // Reports and history filtered by end user (not a rollup dimension) find that end user's rows by
    // time; partial, so rows naming no end user cost no index write.
    index('requests_end_user').on(t.endUser, t.createdAt).where(sql`${t.endUser} IS NOT NULL`),
  ],
);

/**
 * An open hold of a request whose hold spread over several grants: the part reserved on one grant,
 * in the grant's unit. Deleted when the request settles or voids. (A hold on a single grant is kept
 * on the request row: `requests.hold_grant_id`, `hold_amount`.)
 */
export const holds = sqliteTable(
  'holds',
  {
    requestId: text('request_id').notNull(),
    grantId: text('grant_id').notNull(),
    amount: integer('amount').notNull(),
  },
  (t) => [primaryKey({ columns: [t.requestId, t.grantId] })],
);

/**
 * What a settled request burned from each grant it touched, in the grant's unit. `overdraft` is
 * the part of `amount` the grant did not have left (the request used more than its hold and no
 * other grant could cover it); it is 0 for all but such rows.
 */
export const debits = sqliteTable(
  'debits',
  {
    requestId: text('request_id').notNull(),
    grantId: text('grant_id').notNull(),
    unit: text('unit', { enum: ['tokens', 'micro_usd'] }).notNull(),
    amount: integer('amount').notNull(),
    overdraft: integer('overdraft').notNull().default(0),
    createdAt: text('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.requestId, t.grantId] }), index('debits_grant').on(t.grantId)],
);

/**
 * Quota windows (per user, per key or per end user): one row per scope, window and window key — the local date
 * for `daily` (`2026-11-22`), the local month for `monthly` (`2026-11`), `all` for `hard`, the
 * session id for `session`. Running totals, kept in the admission and settle transactions.
 */
export const quotaCounters = sqliteTable(
  'quota_counters',
  {
    id: text('id').primaryKey(),
    companyId: text('company_id').notNull(),
    scope: text('scope', { enum: ['user', 'key', 'end_user'] }).notNull(),
    scopeId: text('scope_id').notNull(),
    window: text('window', { enum: ['daily', 'monthly', 'hard', 'session'] }).notNull(),
    windowKey: text('window_key').notNull(),
    spentTokens: integer('spent_tokens').notNull().default(0),
    heldTokens: integer('held_tokens').notNull().default(0),
    spentMicroUsd: integer('spent_micro_usd').notNull().default(0),
    heldMicroUsd: integer('held_micro_usd').notNull().default(0),
    createdAt: text('created_at').notNull(),
  },
  (t) => [index('quota_counters_scope').on(t.scope, t.scopeId)],
);

/** A request's hold on a quota counter; deleted when the request settles or voids. */
export const quotaHolds = sqliteTable(
  'quota_holds',
  {
    requestId: text('request_id').notNull(),
    counterId: text('counter_id').notNull(),
    tokens: integer('tokens').notNull(),
    microUsd: integer('micro_usd').notNull(),
  },
  (t) => [primaryKey({ columns: [t.requestId, t.counterId] })],
);

/** Threshold and spike alerts, each fired once: `key` names the threshold and the window it fired in. */
export const alerts = sqliteTable(
  'alerts',
  {
    key: text('key').primaryKey(),
    firedAt: text('fired_at').notNull(),
    kind: text('kind', {
      enum: [
        'quota_warning',
        'quota_critical',
        'low_balance_warning',
        'low_balance_critical',
        'usage_spike',
        'quota_increase_request',
        'reconciliation_drift',
      ],
    }).notNull(),
    companyId: text('company_id').notNull(),
    /** JSON body sent to the webhook. */
    payload: text('payload').notNull(),
    /** Set when the webhook answered 2xx; NULL while undelivered (or when no webhook is configured). */
    deliveredAt: text('delivered_at'),
    attempts: integer('attempts').notNull().default(0),
  },
  (t) => [index('alerts_company_fired').on(t.companyId, t.firedAt)],
);

/** Quota-increase requests filed by users; an admin grants one by editing the config. */
export const quotaRequests = sqliteTable('quota_requests', {
  id: text('id').primaryKey(),
  createdAt: text('created_at').notNull(),
  companyId: text('company_id').notNull(),
  userId: text('user_id').notNull(),
  /** What the user asks for, as JSON: e.g. {"window":"daily","tokens":200000}. */
  requested: text('requested').notNull(),
  justification: text('justification').notNull(),
});

/**
 * Realtime client secrets tollgate minted (`POST /v1/realtime/client_secrets`): the secret's
 * SHA-256 only, whom it acts for, the session it opens; `used_at` is set once, when a session or
 * call redeems it. Expired rows are purged a day after they expire.
 */
export const realtimeClientSecrets = sqliteTable(
  'realtime_client_secrets',
  {
    /** Lowercase hex SHA-256 of the secret. */
    hash: text('hash').primaryKey(),
    companyId: text('company_id').notNull(),
    keyId: text('key_id'),
    userId: text('user_id'),
    role: text('role', { enum: ['member', 'admin'] }).notNull(),
    jwtSessionId: text('jwt_session_id'),
    model: text('model').notNull(),
    /** The session settings, canonical JSON. */
    session: text('session').notNull(),
    createdAt: text('created_at').notNull(),
    expiresAt: text('expires_at').notNull(),
    /** When a session redeemed it (ISO 8601 UTC); NULL while unused. */
    usedAt: text('used_at'),
  },
  (t) => [index('realtime_client_secrets_expiry').on(t.expiresAt)],
);

/**
 * Reconciliations with OpenAI's usage and costs (src/reconcile/): one row per run, `report` the
 * whole comparison as JSON. A scheduled run's id is `daily:<UTC day>`, so each day runs once.
 */
export const reconciliations = sqliteTable(
  'reconciliations',
  {
    id: text('id').primaryKey(),
    /** `cli` or `schedule`. */
    trigger: text('trigger', { enum: ['cli', 'schedule'] }).notNull(),
    startedAt: text('started_at').notNull(),
    finishedAt: text('finished_at'),
    /** First and last UTC day compared (`YYYY-MM-DD`, both included). */
    fromDay: text('from_day').notNull(),
    toDay: text('to_day').notNull(),
    /** running → ok | drift | failed. */
    status: text('status', { enum: ['running', 'ok', 'drift', 'failed'] }).notNull(),
    report: text('report'),
    error: text('error'),
  },
  (t) => [index('reconciliations_started').on(t.startedAt)],
);
