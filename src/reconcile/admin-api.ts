import OpenAI from 'openai';
import { z } from 'zod';
import { parseKeepingValues } from './decimal.js';

/**
 * A client of OpenAI's Admin API usage and costs endpoints, on the official `openai` SDK (which
 * builds the URLs and query strings and types the errors). Shapes, parameters and limits are
 * OpenAI's documented ones (openai/openai-openapi: `GET /organization/usage/{kind}` and
 * `GET /organization/costs`, schemas `UsageResponse`, `UsageTimeBucket`, `Usage*Result`,
 * `CostsResult`; the `TooManyRequests` response's `Retry-After`).
 *
 * Every page is followed (`has_more` / `next_page`). A 429 or 5xx, a timeout or a dropped
 * connection is retried at most `maxRetries` times, waiting what `retry-after-ms` / `retry-after`
 * asks (else 1 s, 2 s, 4 s… capped at 30 s), and never more than `maxWaitMs` in all: a wait that
 * would exceed it fails at once. 401 and 403 fail at once with what the admin key needs.
 * The admin key is sent only in the `Authorization` header and never appears in an error.
 */

/** The usage endpoints tollgate reads (`/v1/organization/usage/<kind>`). */
export const USAGE_KINDS = [
  'completions',
  'embeddings',
  'moderations',
  'images',
  'audio_speeches',
  'audio_transcriptions',
  'vector_stores',
  'code_interpreter_sessions',
] as const;
export type UsageKind = (typeof USAGE_KINDS)[number];

/** The `group_by` values each usage endpoint documents (`vector_stores` and `code_interpreter_sessions`: `project_id` only). */
export const USAGE_GROUPS: Record<UsageKind, readonly string[]> = {
  completions: ['project_id', 'user_id', 'api_key_id', 'model', 'batch', 'service_tier'],
  embeddings: ['project_id', 'user_id', 'api_key_id', 'model'],
  moderations: ['project_id', 'user_id', 'api_key_id', 'model'],
  images: ['project_id', 'user_id', 'api_key_id', 'model', 'size', 'source'],
  audio_speeches: ['project_id', 'user_id', 'api_key_id', 'model'],
  audio_transcriptions: ['project_id', 'user_id', 'api_key_id', 'model'],
  vector_stores: ['project_id'],
  code_interpreter_sessions: ['project_id'],
};

/** A time bucket: [`startTime`, `endTime`) in unix seconds, and its results as OpenAI sent them (`object` names their type). */
export interface Bucket {
  startTime: number;
  endTime: number;
  results: Record<string, unknown>[];
}

/** A range of buckets to read. Unix seconds, `endTime` exclusive. */
export interface BucketQuery {
  startTime: number;
  endTime: number;
  bucketWidth: '1d' | '1h' | '1m';
  groupBy: string[];
}

/** Why the Admin API could not be read. `status` is OpenAI's HTTP status, null when it never answered. */
export class AdminApiError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly code: 'admin_key_refused' | 'rate_limited' | 'unreachable' | 'bad_response' | 'api_error',
  ) {
    super(message);
    this.name = 'AdminApiError';
  }
}

export interface AdminApiOptions {
  /** Where the API lives, without `/v1` (default `https://api.openai.com`). */
  baseUrl: string;
  /** The admin key (`sk-admin-…`). */
  adminKey: string;
  /** The environment variable the key came from, for messages (default `OPENAI_ADMIN_KEY`). */
  keyEnv?: string;
  /** Retries per call after a 429, 5xx or network failure (default 5). */
  maxRetries?: number;
  /** Most time spent waiting between retries over a whole read, ms (default 120,000). */
  maxWaitMs?: number;
  /** Per-request timeout, ms (default 60,000). */
  timeoutMs?: number;
}

/** Documented most buckets per page: usage `1d` 31, `1h` 168, `1m` 1440; costs 180. */
const PAGE_LIMIT = { '1d': 31, '1h': 168, '1m': 1440 } as const;
const COSTS_PAGE_LIMIT = 180;
/** Pages followed per read at most: a server handing out cursors forever cannot keep a run going. */
const MAX_PAGES = 1000;

const pageSchema = z.object({
  object: z.literal('page'),
  data: z.array(
    z.object({
      start_time: z.number().int(),
      end_time: z.number().int(),
      results: z.array(z.record(z.string(), z.unknown())),
    }),
  ),
  has_more: z.boolean(),
  next_page: z.string().nullish(),
});

/** Removes anything that looks like an OpenAI key from a message (an error can quote a redacted key). */
export function redactKeys(text: string): string {
  return text.replace(/\bsk-[A-Za-z0-9_*.-]+/g, 'sk-…');
}

/** ms to wait as a 429/5xx response's `retry-after-ms` or `retry-after` (seconds or an HTTP date) asks; undefined when it does not. */
export function retryAfterMs(headers: Headers | undefined, now = Date.now()): number | undefined {
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers?.get('retry-after')?.trim();
  if (!raw) return undefined;
  if (/^\d+(\.\d+)?$/.test(raw)) return Number.parseFloat(raw) * 1000;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Reads OpenAI's usage and costs with an admin key (see the file's comment for the retry rules).
 * Methods resolve to every bucket of the range; they reject with `AdminApiError`.
 */
export class AdminApi {
  private readonly client: OpenAI;
  private readonly keyEnv: string;
  private readonly maxRetries: number;
  private readonly maxWaitMs: number;
  /** Time spent waiting for retries so far (ms), over every call of this client. */
  private waited = 0;

  constructor(opts: AdminApiOptions) {
    this.keyEnv = opts.keyEnv ?? 'OPENAI_ADMIN_KEY';
    this.maxRetries = opts.maxRetries ?? 5;
    this.maxWaitMs = opts.maxWaitMs ?? 120_000;
    this.client = new OpenAI({
      apiKey: null,
      adminAPIKey: opts.adminKey,
      organization: null,
      project: null,
      webhookSecret: null,
      baseURL: `${opts.baseUrl.replace(/\/+$/, '')}/v1`,
      maxRetries: 0,
      timeout: opts.timeoutMs ?? 60_000,
      logLevel: 'off',
    });
  }

  /** Every bucket of `/v1/organization/usage/<kind>` over the query, all pages followed. */
  usage(kind: UsageKind, q: BucketQuery): Promise<Bucket[]> {
    const usage = this.client.admin.organization.usage;
    const method = {
      completions: usage.completions,
      embeddings: usage.embeddings,
      moderations: usage.moderations,
      images: usage.images,
      audio_speeches: usage.audioSpeeches,
      audio_transcriptions: usage.audioTranscriptions,
      vector_stores: usage.vectorStores,
      code_interpreter_sessions: usage.codeInterpreterSessions,
    }[kind].bind(usage) as unknown as (query: { start_time: number; [param: string]: unknown }) => {
      asResponse(): Promise<Response>;
    };
    const groupBy = q.groupBy.filter((g) => USAGE_GROUPS[kind].includes(g));
    return this.pages(`usage/${kind}`, (page) =>
      method({
        start_time: q.startTime,
        end_time: q.endTime,
        bucket_width: q.bucketWidth,
        limit: PAGE_LIMIT[q.bucketWidth],
        ...(groupBy.length ? { group_by: groupBy } : {}),
        ...(page ? { page } : {}),
      }),
    );
  }

  /** Every daily bucket of `/v1/organization/costs` (amounts' `value` kept as exact decimal text), all pages followed. */
  costs(q: Omit<BucketQuery, 'bucketWidth'>): Promise<Bucket[]> {
    const usage = this.client.admin.organization.usage;
    const groupBy = q.groupBy.filter((g) => ['project_id', 'line_item', 'api_key_id'].includes(g));
    return this.pages('costs', (page) =>
      usage.costs({
        start_time: q.startTime,
        end_time: q.endTime,
        bucket_width: '1d',
        limit: COSTS_PAGE_LIMIT,
        ...(groupBy.length ? { group_by: groupBy as ('project_id' | 'line_item' | 'api_key_id')[] } : {}),
        ...(page ? { page } : {}),
      }),
    );
  }

  private async pages(what: string, call: (page?: string) => { asResponse(): Promise<Response> }): Promise<Bucket[]> {
    const out: Bucket[] = [];
    const seen = new Set<string>();
    let page: string | undefined;
    for (let n = 0; n < MAX_PAGES; n++) {
      const body = pageSchema.safeParse(await this.call(what, () => call(page)));
      if (!body.success)
        throw new AdminApiError(
          `OpenAI's ${what} answer is not a page of buckets: ${body.error.issues[0]?.path.join('.')} ${body.error.issues[0]?.message}`,
          200,
          'bad_response',
        );
      for (const b of body.data.data) out.push({ startTime: b.start_time, endTime: b.end_time, results: b.results });
      const next = body.data.next_page;
      if (!body.data.has_more || !next) return out;
      if (seen.has(next))
        throw new AdminApiError(`OpenAI's ${what} pages loop (next_page repeats)`, 200, 'bad_response');
      seen.add(next);
      page = next;
    }
    throw new AdminApiError(`OpenAI's ${what} has more than ${MAX_PAGES} pages`, 200, 'bad_response');
  }

  /** One request, retried as the class says; resolves to the parsed body. */
  private async call(what: string, request: () => { asResponse(): Promise<Response> }): Promise<unknown> {
    for (let attempt = 0; ; attempt++) {
      let failure: AdminApiError;
      let wait: number | undefined;
      try {
        const text = await (await request().asResponse()).text();
        try {
          return parseKeepingValues(text);
        } catch {
          throw new AdminApiError(`OpenAI's ${what} answer is not JSON`, 200, 'bad_response');
        }
      } catch (err) {
        if (err instanceof AdminApiError) throw err;
        if (err instanceof OpenAI.AuthenticationError || err instanceof OpenAI.PermissionDeniedError)
          throw new AdminApiError(this.refused(err), err.status, 'admin_key_refused');
        if (err instanceof OpenAI.APIConnectionError) {
          failure = new AdminApiError(
            `cannot reach OpenAI's Admin API (${what}): ${redactKeys(err.message)}`,
            null,
            'unreachable',
          );
        } else if (err instanceof OpenAI.APIError && (err.status === 429 || (err.status ?? 0) >= 500)) {
          failure = new AdminApiError(
            `OpenAI's ${what} answered ${err.status}${err.status === 429 ? ' (rate limited)' : ''}: ${redactKeys(err.message)}`,
            err.status ?? null,
            err.status === 429 ? 'rate_limited' : 'api_error',
          );
          wait = retryAfterMs(err.headers);
        } else if (err instanceof OpenAI.APIError) {
          throw new AdminApiError(
            `OpenAI's ${what} answered ${err.status}: ${redactKeys(err.message)}`,
            err.status ?? null,
            'api_error',
          );
        } else throw err;
      }
      wait ??= Math.min(30_000, 1000 * 2 ** attempt);
      if (attempt >= this.maxRetries)
        throw new AdminApiError(
          `${failure.message} (gave up after ${attempt + 1} attempts)`,
          failure.status,
          failure.code,
        );
      if (this.waited + wait > this.maxWaitMs)
        throw new AdminApiError(
          `${failure.message} (OpenAI asks to wait ${Math.ceil(wait / 1000)} s, beyond what is left of the ${Math.round(this.maxWaitMs / 1000)} s allowed for retries: try again later)`,
          failure.status,
          failure.code,
        );
      this.waited += wait;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  private refused(err: InstanceType<typeof OpenAI.APIError>): string {
    return (
      `OpenAI refused the admin key in $${this.keyEnv} (HTTP ${err.status}: ${redactKeys(err.message)}). ` +
      'Reading usage and costs needs an organization Admin API key (sk-admin-…, created by an organization owner ' +
      'under Settings → Organization → Admin keys) with read access to Usage ("Read only" or "All" permissions); ' +
      'a project or user API key (sk-proj-…, sk-…) cannot read them.'
    );
  }
}
