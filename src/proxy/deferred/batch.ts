import type { Principal } from '../../auth/principal.js';
import { isDenial, type Denial } from '../../http/denial.js';
import type { FeatureRate } from '../../http/env.js';
import type { JsonObject } from '../../http/json-body.js';
import type { HoldRequest } from '../../ledger/port.js';
import { maxPicoPerToken, type Priced } from '../../pricing/price.js';
import type { AdmissionDeps, Admitted } from '../admission.js';
import { priceModel } from '../admit-json.js';
import type { Endpoint } from '../endpoints.js';
import { admitHeld, fileEstimateFor } from './common.js';

/**
 * Admission of `POST /v1/batches`: held on the input file's estimate (src/files/: each line's prompt
 * plus its output ceiling, tokens), at Batch prices. Each line is held at its own model's price:
 * on USD grants the hold is Σ over models of (tokens × the model's highest per-token price × (1 −
 * `batchDiscount`)), expressed as one per-token price over the total. A batch over one model is
 * held on the grants covering that model; over several, on the grants covering every model.
 * Refusals: 400 for a missing or unestimated input file (see `fileEstimateFor`), 400
 * `model_not_priced` for a line's unpriced model, 429 `insufficient_quota` when the grants or a
 * quota cannot cover the total. The batch id in the answer defers the row (`defers: 'batch'`).
 * `raw` is the body as received (sent on unchanged), `body` the same parsed.
 */
export async function admitBatch(
  rt: AdmissionDeps,
  principal: Principal,
  endpoint: Endpoint,
  raw: Uint8Array,
  body: JsonObject,
  feature: FeatureRate | undefined,
  now: Date,
): Promise<Admitted | Denial> {
  const estimate = await fileEstimateFor(rt, principal, body, 'input_file_id', 'batch');
  if (isDenial(estimate)) return estimate;
  const multiplier = feature?.multiplier ?? 1;
  let tokens = 0;
  let pico = 0;
  let priced: Priced | undefined;
  for (const m of estimate.models) {
    const p = priceModel(rt.config, m.model, now, principal.companyId);
    if (isDenial(p)) return p;
    priced = p;
    tokens += m.maxTokens;
    if (p) pico += m.maxTokens * maxPicoPerToken(p.price) * (1 - p.price.batchDiscount);
  }
  const held = Math.max(1, Math.ceil(tokens * multiplier));
  const want: HoldRequest = {
    minTokens: held,
    maxTokens: held,
    clamp: false,
    maxPicoPerToken: Math.ceil(pico / held),
  };
  const single = estimate.models.length === 1;
  return admitHeld(
    rt,
    principal,
    endpoint,
    {
      model: single ? estimate.models[0]!.model : null,
      want,
      body: raw,
      priced: single ? priced : undefined,
      feature,
      rateLimited: false,
    },
    now,
  );
}
