import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { Outcome } from '../ledger/port.js';
import { modelFamily } from '../metering/model.js';

/**
 * Prometheus metrics (prom-client), on a registry of their own (never prom-client's global one, so
 * two servers in one process do not mix).
 *
 * Label cardinality is bounded by the config, never by what callers send:
 * - `company`: a company id of the config; anything else (a company removed since) is `other`.
 * - `model`: the name of the price entry that priced the request (the config's `prices` or the
 *   built-in price table: `gpt-4o-2024-08-06` priced as `gpt-4o` is `gpt-4o`); without one, the
 *   config's `prices` entry matching the model by exact name or family; anything else (unpriced
 *   models, pass-throughs without a model) is `other`.
 * - `endpoint`: the path with ids replaced by `:id` (`/v1/responses/resp_1/cancel` →
 *   `/v1/responses/:id/cancel`): each segment after `/v1/` is one of OpenAI's resource words
 *   (`chat`, `completions`, `models`, …) or becomes `:id`; a path not starting with a resource word,
 *   or deeper than 5 segments, is `other`.
 */

/** Path segments kept as they are in the `endpoint` label; any other segment is an id. */
const RESOURCE_WORDS = new Set([
  'chat',
  'completions',
  'responses',
  'embeddings',
  'moderations',
  'images',
  'generations',
  'edits',
  'variations',
  'audio',
  'speech',
  'transcriptions',
  'translations',
  'batches',
  'cancel',
  'models',
  'files',
  'uploads',
  'parts',
  'complete',
  'content',
  'input_items',
  'messages',
  'fine_tuning',
  'jobs',
  'events',
  'checkpoints',
  'videos',
  'vector_stores',
  'assistants',
  'threads',
  'runs',
  'realtime',
  'sessions',
]);

/** Buckets for in-process work (admission: auth, parse, token count, the hold's transaction), ms. */
const ADMISSION_BUCKETS_MS = [0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 1000];
/** Buckets for upstream work, ms: from a fast embedding to a long reasoning stream. */
const UPSTREAM_BUCKETS_MS = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 120_000, 300_000];

/** The label value for anything outside the config (see the module comment). */
export const OTHER = 'other';

/** Where the metrics read what they cannot be told: the running config, and the ledger at scrape time. */
export interface MetricsSources {
  config: () => Config;
  /** Rows with status `held` right now. */
  openHolds: () => Promise<number>;
  /** Also collect prom-client's default process metrics (CPU, memory, event loop, GC). Default true. */
  processMetrics?: boolean;
}

type RequestLabels = 'company' | 'model' | 'endpoint' | 'status_class' | 'usage_source';

/** tollgate's Prometheus metrics: counters, gauges and histograms on their own registry (see the module comment). */
export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<RequestLabels>;
  readonly tokens: Counter<'company' | 'model' | 'kind'>;
  readonly cost: Counter<'company' | 'model'>;
  readonly refusals: Counter<'company' | 'endpoint' | 'code'>;
  readonly openHolds: Gauge;
  readonly admissionLatency: Histogram<'endpoint'>;
  readonly upstreamLatency: Histogram<'endpoint'>;
  readonly requestDuration: Histogram<'endpoint'>;
  readonly configReloads: Counter<'result'>;
  readonly upstreamAuthFailures: Counter<'status'>;

  constructor(private readonly sources: MetricsSources) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'tollgate_requests_total',
      help: 'Requests forwarded upstream, counted when their ledger row is settled or voided.',
      labelNames: ['company', 'model', 'endpoint', 'status_class', 'usage_source'],
      registers,
    });
    this.tokens = new Counter({
      name: 'tollgate_tokens_total',
      help: 'Tokens of settled requests: kind "input" (uncached input), "cached" (cached input), "output" (reasoning included). The kinds add up to total tokens.',
      labelNames: ['company', 'model', 'kind'],
      registers,
    });
    this.cost = new Counter({
      name: 'tollgate_cost_micro_usd_total',
      help: 'Cost of settled requests in micro-USD (1 USD = 1,000,000).',
      labelNames: ['company', 'model'],
      registers,
    });
    this.refusals = new Counter({
      name: 'tollgate_refusals_total',
      help: 'Requests answered by tollgate itself before anything went upstream (401, 400, 413, 429), by error code.',
      labelNames: ['company', 'endpoint', 'code'],
      registers,
    });
    const openHolds = sources.openHolds;
    this.openHolds = new Gauge({
      name: 'tollgate_open_holds',
      help: 'Ledger rows with status "held" (requests in flight), read from the ledger at scrape time.',
      registers,
      async collect() {
        this.set(await openHolds());
      },
    });
    this.admissionLatency = new Histogram({
      name: 'tollgate_admission_latency_ms',
      help: 'Admission time in ms: authentication, body parse, token estimate and the hold, until the request is forwarded or refused.',
      labelNames: ['endpoint'],
      buckets: ADMISSION_BUCKETS_MS,
      registers,
    });
    this.upstreamLatency = new Histogram({
      name: 'tollgate_upstream_latency_ms',
      help: "Upstream latency in ms: from forwarding the request until the upstream's response headers (or failure).",
      labelNames: ['endpoint'],
      buckets: UPSTREAM_BUCKETS_MS,
      registers,
    });
    this.requestDuration = new Histogram({
      name: 'tollgate_request_duration_ms',
      help: "Whole request in ms, from arrival to the response's last byte (the ledger row's latency_ms).",
      labelNames: ['endpoint'],
      buckets: UPSTREAM_BUCKETS_MS,
      registers,
    });
    this.configReloads = new Counter({
      name: 'tollgate_config_reloads_total',
      help: 'Config reloads, by result: applied or refused.',
      labelNames: ['result'],
      registers,
    });
    this.upstreamAuthFailures = new Counter({
      name: 'tollgate_upstream_auth_failures_total',
      help: "Upstream answers refusing tollgate's own API key (401/403), by status.",
      labelNames: ['status'],
      registers,
    });
    if (sources.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** The `company` label: a company of the running config, else `other`. */
  companyLabel(companyId: string | null | undefined): string {
    return companyId && Object.hasOwn(this.sources.config().companies, companyId) ? companyId : OTHER;
  }

  /** The `model` label: the config's `prices` entry pricing `model` (exact, then family), else `other`. */
  modelLabel(model: string | null | undefined): string {
    if (!model) return OTHER;
    const prices = this.sources.config().prices;
    if (Object.hasOwn(prices, model)) return model;
    const family = modelFamily(model);
    return Object.hasOwn(prices, family) ? family : OTHER;
  }

  private readonly endpointLabels = new Map<string, string>();

  /** The `endpoint` label: the path without its query, ids replaced by `:id` (see the module comment). Memoised (up to 1,000 paths). */
  endpointLabel(pathAndQuery: string): string {
    let label = this.endpointLabels.get(pathAndQuery);
    if (label === undefined) {
      label = this.computeEndpointLabel(pathAndQuery);
      if (this.endpointLabels.size < 1000) this.endpointLabels.set(pathAndQuery, label);
    }
    return label;
  }

  private computeEndpointLabel(pathAndQuery: string): string {
    const q = pathAndQuery.indexOf('?');
    const segments = (q === -1 ? pathAndQuery : pathAndQuery.slice(0, q)).split('/');
    // ['', 'v1', first, ...rest]
    if (
      segments[0] !== '' ||
      segments[1] !== 'v1' ||
      segments.length < 3 ||
      segments.length > 7 ||
      !RESOURCE_WORDS.has(segments[2]!)
    )
      return OTHER;
    return segments.map((s, i) => (i < 2 || RESOURCE_WORDS.has(s) ? s : ':id')).join('/');
  }

  /**
   * Counts a request whose row was just settled or voided: one request, its tokens and cost. Called
   * once per row by the relay, with plain values: the request's company (undefined: read from its
   * ledger row), the model it named, its path and query, and its HTTP status. `outcome` is what was
   * written (absent: voided without usage).
   */
  finished(
    request: { companyId: string | null | undefined; model: string | null | undefined },
    pathAndQuery: string,
    httpStatus: number | null,
    outcome:
      | Pick<Outcome, 'usage' | 'usageSource' | 'costMicroUsd' | 'latencyMs' | 'model' | 'priceVersion'>
      | undefined,
  ): void {
    try {
      const company = this.companyLabel(request.companyId);
      const version = outcome?.priceVersion;
      const priced = version?.includes('@') ? version.slice(0, version.lastIndexOf('@')) : undefined;
      const model = priced || this.modelLabel(outcome?.model ?? request.model);
      const endpoint = this.endpointLabel(pathAndQuery);
      const statusClass = !httpStatus ? 'none' : `${Math.floor(httpStatus / 100)}xx`;
      this.requests.inc({
        company,
        model,
        endpoint,
        status_class: statusClass,
        usage_source: outcome?.usageSource ?? 'none',
      });
      if (outcome?.latencyMs !== undefined) this.requestDuration.observe({ endpoint }, outcome.latencyMs);
      const usage = outcome?.usage;
      if (usage) {
        const cached = Math.min(usage.cachedInputTokens, usage.inputTokens);
        if (usage.inputTokens - cached) this.tokens.inc({ company, model, kind: 'input' }, usage.inputTokens - cached);
        if (cached) this.tokens.inc({ company, model, kind: 'cached' }, cached);
        if (usage.outputTokens) this.tokens.inc({ company, model, kind: 'output' }, usage.outputTokens);
      }
      if (outcome) this.cost.inc({ company, model }, outcome.costMicroUsd);
    } catch {
      // Metrics never fail a request.
    }
  }

  /** Counts a request tollgate refused before forwarding it. */
  refused(companyId: string | null, pathAndQuery: string, code: string | null): void {
    this.refusals.inc({
      company: this.companyLabel(companyId),
      endpoint: this.endpointLabel(pathAndQuery),
      code: code ?? 'invalid_request',
    });
  }

  admission(pathAndQuery: string, ms: number): void {
    this.admissionLatency.observe({ endpoint: this.endpointLabel(pathAndQuery) }, ms);
  }

  upstream(pathAndQuery: string, ms: number): void {
    this.upstreamLatency.observe({ endpoint: this.endpointLabel(pathAndQuery) }, ms);
  }

  /** Counts an upstream 401/403 refusing tollgate's own key. */
  upstreamAuthFailed(status: number): void {
    this.upstreamAuthFailures.inc({ status: String(status) });
  }

  configReload(applied: boolean): void {
    this.configReloads.inc({ result: applied ? 'applied' : 'refused' });
  }

  /** The exposition text and its content type. */
  async scrape(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
