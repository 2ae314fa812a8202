import type { Principal } from '../auth/principal.js';
import type { Outcome, QuotaCheck, Settled } from '../ledger/port.js';
import { priceBook } from '../pricing/price.js';
import type { Runtime } from '../runtime.js';
import type { DeferredKind } from '../settlement/kinds.js';
import type { Admitted } from './admission.js';
import { decide, uploaded, type Observed } from './outcome.js';

/** What the finish pass reads and writes: prices (config, clock), the ledger, metrics, alerts and the log. */
export type FinishDeps = Pick<Runtime, 'config' | 'clock' | 'ledger' | 'metrics' | 'alerts' | 'log' | 'settler'>;

/**
 * The finish pass: settles or voids the row once (see `decide`), then counts it and fires alerts;
 * or, for upstream work still pending, defers it to the settler (the row stays held).
 * Except for uploads (whose form may still be being read), the ledger write is queued
 * synchronously, before the response's last bytes are written: a client's next request is
 * admitted after it (the ledger applies calls in order).
 */
export async function record(rt: FinishDeps, admitted: Admitted, pathAndQuery: string, seen: Observed): Promise<void> {
  const { requestId } = admitted;
  const upload = admitted.multipart ? await uploaded(admitted.multipart) : undefined;
  const decision = decide(admitted, seen, upload, (model) =>
    priceBook(rt.config).find(model, rt.clock(), admitted.principal.companyId),
  );
  const now = rt.clock();
  if ('defer' in decision && (await deferred(rt, admitted, decision.defer, now))) return;
  const outcome = 'settle' in decision ? decision.settle : 'void' in decision ? decision.void : decision.outcome;
  const settled = await ('void' in decision
    ? rt.ledger.void(requestId, outcome, now)
    : rt.ledger.settle(requestId, outcome, now));
  if ('nudge' in decision && decision.nudge) rt.settler?.nudge(decision.nudge);
  counted(
    rt,
    { principal: admitted.principal, model: admitted.model, quotas: admitted.quotas },
    pathAndQuery,
    outcome,
    settled,
  );
  rt.log.info(
    {
      requestId,
      clientRequestId: admitted.principal.clientRequestId ?? undefined,
      status: seen.httpStatus,
      usage: outcome.usageSource,
      tokens: outcome.meteredTokens,
      costMicroUsd: outcome.costMicroUsd,
      latencyMs: seen.latencyMs,
      errorCode: outcome.errorCode,
    },
    'request finished',
  );
}

/**
 * Defers the held row on upstream object `object` (its hold stays until the settler settles it);
 * resolves false when the ledger refused (the object is already pending on another row).
 */
async function deferred(
  rt: FinishDeps,
  a: Admitted,
  object: { id: string; kind: DeferredKind },
  now: Date,
): Promise<boolean> {
  const firstPollAt = rt.settler?.firstPollAt(object.kind, now) ?? now;
  const request = {
    ...object,
    requestId: a.requestId,
    companyId: a.principal.companyId,
    model: a.model,
    multiplier: a.feature?.multiplier ?? 1,
    promptTokens: a.prompt ? a.prompt.tokens() : (a.estimate?.promptTokens ?? 0),
    subject: subjectOf(a.principal),
  };
  if (!(await rt.ledger.deferred.defer(request, firstPollAt, now))) return false;
  rt.log.info(
    { requestId: a.requestId, object: object.id, kind: object.kind, firstPollAt: firstPollAt.toISOString() },
    'request deferred until its upstream object is final',
  );
  return true;
}

/** Whose usage a request is, for spike alerts: `<company>/<user>` for a user token, `key:<key id>` for a key. */
function subjectOf(principal: Principal): string {
  return principal.userId !== null ? `${principal.companyId}/${principal.userId}` : `key:${principal.keyId}`;
}

/**
 * After a row was settled or voided: counts it in the metrics (one request, its tokens and cost)
 * and, when it charged something, checks the quotas and grants it touched for threshold and spike
 * alerts. `settled` is what the ledger answered (false: the row was no longer held).
 */
export function counted(
  rt: Pick<Runtime, 'metrics' | 'alerts'>,
  request: { principal: Principal; model: string | null; quotas: QuotaCheck[] },
  pathAndQuery: string,
  outcome: Outcome,
  settled: Settled | boolean,
): void {
  const { principal, quotas } = request;
  rt.metrics?.finished(
    { companyId: principal.companyId, model: request.model },
    pathAndQuery,
    outcome.httpStatus,
    outcome,
  );
  if (typeof settled === 'object' && outcome.meteredTokens + outcome.costMicroUsd > 0) {
    rt.alerts.afterSettle({
      companyId: principal.companyId,
      subject: subjectOf(principal),
      quotas,
      settled,
      tokens: outcome.meteredTokens,
    });
  }
}

/**
 * Runs `record`; the promise resolves once the settle is durable, or the failure logged (the hold
 * then stays open until the next start): it never rejects, so a caller may leave it unawaited.
 */
export function settleLater(rt: FinishDeps, admitted: Admitted, pathAndQuery: string, seen: Observed): Promise<void> {
  return record(rt, admitted, pathAndQuery, seen).catch((err: unknown) =>
    rt.log.error(
      { err, requestId: admitted.requestId },
      'could not record the request; its hold stays open until the next start',
    ),
  );
}
