import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  date,
  doublePrecision,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';
import { xid8 } from './schema-rollups.js';

export * from './schema-rollups.js';

/**
 * The ledger's tables on Postgres (drizzle pg-core; migrations in `migrations/postgres/`). The same
 * tables and columns as the SQLite ledger (src/ledger/sqlite/schema.ts, which documents each one),
 * with Postgres types: tokens and money `bigint` (money in micro-USD, 1 USD = 1,000,000), instants
 * `timestamptz` (the adapter reads and writes them as ISO 8601 UTC), flags `boolean`. Two additions
 * for several replicas: `instances` (one row per process, with its heartbeat) and
 * `requests.instance_id` (the process that holds the row), plus `requests.seq`, which orders rows
 * admitted in the same millisecond (SQLite's rowid), and `rate_buckets` (shared rate limits).
 */

const tokens = (name: string) => bigint(name, { mode: 'number' });
const instant = (name: string) => timestamp(name, { withTimezone: true, mode: 'string', precision: 3 });

export const grants = pgTable(
  'grants',
  {
    id: text('id').primaryKey(),
    companyId: text('company_id').notNull(),
    unit: text('unit', { enum: ['tokens', 'micro_usd'] }).notNull(),
    amount: tokens('amount').notNull(),
    unlimited: boolean('unlimited').notNull().default(false),
    /** JSON array of model names or families the grant covers; NULL covers every model. */
    models: text('models'),
    startsAt: instant('starts_at'),
    expiresAt: instant('expires_at'),
    purchaseId: text('purchase_id'),
    note: text('note'),
    /** Burn order between grants: lower burns first (then soonest expiry, then oldest); 1 unless the config sets it. */
    priority: integer('priority').notNull().default(1),
    removedAt: instant('removed_at'),
    spent: tokens('spent').notNull().default(0),
    held: tokens('held').notNull().default(0),
    createdAt: instant('created_at').notNull(),
    updatedAt: instant('updated_at').notNull(),
  },
  (t) => [index('grants_company').on(t.companyId)],
);

export const purchases = pgTable('purchases', {
  id: text('id').primaryKey(),
  date: date('date', { mode: 'string' }).notNull(),
  totalTokens: tokens('total_tokens').notNull(),
  costPerTokenUsd: doublePrecision('cost_per_token_usd').notNull(),
  provider: text('provider').notNull(),
  expiresAt: instant('expires_at'),
  notes: text('notes'),
  removedAt: instant('removed_at'),
});

/** One process serving on this ledger: it heartbeats while alive; its held rows are resolved once the heartbeat lapses. */
export const instances = pgTable('instances', {
  id: text('id').primaryKey(),
  pid: integer('pid').notNull(),
  host: text('host').notNull(),
  startedAt: instant('started_at').notNull(),
  heartbeatAt: instant('heartbeat_at').notNull(),
  /**
   * Since when its heartbeats have come without a gap (the ledger's clock): reset by a heartbeat
   * that follows a gap longer than half the lapse. It may declare others gone only once this is a
   * whole lapse old: a lapse it watched while itself connected (see `tollgate_heartbeat`).
   */
  connectedSince: instant('connected_since').notNull().default(sql`now()`),
  /** Set when it closed cleanly, or when another instance found its heartbeat lapsed. */
  stoppedAt: instant('stopped_at'),
});

export const requests = pgTable(
  'requests',
  {
    id: text('id').primaryKey(),
    /** Admission order among rows of the same millisecond (SQLite's rowid). */
    seq: bigserial('seq', { mode: 'number' }).notNull(),
    createdAt: instant('created_at').notNull(),
    companyId: text('company_id').notNull(),
    keyId: text('key_id'),
    userId: text('user_id'),
    sessionId: text('session_id'),
    /** The Responses conversation the request continues (`conversation`), to hold for its earlier turns. */
    conversationId: text('conversation_id'),
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
    stream: boolean('stream').notNull(),
    status: text('status', { enum: ['held', 'settled', 'voided', 'interrupted'] }).notNull(),
    /** The instance (process) that admitted the row; null for rows copied from another ledger. */
    instanceId: text('instance_id'),
    /** false from admission until the request's first byte is sent, then true; NULL when not tracked (taken as sent). Recovery charges a row left false nothing. */
    forwarded: boolean('forwarded'),
    estimatedPromptTokens: tokens('estimated_prompt_tokens').notNull().default(0),
    holdTokens: tokens('hold_tokens').notNull(),
    holdMicroUsd: tokens('hold_micro_usd').notNull().default(0),
    /**
     * A hold on one grant rides on its row (as on SQLite): the grant and the amount held (in the
     * grant's unit), NULL otherwise and once the row is finished. A hold spread over several
     * grants is in `holds`; a row never has both (`tollgate_admit`, `tollgate_finish`).
     */
    holdGrantId: text('hold_grant_id'),
    holdAmount: tokens('hold_amount'),
    httpStatus: integer('http_status'),
    inputTokens: tokens('input_tokens').notNull().default(0),
    cachedInputTokens: tokens('cached_input_tokens').notNull().default(0),
    outputTokens: tokens('output_tokens').notNull().default(0),
    reasoningTokens: tokens('reasoning_tokens').notNull().default(0),
    totalTokens: tokens('total_tokens').notNull().default(0),
    meteredTokens: tokens('metered_tokens').notNull().default(0),
    /** `cost_nano_usd` rounded half up: what USD grants and quota counters were charged. */
    costMicroUsd: tokens('cost_micro_usd').notNull().default(0),
    /** The row's exact cost in nano-USD (1 USD = 1e9), built-in tool fees included; reports sum this. */
    costNanoUsd: tokens('cost_nano_usd').notNull().default(0),
    /** Built-in tool calls billed on the row, JSON text (`{"web_search":2}`), as on SQLite; NULL when none. */
    toolCalls: text('tool_calls'),
    /** Usage beyond the token columns, JSON text as on SQLite (src/ledger/units.ts); NULL when none. */
    units: text('units'),
    priceVersion: text('price_version'),
    /** Who answered the price (as on SQLite): `config`, `tollgate`, `genai-prices` or `fallback`. */
    priceSource: text('price_source', { enum: ['config', 'tollgate', 'genai-prices', 'fallback'] }),
    usageSource: text('usage_source', { enum: ['upstream', 'computed', 'estimated', 'none'] }),
    latencyMs: doublePrecision('latency_ms'),
    ttfbMs: doublePrecision('ttfb_ms'),
    upstreamRequestId: text('upstream_request_id'),
    /** The caller's own `X-Client-Request-Id`, if it sent one. */
    clientRequestId: text('client_request_id'),
    errorCode: text('error_code'),
    settledAt: instant('settled_at'),
    /**
     * The quota counters an `interrupted` row was charged (NULL otherwise): a late settlement of the
     * row (its replica was declared gone while serving it) corrects them by the difference.
     */
    chargedCounters: text('charged_counters').array(),
    /**
     * When a sweep resolved the row `interrupted` (its replica was declared gone). Kept when the
     * replica's late settlement then replaced the interrupted charge: that burn came after the hold
     * was released, so it may overdraw beyond the hold (see verify.ts).
     */
    interruptedAt: instant('interrupted_at'),
    /**
     * The transaction that finished the row (`pg_current_xact_id()` in the settle), NULL while held:
     * the rollups fold rows in this order (see schema-rollups.ts); a finished row left NULL (copied
     * in, written by an older tollgate) is given one by the folder.
     */
    settleXid: xid8('settle_xid'),
  },
  (t) => [
    index('requests_company_created').on(t.companyId, t.createdAt),
    // Every company's rows by time: the operator's history, reports' partial hours, archiving.
    index('requests_created').on(t.createdAt, t.seq),
    index('requests_settle_xid').on(t.settleXid),
    index('requests_held').on(t.instanceId).where(sql`${t.status} = 'held'`),
    index('requests_conversation')
      .on(t.companyId, t.conversationId, t.createdAt)
      .where(sql`${t.conversationId} IS NOT NULL`),
    // Reports and history filtered by end user (not a rollup dimension) find that end user's rows by
    // time; partial, so rows naming no end user cost no index write.
    index('requests_end_user').on(t.endUser, t.createdAt).where(sql`${t.endUser} IS NOT NULL`),
  ],
);

export const holds = pgTable(
  'holds',
  {
    requestId: text('request_id').notNull(),
    grantId: text('grant_id').notNull(),
    amount: tokens('amount').notNull(),
  },
  (t) => [primaryKey({ columns: [t.requestId, t.grantId] })],
);

export const debits = pgTable(
  'debits',
  {
    requestId: text('request_id').notNull(),
    grantId: text('grant_id').notNull(),
    unit: text('unit', { enum: ['tokens', 'micro_usd'] }).notNull(),
    amount: tokens('amount').notNull(),
    overdraft: tokens('overdraft').notNull().default(0),
    createdAt: instant('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.requestId, t.grantId] }), index('debits_grant').on(t.grantId)],
);

export const quotaCounters = pgTable(
  'quota_counters',
  {
    id: text('id').primaryKey(),
    companyId: text('company_id').notNull(),
    scope: text('scope', { enum: ['user', 'key', 'end_user'] }).notNull(),
    scopeId: text('scope_id').notNull(),
    window: text('window', { enum: ['daily', 'monthly', 'hard', 'session'] }).notNull(),
    windowKey: text('window_key').notNull(),
    spentTokens: tokens('spent_tokens').notNull().default(0),
    heldTokens: tokens('held_tokens').notNull().default(0),
    spentMicroUsd: tokens('spent_micro_usd').notNull().default(0),
    heldMicroUsd: tokens('held_micro_usd').notNull().default(0),
    createdAt: instant('created_at').notNull(),
  },
  (t) => [index('quota_counters_scope').on(t.scope, t.scopeId)],
);

export const quotaHolds = pgTable(
  'quota_holds',
  {
    requestId: text('request_id').notNull(),
    counterId: text('counter_id').notNull(),
    tokens: tokens('tokens').notNull(),
    microUsd: tokens('micro_usd').notNull(),
  },
  (t) => [primaryKey({ columns: [t.requestId, t.counterId] })],
);

export const alerts = pgTable(
  'alerts',
  {
    key: text('key').primaryKey(),
    firedAt: instant('fired_at').notNull(),
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
    payload: text('payload').notNull(),
    deliveredAt: instant('delivered_at'),
    attempts: integer('attempts').notNull().default(0),
  },
  (t) => [index('alerts_company_fired').on(t.companyId, t.firedAt)],
);

export const quotaRequests = pgTable('quota_requests', {
  id: text('id').primaryKey(),
  createdAt: instant('created_at').notNull(),
  companyId: text('company_id').notNull(),
  userId: text('user_id').notNull(),
  requested: text('requested').notNull(),
  justification: text('justification').notNull(),
});

export const billedObjects = pgTable('billed_objects', {
  objectId: text('object_id').primaryKey(),
  kind: text('kind', { enum: ['response', 'batch', 'fine_tuning.job', 'video'] }).notNull(),
  requestId: text('request_id').notNull(),
  billedAt: instant('billed_at').notNull(),
});

/** Rate-limit buckets (rpm, tpm) shared by every replica: `<user or key bucket>:requests|tokens`; `level` NULL until first used (full). */
export const rateBuckets = pgTable('rate_buckets', {
  id: text('id').primaryKey(),
  level: doublePrecision('level'),
  /** When `level` was last computed, ms since the epoch. */
  atMs: bigint('at_ms', { mode: 'number' }),
});

/**
 * The usage-spike alert's per-minute windows, shared by every replica: tokens settled per subject
 * (`<company>/<user>` or `key:<id>`) and minute (index since the epoch, UTC). Each replica adds its
 * settles in batches about once a second (never one write per settle); minutes older than the
 * alert's window are deleted as they age out (see src/alerts/shared-spikes.ts).
 */
export const spikeMinutes = pgTable(
  'spike_minutes',
  {
    subject: text('subject').notNull(),
    minute: bigint('minute', { mode: 'number' }).notNull(),
    tokens: tokens('tokens').notNull(),
  },
  (t) => [primaryKey({ columns: [t.subject, t.minute] }), index('spike_minutes_minute').on(t.minute)],
);

/** Upstream objects created through tollgate and the company that owns each (see `ObjectStore` in src/ledger/port.ts). */
export const objects = pgTable('objects', {
  /** The upstream's id (`file-abc`, `batch_…`, `ft:…` for a fine-tuned model). */
  id: text('id').primaryKey(),
  /** OpenAI's object name (`file`, `batch`, `response`…); `model` for a fine-tuned model. */
  kind: text('kind').notNull(),
  companyId: text('company_id').notNull(),
  keyId: text('key_id'),
  userId: text('user_id'),
  /** The request whose upstream answer named the object. */
  requestId: text('request_id').notNull(),
  createdAt: instant('created_at').notNull(),
});

/** Estimates of input files uploaded through tollgate (see `FileEstimateStore` in src/ledger/port.ts). */
export const fileEstimates = pgTable('file_estimates', {
  fileId: text('file_id').primaryKey(),
  companyId: text('company_id').notNull(),
  purpose: text('purpose').notNull(),
  requestId: text('request_id').notNull(),
  createdAt: instant('created_at').notNull(),
  lines: bigint('lines', { mode: 'number' }).notNull(),
  unusable: text('unusable'),
  /** JSON: [{"model","lines","promptTokens","maxTokens"}] (tokens). */
  models: text('models').notNull(),
});

/**
 * Upstream work that finishes later, kept `held` until the settler settles it (see the SQLite
 * schema's `deferred_objects`). `claimed_until` is a replica's lease on a poll: a replica that dies
 * mid-poll lets it lapse and another claims the object.
 */
export const deferredObjects = pgTable(
  'deferred_objects',
  {
    objectId: text('object_id').primaryKey(),
    kind: text('kind').notNull(),
    requestId: text('request_id').notNull().unique(),
    companyId: text('company_id').notNull(),
    model: text('model'),
    multiplier: doublePrecision('multiplier').notNull().default(1),
    promptTokens: tokens('prompt_tokens').notNull().default(0),
    subject: text('subject').notNull().default(''),
    deferredAt: instant('deferred_at').notNull(),
    nextPollAt: instant('next_poll_at').notNull(),
    polls: integer('polls').notNull().default(0),
    misses: integer('misses').notNull().default(0),
    claimedUntil: instant('claimed_until'),
  },
  (t) => [index('deferred_objects_due').on(t.nextPollAt)],
);

/** Realtime client secrets tollgate minted, shared by every replica (see the SQLite schema's `realtime_client_secrets`). */
export const realtimeClientSecrets = pgTable(
  'realtime_client_secrets',
  {
    hash: text('hash').primaryKey(),
    companyId: text('company_id').notNull(),
    keyId: text('key_id'),
    userId: text('user_id'),
    role: text('role').notNull(),
    jwtSessionId: text('jwt_session_id'),
    model: text('model').notNull(),
    session: text('session').notNull(),
    createdAt: instant('created_at').notNull(),
    expiresAt: instant('expires_at').notNull(),
    usedAt: instant('used_at'),
  },
  (t) => [index('realtime_client_secrets_expiry').on(t.expiresAt)],
);

/** Reconciliations with OpenAI's usage and costs (see the SQLite schema's `reconciliations`). */
export const reconciliations = pgTable(
  'reconciliations',
  {
    id: text('id').primaryKey(),
    trigger: text('trigger', { enum: ['cli', 'schedule'] }).notNull(),
    startedAt: instant('started_at').notNull(),
    finishedAt: instant('finished_at'),
    fromDay: date('from_day', { mode: 'string' }).notNull(),
    toDay: date('to_day', { mode: 'string' }).notNull(),
    status: text('status', { enum: ['running', 'ok', 'drift', 'failed'] }).notNull(),
    report: text('report'),
    error: text('error'),
  },
  (t) => [index('reconciliations_started').on(t.startedAt)],
);
