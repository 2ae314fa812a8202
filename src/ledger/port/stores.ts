import type { DeferredKind } from '../../settlement/kinds.js';

/** The ledger port's small stores: quota requests, alerts, shared rate-limit buckets, object owners, deferred objects (see ../port.ts). */

/** A quota-increase request filed by a user (or a key). */
export interface QuotaRequestRecord {
  id: string;
  /** ISO 8601 UTC. */
  createdAt: string;
  companyId: string;
  /** The user id, or `key:<key id>`. */
  userId: string;
  /** What is asked for, e.g. `{"window":"daily","tokens":200000}`. */
  requested: Record<string, unknown>;
  justification: string;
}

/** Quota-increase requests. */
export interface QuotaRequestStore {
  add(request: QuotaRequestRecord): Promise<void>;
  /** A company's requests (only `userId`'s when given), newest first. */
  list(companyId: string, userId?: string): Promise<QuotaRequestRecord[]>;
}

/** The kinds of alert tollgate fires. */
export type AlertKind =
  | 'quota_warning'
  | 'quota_critical'
  | 'low_balance_warning'
  | 'low_balance_critical'
  | 'usage_spike'
  | 'quota_increase_request'
  | 'reconciliation_drift';

/** An alert as stored: `key` names the threshold and window, so each fires once. */
export interface AlertRecord {
  key: string;
  kind: AlertKind;
  companyId: string;
  /** ISO 8601 UTC. */
  firedAt: string;
  /** The JSON body sent to the webhook. */
  payload: string;
}

/** Fired alerts and their webhook deliveries. */
export interface AlertStore {
  /** Records the alert unless its key was recorded before; resolves true when it is new. */
  record(alert: AlertRecord): Promise<boolean>;
  /** Counts one delivery attempt; `deliveredAt` (ISO UTC) when the webhook answered 2xx. */
  attempted(key: string, deliveredAt: string | null): Promise<void>;
}

/** A rate-limit bucket's level (requests or tokens, fractional) at an instant (`at`, ms since the epoch). */
export interface BucketLevel {
  level: number;
  at: number;
}

/** Rate-limit buckets kept in a store that every replica shares (see `SharedRateLimiter` in limits/). */
export interface BucketStore {
  /**
   * Atomically across replicas: reads the buckets `ids` (absent: never used), runs `plan` on them,
   * and writes back the buckets it leaves in the map. Resolves to what `plan` returned.
   */
  update<T>(ids: string[], plan: (buckets: Map<string, BucketLevel>) => T): Promise<T>;
  /**
   * Optional, the hot path in one round trip: atomically across replicas, refills the buckets `ids`
   * (distinct; absent: full) to `nowMs` (ms since the epoch) at `limits[i]` per minute, then takes
   * `amounts[i]` from every one of them, or from none when one has less than its amount. Resolves
   * to the refilled levels before the take, in `ids` order (see `takeFrom` in limits/rate-limiter.ts,
   * whose arithmetic it follows).
   */
  take?(ids: string[], limits: number[], amounts: number[], nowMs: number): Promise<number[]>;
}

/** Tokens settled for one subject (`<company>/<user>` or `key:<id>`) in one minute (index since the epoch, UTC). */
export interface SpikeMinute {
  subject: string;
  minute: number;
  tokens: number;
}

/**
 * The usage-spike alert's per-minute windows kept in a store every replica shares (see
 * `SharedSpikeWindows` in alerts/). Called in batches (about once a second per process), never once per settle.
 */
export interface SpikeStore {
  /**
   * Atomically across replicas: adds `deltas` (at most one entry per subject and minute) to the
   * shared totals, and resolves to every stored minute from `fromMinute` on of the subjects in
   * `deltas`, as they stand after the addition (every replica's tokens).
   */
  add(deltas: SpikeMinute[], fromMinute: number): Promise<SpikeMinute[]>;
  /** Deletes every minute before `beforeMinute` (all subjects). */
  forget(beforeMinute: number): Promise<void>;
}

/**
 * The kinds of upstream object tollgate records an owner for (OpenAI's `object` names, except
 * `model`, which stands for a fine-tuned model, `chat.completion` for a stored one, and
 * `realtime.call` for a WebRTC call, whose id only the answer's `Location` header gives).
 */
export type ObjectKind =
  | 'file'
  | 'upload'
  | 'batch'
  | 'response'
  | 'chat.completion'
  | 'fine_tuning.job'
  | 'model'
  | 'vector_store'
  | 'conversation'
  | 'container'
  | 'video'
  | 'eval'
  | 'realtime.call';

/** Who created an upstream object through tollgate. */
export interface ObjectOwner {
  kind: ObjectKind;
  companyId: string;
  /** The company key that created it, or null when a user token did. */
  keyId: string | null;
  /** The user (JWT `sub`) that created it, or null when a company key did. */
  userId: string | null;
}

/** An object to record: its upstream id (`file-abc`, `ft:gpt-4o-mini:org::id`), owner and the request that created it. */
export interface OwnedObject extends ObjectOwner {
  id: string;
  /** The tollgate request (`req_…`) whose upstream answer named the object. */
  requestId: string;
  /** ISO 8601 UTC. */
  createdAt: string;
}

/**
 * Ownership of upstream objects created through tollgate (files, batches, stored responses,
 * fine-tuned models…): the shared upstream key can reach every company's objects, so tollgate
 * answers 404 for objects the caller's company does not own and filters lists (src/ownership/).
 *
 * - `record` is first-writer-wins: an id already recorded keeps its owner (an answer can never
 *   move an object to another company). Resolves once durable.
 * - `owners` sees every `record` made before it was called (same ordering rule as the ledger).
 * - Ids are the upstream's, compared exactly (case-sensitive).
 */
export interface ObjectStore {
  record(objects: OwnedObject[]): Promise<void>;
  /** The recorded owners of `ids` (ids never recorded are absent from the map). */
  owners(ids: readonly string[]): Promise<Map<string, ObjectOwner>>;
}

/** One model's share of an uploaded input file's estimate (tokens). */
export interface FileModelEstimate {
  /** The model the lines name (a batch), or the model the training examples were counted for (fine-tuning). */
  model: string;
  /** Lines (requests or training examples) of this model. */
  lines: number;
  /** Prompt tokens of those lines, counted with gpt-tokenizer (a training file: all the examples' tokens). */
  promptTokens: number;
  /** Their worst case: prompt + each line's output ceiling (or the no-ceiling policy's) + tool allowances (tokens). */
  maxTokens: number;
}

/**
 * What tollgate read of an input file uploaded through it (`POST /v1/files`, `purpose` `batch` or
 * `fine-tune`), kept to admit the batch or fine-tuning job that names the file later.
 */
export interface FileEstimate {
  /** The upstream's file id (`file-abc`). */
  fileId: string;
  /** The company that uploaded it (only its own batches and jobs may use the estimate). */
  companyId: string;
  /** The upload's `purpose`: `batch` or `fine-tune`. */
  purpose: string;
  /** The tollgate request (`req_…`) of the upload. */
  requestId: string;
  /** ISO 8601 UTC. */
  createdAt: string;
  /** Non-empty lines read. */
  lines: number;
  /** Why the estimate cannot be used (`line 3: not valid JSON`), or null when it can. */
  unusable: string | null;
  /** The estimate per model; empty when unusable. */
  models: FileModelEstimate[];
}

/**
 * Estimates of input files uploaded through tollgate (src/files/). `record` is first-writer-wins
 * (an id already recorded keeps its estimate) and resolves once durable; `get` sees every `record`
 * called before it. Ids are compared exactly.
 */
export interface FileEstimateStore {
  record(estimate: FileEstimate): Promise<void>;
  /** The estimate recorded for `fileId`, or undefined when tollgate never read that file. */
  get(fileId: string): Promise<FileEstimate | undefined>;
}

/** A held request to defer on an upstream object (see `DeferredStore.defer`). */
export interface DeferredRequest {
  /** The upstream's id (`resp_…`, `batch_…`). */
  id: string;
  kind: DeferredKind;
  /** The held request whose hold covers the object. */
  requestId: string;
  companyId: string;
  /** The model to price the final usage at (the request's), or null when the object names it. */
  model: string | null;
  /** The feature rate's multiplier on metered tokens (1 without one). */
  multiplier: number;
  /** The prompt tokens counted at admission (what an object gone upstream is charged under `charge_prompt`). */
  promptTokens: number;
  /** Whose usage it is, for spike alerts when it settles: `<company>/<user>` or `key:<key id>`. */
  subject: string;
}

/** An upstream object whose held request the settler settles once it is final (see `DeferredStore`). */
export interface DeferredObject extends DeferredRequest {
  /** ISO 8601 UTC. */
  deferredAt: string;
  /** ISO 8601 UTC: when the object is due for its next poll. */
  nextPollAt: string;
  /** Polls made so far (not counting one in progress). */
  polls: number;
  /** Consecutive polls the upstream answered 404. */
  misses: number;
}

/**
 * Deferred settlement (src/settlement/): held requests whose upstream work finishes later. The
 * request's row stays `held` (its hold stays) until the settler settles or voids it through the
 * ledger's `settle`/`void` (which change nothing on a row no longer held, so nothing is billed
 * twice) and then `remove`s the object. Crash recovery (`recoverOpenHolds`) leaves deferred rows
 * alone: they belong to the settler, not to a process. Every call resolves once durable.
 */
export interface DeferredStore {
  /**
   * Defers the held request `request.requestId` on upstream object `request.id`, first due at `firstPollAt`.
   * Resolves false (and writes nothing) when the request is not `held` or the object or the
   * request is already deferred.
   */
  defer(request: DeferredRequest, firstPollAt: Date, now: Date): Promise<boolean>;
  /**
   * Claims up to `limit` objects due at `now` (earliest first) that no live claim holds, each for
   * `leaseMs`: across every process sharing the store, an object is claimed by one settler at a
   * time, and a claim whose holder died lapses after `leaseMs`.
   */
  claimDue(now: Date, limit: number, leaseMs: number): Promise<DeferredObject[]>;
  /** After a poll that found the object not final: counts the poll, sets `misses` and the next poll, ends the claim. */
  reschedule(id: string, nextPollAt: Date, misses: number): Promise<void>;
  /** Makes a pending object due at `now` (a client saw it, perhaps final); resolves false when it is not pending. */
  nudge(id: string, now: Date): Promise<boolean>;
  /** Forgets the object (its request was settled or voided). */
  remove(id: string): Promise<void>;
  /** The pending objects, earliest due first. */
  list(): Promise<DeferredObject[]>;
}

/**
 * A Realtime client secret tollgate minted (`POST /v1/realtime/client_secrets`), as stored: only
 * its SHA-256, who it acts for, and the session it opens.
 */
export interface ClientSecretRecord {
  /** Lowercase hex SHA-256 of the secret (`ek_tg_…`); the secret itself is never stored. */
  hash: string;
  companyId: string;
  /** The company key that minted it, or null when a user token did. */
  keyId: string | null;
  /** The user (JWT `sub`) it acts for, or null. */
  userId: string | null;
  /** The minting user token's role (`member`, `admin`); `member` for a key. */
  role: 'member' | 'admin';
  /** The minting user token's session (`sid`), for per-session quotas; null for a key. */
  jwtSessionId: string | null;
  /** The session's model (`session.model`). */
  model: string;
  /** The session settings, as canonical JSON text (sent upstream as the session's first `session.update`). */
  session: string;
  /** ISO 8601 UTC. */
  createdAt: string;
  /** ISO 8601 UTC: the secret opens no session from this instant on. */
  expiresAt: string;
}

/** Why a secret could not be redeemed. */
export type ClientSecretRefusal = 'unknown' | 'used' | 'expired';

/**
 * Realtime client secrets tollgate minted (src/realtime/client-secrets.ts): short-lived and
 * single-use across every process sharing the store.
 * - `add` resolves once durable; hashes are unique.
 * - `redeem` marks the secret used at `now` and returns it, atomically: of any number of redeems of
 *   one secret, in one process or several, exactly one succeeds; a secret expired at `now`, already
 *   used or never added is refused, changing nothing.
 */
export interface ClientSecretStore {
  add(secret: ClientSecretRecord): Promise<void>;
  redeem(hash: string, now: Date): Promise<ClientSecretRecord | ClientSecretRefusal>;
  /** Deletes the secrets that expired before `before` (used or not); resolves to how many. */
  purge(before: Date): Promise<number>;
}
