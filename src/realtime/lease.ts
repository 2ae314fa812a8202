import type { Principal } from '../auth/principal.js';
import { isDenial, type Denial } from '../http/denial.js';
import type { FeatureRate } from '../http/env.js';
import { toOpenAIError } from '../http/openai-error.js';
import type { Outcome, QuotaCheck } from '../ledger/port.js';
import type { Usage } from '../metering/usage.js';
import { costNanoUsd, maxPicoPerToken, nanoToMicro, priceBook, type Priced } from '../pricing/price.js';
import { newRequestId, place, requestRow, type Facts } from '../proxy/admission.js';
import { counted } from '../proxy/finish.js';
import type { Runtime } from '../runtime.js';

/** The endpoint every Realtime row records (reports and metrics group sessions under it). */
export const REALTIME_ENDPOINT = '/v1/realtime';
/** The HTTP status recorded on Realtime rows: the upgrade's `101 Switching Protocols`. */
const SWITCHING_PROTOCOLS = 101;

/** A response row held on a lease: its id and what it holds (tokens). */
export interface Lease {
  requestId: string;
  holdTokens: number;
  quotas: QuotaCheck[];
  /** Rate-limit and standing headers of its admission (sent on the upgrade for the opening lease). */
  headers: Record<string, string>;
}

/** Why a lease was refused, as an OpenAI error: the `response.create` that asked is refused with an `error` event of this code. */
export interface LeaseRefusal {
  code: 'insufficient_quota' | 'rate_limit_exceeded';
  message: string;
  /** The refusal as data, answered as HTTP (429) for a session refused at connect. */
  denial: Denial;
}

/** The fixed facts of a session: who, which model, at what feature rate. */
export interface SessionFacts {
  /** tollgate's id for the session (`rts_` + hex), on every row of the session as `session_id`. */
  sessionId: string;
  principal: Principal;
  /** The model of `?model=`; null for a transcription-only session (`?intent=transcription`). */
  model: string | null;
  feature?: FeatureRate;
}

/** Price used for the hold of a transcription-only session, whose model is not known at connect. */
const TRANSCRIPTION_HOLD_MODEL = 'gpt-4o-transcribe';

/**
 * A session's money. Every response is its own ledger row (endpoint `/v1/realtime`, `session_id`
 * = the session's id), admitted on a lease-sized hold before the response may run and settled from
 * its `response.done`; each input transcription is its own row, held on its exact cost and settled
 * at once. The ledger calls go through the ledger's group commit, so they are applied in call order.
 */
export class SessionLedger {
  /** The upstream's session id (`sess_…`, from `session.created`), recorded as each row's upstream request id. */
  upstreamSessionId?: string;
  private readonly priced?: Priced;

  constructor(
    private readonly rt: Runtime,
    readonly facts: SessionFacts,
  ) {
    this.priced = priceBook(rt.config).find(
      facts.model ?? TRANSCRIPTION_HOLD_MODEL,
      rt.clock(),
      facts.principal.companyId,
    );
  }

  private get multiplier(): number {
    return this.facts.feature?.multiplier ?? 1;
  }

  private rowFacts(model: string | null): Facts {
    return {
      endpoint: REALTIME_ENDPOINT,
      requestedModel: model,
      stream: true,
      sessionId: this.facts.sessionId,
      feature: this.facts.feature?.name ?? null,
    };
  }

  /**
   * Admits one response row on a lease of `realtime.leaseTokens` (clamped to what is left, down to
   * `minLeaseTokens`), under the per-minute rate limits (one request, the lease's tokens), the
   * quotas and the grants, like any admission.
   */
  async lease(): Promise<Lease | LeaseRefusal> {
    const { leaseTokens, minLeaseTokens } = this.rt.config.realtime;
    const m = this.multiplier;
    const want = {
      minTokens: Math.ceil(Math.min(minLeaseTokens, leaseTokens) * m),
      maxTokens: Math.ceil(leaseTokens * m),
      clamp: true,
      maxPicoPerToken: this.priced ? Math.ceil(maxPicoPerToken(this.priced.price) / m) : 0,
    };
    const placed = await place(this.rt, this.facts.principal, this.rowFacts(this.facts.model), want, this.rt.clock());
    if (isDenial(placed)) return refusalOf(placed);
    return {
      requestId: placed.requestId,
      holdTokens: placed.holdTokens,
      quotas: placed.quotas,
      headers: placed.headers,
    };
  }

  /**
   * Settles a response's row with its usage (`upstream`, or `estimated` for a response cut short),
   * priced at the session model's price. With no lease (a response the upstream started while no
   * lease was free), a row is written and settled at once: its charge is taken from the grants as
   * a settle does, beyond the balance if need be (recorded as overdraft).
   */
  async chargeResponse(
    lease: Lease | undefined,
    usage: Usage,
    source: 'upstream' | 'estimated',
    extra: Pick<Outcome, 'latencyMs' | 'errorCode' | 'returnedModel'>,
  ): Promise<void> {
    const outcome = this.outcome(this.facts.model, this.priced, usage, source, extra);
    await this.settle(lease ?? (await this.openRow(this.facts.model)), outcome);
  }

  /**
   * Charges one input transcription at its model's price: a row held on exactly its cost, then
   * settled. Resolves false when the grants or a quota could not cover it (it is charged anyway,
   * on a row without a hold: the session must then be cut off).
   */
  async chargeTranscription(model: string, usage: Usage): Promise<boolean> {
    const priced = priceBook(this.rt.config).find(model, this.rt.clock(), this.facts.principal.companyId);
    const outcome = this.outcome(model, priced, usage, 'upstream', { latencyMs: 0 });
    const byUnit = usage.seconds !== undefined && usage.totalTokens === 0;
    const want = byUnit
      ? {
          minTokens: outcome.costMicroUsd,
          maxTokens: outcome.costMicroUsd,
          clamp: false,
          maxPicoPerToken: 0,
          costOnly: true,
        }
      : {
          minTokens: outcome.meteredTokens,
          maxTokens: outcome.meteredTokens,
          clamp: false,
          maxPicoPerToken: priced ? Math.ceil(maxPicoPerToken(priced.price) / this.multiplier) : 0,
        };
    const placed = await place(this.rt, this.facts.principal, this.rowFacts(model), want, this.rt.clock(), false);
    const covered = !isDenial(placed);
    const lease = !isDenial(placed)
      ? { requestId: placed.requestId, holdTokens: placed.holdTokens, quotas: placed.quotas, headers: {} }
      : await this.openRow(model);
    await this.settle(lease, outcome);
    return covered;
  }

  /** Settles a lease no response used (the session ended first): nothing charged, `error_code` says why the session ended. */
  async release(lease: Lease, latencyMs: number, errorCode: string | undefined): Promise<void> {
    await this.settle(lease, {
      httpStatus: SWITCHING_PROTOCOLS,
      usageSource: 'none',
      meteredTokens: 0,
      costMicroUsd: 0,
      latencyMs,
      errorCode,
      upstreamRequestId: this.upstreamSessionId,
    });
  }

  /**
   * A row without a hold, for a `response.create` forwarded while the conversation has a response
   * in flight: the upstream refuses it (`conversation_already_has_active_response`), and the row is
   * then voided; if the upstream ran it after all, the row is settled like any response's.
   */
  ticket(): Promise<Lease> {
    return this.openRow(this.facts.model);
  }

  /** Voids the row of a `response.create` the upstream refused (its `error` event): nothing charged, `error_code` = the upstream's code. */
  async refused(lease: Lease, latencyMs: number, errorCode: string): Promise<void> {
    await this.void(lease, SWITCHING_PROTOCOLS, latencyMs, errorCode);
  }

  /** Voids a lease when the upstream refused the session: nothing charged, with the upstream's status and code. */
  async void(lease: Lease, httpStatus: number | null, latencyMs: number, errorCode: string): Promise<void> {
    const now = this.rt.clock();
    const outcome = {
      httpStatus,
      usageSource: 'none' as const,
      latencyMs,
      errorCode,
      upstreamRequestId: this.upstreamSessionId,
    };
    await this.rt.ledger.void(lease.requestId, outcome, now);
    this.rt.metrics?.finished(
      { companyId: this.facts.principal.companyId, model: this.facts.model },
      REALTIME_ENDPOINT,
      httpStatus,
      { ...outcome, costMicroUsd: 0 },
    );
  }

  private outcome(
    model: string | null,
    priced: Priced | undefined,
    usage: Usage,
    usageSource: Outcome['usageSource'],
    extra: Partial<Outcome> & { latencyMs: number },
  ): Outcome {
    const nano = priced ? costNanoUsd(usage, priced.price) : 0;
    return {
      httpStatus: SWITCHING_PROTOCOLS,
      upstreamRequestId: this.upstreamSessionId,
      ...extra,
      usage,
      usageSource,
      model: model ?? undefined,
      meteredTokens: Math.ceil(usage.totalTokens * this.multiplier),
      costMicroUsd: nanoToMicro(nano),
      costNanoUsd: nano,
      priceVersion: priced?.version,
      priceSource: priced?.source,
      errorCode: extra.errorCode ?? (priced ? undefined : 'model_not_priced'),
    };
  }

  /** A row without a hold, for a charge that could not be held first. */
  private async openRow(model: string | null): Promise<Lease> {
    const { principal } = this.facts;
    const requestId = newRequestId();
    await this.rt.ledger.open(requestRow(requestId, principal, this.rowFacts(model)), this.rt.clock());
    return { requestId, holdTokens: 0, quotas: [], headers: {} };
  }

  /** Settles a row, then counts it, fires threshold alerts and logs it, as the HTTP relay does. */
  private async settle(lease: Lease, outcome: Outcome): Promise<void> {
    const { rt } = this;
    const { principal } = this.facts;
    const now = rt.clock();
    const settled = await rt.ledger.settle(lease.requestId, outcome, now);
    counted(
      rt,
      { principal, model: outcome.model ?? this.facts.model, quotas: lease.quotas },
      REALTIME_ENDPOINT,
      outcome,
      settled,
    );
    rt.log.info(
      {
        requestId: lease.requestId,
        sessionId: this.facts.sessionId,
        usage: outcome.usageSource,
        tokens: outcome.meteredTokens,
        costMicroUsd: outcome.costMicroUsd,
        errorCode: outcome.errorCode,
      },
      'realtime row settled',
    );
  }
}

/** The code and message of a refusal `place` answered with (a rate limit or a quota, both 429). */
function refusalOf(denial: Denial): LeaseRefusal {
  return {
    code: denial.kind === 'rate_limited' ? 'rate_limit_exceeded' : 'insufficient_quota',
    message: toOpenAIError(denial).body.message,
    denial,
  };
}
