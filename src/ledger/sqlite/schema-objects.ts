import { index, integer, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/*
 * The ledger's tables about upstream objects (SQLite): which were billed, which company owns each,
 * the estimates of uploaded input files, and the deferred work still held. Re-exported by
 * schema.ts, the schema drizzle-kit reads.
 */

/**
 * Upstream objects already billed: a Responses object (by response id) or a batch (by batch id).
 * A response created in the background, retrieved twice and cancelled is billed once, on the
 * first row that saw its final usage.
 */
export const billedObjects = sqliteTable('billed_objects', {
  objectId: text('object_id').primaryKey(),
  kind: text('kind', { enum: ['response', 'batch', 'fine_tuning.job', 'video'] }).notNull(),
  requestId: text('request_id').notNull(),
  billedAt: text('billed_at').notNull(),
});

/**
 * Upstream objects created through tollgate and the company that owns each (see `ObjectStore` in
 * src/ledger/port.ts): files, batches, stored responses and chat completions, fine-tuned models…
 */
export const objects = sqliteTable('objects', {
  /** The upstream's id (`file-abc`, `batch_…`, `ft:…` for a fine-tuned model). */
  id: text('id').primaryKey(),
  /** OpenAI's object name (`file`, `batch`, `response`, `chat.completion`, `fine_tuning.job`, `vector_store`…); `model` for a fine-tuned model. */
  kind: text('kind').notNull(),
  companyId: text('company_id').notNull(),
  keyId: text('key_id'),
  userId: text('user_id'),
  /** The request whose upstream answer named the object. */
  requestId: text('request_id').notNull(),
  createdAt: text('created_at').notNull(),
});

/**
 * Estimates of input files uploaded through tollgate (see `FileEstimateStore` in src/ledger/port.ts):
 * a batch's requests or a fine-tuning job's training examples, read as the upload streamed.
 */
export const fileEstimates = sqliteTable('file_estimates', {
  /** The upstream's file id (`file-abc`). */
  fileId: text('file_id').primaryKey(),
  companyId: text('company_id').notNull(),
  /** The upload's `purpose` (`batch`, `fine-tune`). */
  purpose: text('purpose').notNull(),
  requestId: text('request_id').notNull(),
  createdAt: text('created_at').notNull(),
  /** Non-empty lines read. */
  lines: integer('lines').notNull(),
  /** Why the estimate cannot be used (`line 3: not valid JSON`), or NULL. */
  unusable: text('unusable'),
  /** The estimate per model, JSON: [{"model","lines","promptTokens","maxTokens"}] (tokens). */
  models: text('models').notNull(),
});

/**
 * Upstream work a held request started and that finishes later (a background response, a batch,
 * a fine-tuning job, a video): its row stays `held` until tollgate's settler (src/settlement/) sees
 * the object final upstream and settles it. One row per object; deleted once the request is settled
 * or voided. Crash recovery leaves the requests named here alone.
 */
export const deferredObjects = sqliteTable(
  'deferred_objects',
  {
    /** The upstream's id (`resp_…`, `batch_…`, `ftjob-…`, `video_…`). */
    objectId: text('object_id').primaryKey(),
    /** `response`, `batch`, `fine_tuning.job` or `video` (`DeferredKind`). */
    kind: text('kind').notNull(),
    /** The held request whose hold covers the object until it is final. */
    requestId: text('request_id').notNull().unique(),
    companyId: text('company_id').notNull(),
    /** The model to price the final usage at (the request's), or NULL when the object names it. */
    model: text('model'),
    /** The feature rate's multiplier applied to the metered tokens (1 without one). */
    multiplier: real('multiplier').notNull().default(1),
    /** The prompt tokens counted at admission: what an object gone upstream is charged under `charge_prompt`. */
    promptTokens: integer('prompt_tokens').notNull().default(0),
    /** Whose usage it is, for spike alerts: `<company>/<user>` or `key:<key id>`. */
    subject: text('subject').notNull().default(''),
    deferredAt: text('deferred_at').notNull(),
    /** When the settler polls it next (ISO 8601 UTC). */
    nextPollAt: text('next_poll_at').notNull(),
    /** Polls made so far. */
    polls: integer('polls').notNull().default(0),
    /** Consecutive polls the upstream answered 404. */
    misses: integer('misses').notNull().default(0),
    /** A settler's claim, until this instant (ISO 8601 UTC); NULL when unclaimed. */
    claimedUntil: text('claimed_until'),
  },
  (t) => [index('deferred_objects_due').on(t.nextPollAt)],
);
