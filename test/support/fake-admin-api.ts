import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake of OpenAI's Admin API usage and costs endpoints on 127.0.0.1, built from their documented
 * shapes (openai/openai-openapi: `GET /organization/usage/{kind}`, `GET /organization/costs`,
 * schemas `UsageResponse`, `UsageTimeBucket`, `Usage*Result`, `CostsResult`, the
 * `TooManyRequests` response with `Retry-After`):
 *
 * - `start_time` (required) and `end_time` (exclusive) in unix seconds; `bucket_width` `1d` (default),
 *   `1h`, `1m` (costs: `1d` only); `limit` buckets per page with the documented defaults and maxima
 *   (400 beyond); `page` the previous page's `next_page`.
 * - `group_by` (as `group_by[]=…`, the SDK's form, or repeated `group_by=…`) limited to each
 *   endpoint's documented fields (400 otherwise): results are summed per distinct value of those
 *   fields, the others null. A bucket with nothing in it has `results: []`.
 * - Costs' `amount.value` is written as a JSON number with exactly the decimal digits recorded.
 * - A key other than `adminKey` gets 401 with OpenAI's error shape; `rateLimit` answers 429 with
 *   `retry-after` to the next `times` requests.
 */

export type Kind =
  | 'completions'
  | 'embeddings'
  | 'moderations'
  | 'images'
  | 'audio_speeches'
  | 'audio_transcriptions'
  | 'vector_stores'
  | 'code_interpreter_sessions'
  | 'costs';

/** One recorded usage or cost: when (unix seconds), and the result fields it adds to (`amount` a decimal text for costs). */
export interface FakeRecord {
  kind: Kind;
  time: number;
  fields: Record<string, string | number | boolean | null>;
}

const GROUPS: Record<Kind, string[]> = {
  completions: ['project_id', 'user_id', 'api_key_id', 'model', 'batch', 'service_tier'],
  embeddings: ['project_id', 'user_id', 'api_key_id', 'model'],
  moderations: ['project_id', 'user_id', 'api_key_id', 'model'],
  images: ['project_id', 'user_id', 'api_key_id', 'model', 'size', 'source'],
  audio_speeches: ['project_id', 'user_id', 'api_key_id', 'model'],
  audio_transcriptions: ['project_id', 'user_id', 'api_key_id', 'model'],
  vector_stores: ['project_id'],
  code_interpreter_sessions: ['project_id'],
  costs: ['project_id', 'line_item', 'api_key_id'],
};

/** The count fields each result type has (required ones first), per the `Usage*Result` schemas. */
const COUNTS: Record<Exclude<Kind, 'costs'>, string[]> = {
  completions: [
    'input_tokens',
    'output_tokens',
    'num_model_requests',
    'input_cached_tokens',
    'input_audio_tokens',
    'input_cached_audio_tokens',
    'output_audio_tokens',
    'input_image_tokens',
    'input_cached_image_tokens',
    'output_image_tokens',
  ],
  embeddings: ['input_tokens', 'num_model_requests'],
  moderations: ['input_tokens', 'num_model_requests'],
  images: ['images', 'num_model_requests'],
  audio_speeches: ['characters', 'num_model_requests'],
  audio_transcriptions: ['seconds', 'num_model_requests'],
  vector_stores: ['usage_bytes'],
  code_interpreter_sessions: ['num_sessions'],
};

const WIDTH = { '1d': 86_400, '1h': 3_600, '1m': 60 } as const;
const LIMITS = { '1d': [7, 31], '1h': [24, 168], '1m': [60, 1440] } as const;

export interface FakeAdminApi {
  url: string;
  /** Every request received: path and query (the admin key is checked, not kept). */
  requests: { path: string; query: URLSearchParams; at: number }[];
  /** Answers the next `times` requests with 429 and `retry-after: <seconds>` (omitted when null). */
  rateLimit(times: number, retryAfterSeconds: number | null): void;
  /** Answers the next `times` requests with this status (a 500, a 403). */
  fail(times: number, status: number): void;
  close(): Promise<void>;
}

/** Sums decimal texts exactly (scaled by 1e18), back to the shortest decimal text. */
function sumDecimals(values: string[]): string {
  const SCALE = 18;
  let total = 0n;
  for (const v of values) {
    const [whole, frac = ''] = v.replace('-', '').split('.');
    const n = BigInt(whole! + frac.padEnd(SCALE, '0').slice(0, SCALE));
    total += v.startsWith('-') ? -n : n;
  }
  const neg = total < 0n;
  const abs = (neg ? -total : total).toString().padStart(SCALE + 1, '0');
  const frac = abs.slice(-SCALE).replace(/0+$/, '');
  return `${neg ? '-' : ''}${abs.slice(0, -SCALE)}${frac ? `.${frac}` : ''}`;
}

const error = (
  res: ServerResponse,
  status: number,
  message: string,
  code: string | null,
  type = 'invalid_request_error',
) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message, type, param: null, code } }));
};

/**
 * Starts the fake; `adminKey` is the only key it accepts, `now` (unix seconds) where open-ended
 * ranges stop; `pageSize` caps the buckets of a page below the `limit` asked (a server may return
 * fewer, with `has_more`), to make a short range span several pages.
 */
export async function startFakeAdminApi(opts: {
  adminKey: string;
  records: FakeRecord[];
  now: number;
  pageSize?: number;
}): Promise<FakeAdminApi> {
  const requests: FakeAdminApi['requests'] = [];
  const faults: { status: number; retryAfter?: number | null }[] = [];

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push({ path: url.pathname, query: url.searchParams, at: Date.now() });
    const fault = faults.shift();
    if (fault?.status === 429) {
      res.writeHead(429, {
        'content-type': 'application/json',
        ...(fault.retryAfter === null ? {} : { 'retry-after': String(fault.retryAfter) }),
      });
      return void res.end(
        JSON.stringify({
          error: {
            message: 'Rate limit reached for organization usage.',
            type: 'requests',
            param: null,
            code: 'rate_limit_exceeded',
          },
        }),
      );
    }
    if (fault)
      return error(
        res,
        fault.status,
        fault.status >= 500 ? 'The server had an error.' : 'Forbidden.',
        null,
        'server_error',
      );
    const auth = req.headers.authorization ?? '';
    if (auth !== `Bearer ${opts.adminKey}`) {
      const key = auth.replace(/^Bearer /, '');
      return error(
        res,
        401,
        `Incorrect API key provided: ${key.slice(0, 8)}****${key.slice(-4)}. This endpoint requires an admin API key.`,
        'invalid_api_key',
      );
    }
    const m = /^\/v1\/organization\/(?:usage\/(\w+)|(costs))$/.exec(url.pathname);
    const kind = (m?.[1] ?? m?.[2]) as Kind | undefined;
    if (!kind || !(kind in GROUPS)) return error(res, 404, `Invalid URL (GET ${url.pathname})`, null);
    const q = url.searchParams;
    const start = Number(q.get('start_time'));
    if (!q.has('start_time') || !Number.isInteger(start)) return error(res, 400, 'start_time is required', null);
    const width = (q.get('bucket_width') ?? '1d') as keyof typeof WIDTH;
    if (!(width in WIDTH) || (kind === 'costs' && width !== '1d'))
      return error(res, 400, `Invalid bucket_width ${width}`, null);
    const [defaultLimit, maxLimit] = kind === 'costs' ? [7, 180] : LIMITS[width];
    const limit = q.has('limit') ? Number(q.get('limit')) : defaultLimit;
    if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit)
      return error(res, 400, `limit must be 1 to ${maxLimit}`, null);
    const groupBy = [...q.getAll('group_by[]'), ...q.getAll('group_by')];
    for (const g of groupBy)
      if (!GROUPS[kind].includes(g)) return error(res, 400, `Invalid group_by value: ${g}`, null);
    const end = q.has('end_time') ? Number(q.get('end_time')) : opts.now;
    const page = q.get('page');
    const first = page ? Number(Buffer.from(page, 'base64url').toString()) : start;
    const buckets: unknown[] = [];
    let t = first;
    for (; t < end && buckets.length < Math.min(limit, opts.pageSize ?? limit); t += WIDTH[width]) {
      const into = new Map<string, { group: Record<string, unknown>; rows: FakeRecord[] }>();
      for (const r of opts.records) {
        if (r.kind !== kind || r.time < t || r.time >= t + WIDTH[width]) continue;
        const group = Object.fromEntries(
          GROUPS[kind].map((g) => [g, groupBy.includes(g) ? (r.fields[g] ?? null) : null]),
        );
        const key = JSON.stringify(group);
        if (!into.has(key)) into.set(key, { group, rows: [] });
        into.get(key)!.rows.push(r);
      }
      const results = [...into.values()].map(({ group, rows }) =>
        kind === 'costs'
          ? {
              object: 'organization.costs.result',
              amount: { value: `@@${sumDecimals(rows.map((r) => String(r.fields.amount)))}@@`, currency: 'usd' },
              ...group,
              quantity: null,
              quantity_unit: null,
            }
          : {
              object: `organization.usage.${kind}.result`,
              ...Object.fromEntries(
                COUNTS[kind].map((c) => [c, rows.reduce((s, r) => s + Number(r.fields[c] ?? 0), 0)]),
              ),
              ...group,
            },
      );
      buckets.push({ object: 'bucket', start_time: t, end_time: t + WIDTH[width], results });
    }
    const more = t < end;
    const body = JSON.stringify({
      object: 'page',
      data: buckets,
      has_more: more,
      next_page: more ? Buffer.from(String(t)).toString('base64url') : null,
    }).replace(/"@@(-?[\d.]+)@@"/g, '$1');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  };

  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    rateLimit: (times, retryAfter) => {
      for (let i = 0; i < times; i++) faults.push({ status: 429, retryAfter });
    },
    fail: (times, status) => {
      for (let i = 0; i < times; i++) faults.push({ status });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
