import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { TAGS_HEADER, withTags } from '../attribution/tags.js';
import { authenticateBearer } from '../auth/authenticate.js';
import { isClientAbort } from '../http/body.js';
import { withClientRequestId } from '../http/client-request-id.js';
import { invalidRequest, isDenial, type Denial } from '../http/denial.js';
import { toOpenAIError } from '../http/openai-error.js';
import { answer } from '../http/respond.js';
import { forwardTarget, parseTarget, targetRefused } from '../http/target.js';
import { FEATURE_HEADER, featureOf } from '../http/feature.js';
import { planOwnership } from '../ownership/guard.js';
import { isLedgerUnavailable } from '../ledger/unavailable.js';
import type { Runtime } from '../runtime.js';
import { admit, MAX_BODY } from './admit.js';
import { findEndpoint, isUnbilled } from './endpoints.js';
import { refusal } from './refused.js';
import { relay, type ClientRequest } from './relay.js';

/** A request header's first value (Node lower-cases names). */
function header(incoming: IncomingMessage, name: string): string | undefined {
  const v = incoming.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Serves the OpenAI API (`/v1/...`) on Node's own request and response, without building fetch
 * `Request`/`Response` objects: the request walks the lifecycle once — target → route →
 * authenticate → body limit → feature rate → ownership → admit (the table in admit.ts) → forward,
 * meter and settle (relay.ts). Every refusal is a `Denial` until `refusal` turns it into OpenAI's
 * error, answered in one write. A ledger that could not answer gets 503 `ledger_unavailable` with
 * `retry-after`, an error nobody expected 500 `internal_error` (logged), a client that left mid-body
 * 400 `client_disconnected`.
 */
export function serveProxy(rt: Runtime): (incoming: IncomingMessage, outgoing: ServerResponse) => void {
  return (incoming, outgoing) => {
    const started = performance.now();
    proxy(rt, incoming, outgoing, started).catch((err: unknown) => {
      const where = { method: incoming.method, path: incoming.url };
      // A ledger that could not answer: 503 with retry-after (the guard logged the outage once).
      if (isLedgerUnavailable(err)) {
        answer(outgoing, toOpenAIError(err));
        return;
      }
      if (isClientAbort(err)) {
        rt.log.info({ ...where, err: (err as Error).message }, 'client left before its request was read');
        answer(outgoing, toOpenAIError(invalidRequest('The request body was cut off.', null, 'client_disconnected')));
        return;
      }
      rt.log.error({ err, ...where }, 'unhandled error');
      answer(outgoing, toOpenAIError(err));
    });
  };
}

async function proxy(rt: Runtime, incoming: IncomingMessage, outgoing: ServerResponse, started: number) {
  // Only origin-form targets without tricks, before authentication costs anything.
  const target = parseTarget(incoming.url ?? '/');
  if ('refused' in target) return answer(outgoing, toOpenAIError(targetRefused(target.refused)));
  const { path } = target;
  const method = incoming.method ?? 'GET';
  const now = rt.clock();
  // The route: a metered endpoint, a known free path, or (as `unknownPaths` says) a 404 or a pass-through.
  const endpoint = findEndpoint(method, path);
  if (!endpoint && !isUnbilled(path) && rt.config.unknownPaths !== 'passthrough')
    return answer(
      outgoing,
      toOpenAIError({ kind: 'not_found', message: `Invalid URL (${method} ${path})`, param: null, code: null }),
    );

  const authenticated = await authenticateBearer(rt.keys, rt.jwt, header(incoming, 'authorization'), now);
  const refuse = (denial: Denial, companyId: string | null) =>
    answer(outgoing, refusal(rt, path, companyId, denial, started));
  if (typeof authenticated === 'string') return refuse({ kind: 'invalid_api_key', reason: authenticated }, null);
  const companyId = authenticated.companyId;
  // A larger body is refused by its declared length before a byte is read; a chunked one as it is read.
  if (Number(header(incoming, 'content-length')) > MAX_BODY)
    return refuse({ kind: 'too_large', limitBytes: MAX_BODY }, companyId);
  const feature = endpoint ? featureOf(rt.config.features, header(incoming, FEATURE_HEADER)) : undefined;
  if (feature && 'kind' in feature) return refuse(feature, companyId);
  // OpenAI's API has no HEAD; a relayed answer to one would carry a body Node must drop.
  if (method === 'HEAD')
    return refuse(
      { kind: 'method_not_allowed', message: 'HEAD is not supported; use GET.', allow: 'GET, POST, DELETE' },
      companyId,
    );

  // Spend tags are read with the credential: a bad header is refused before anything is held.
  const principal = withTags(
    withClientRequestId(authenticated, incoming.headers['x-client-request-id']),
    rt.config.companies[companyId]!,
    incoming.headers[TAGS_HEADER],
  );
  if (isDenial(principal)) return refuse(principal, companyId);
  const owned = await planOwnership(rt, principal, method, path);
  if (isDenial(owned)) return refuse(owned, companyId);
  // Admitted as its endpoint's entry in the endpoint table says (endpoints.ts → admit.ts).
  const admitted = await admit({
    rt,
    principal,
    endpoint,
    method,
    path,
    query: target.query,
    incoming,
    contentType: header(incoming, 'content-type') ?? '',
    feature,
    ownership: owned,
    now,
  });
  if ('kind' in admitted) return refuse(admitted, companyId);
  rt.metrics?.admission(path, performance.now() - started);
  const request: ClientRequest = {
    method: method as ClientRequest['method'],
    pathAndQuery: forwardTarget(target),
    headers: incoming.headers,
    outgoing,
  };
  await relay(rt, request, admitted, started);
}
