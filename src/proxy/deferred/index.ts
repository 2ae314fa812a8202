import type { Principal } from '../../auth/principal.js';
import type { Denial } from '../../http/denial.js';
import type { FeatureRate } from '../../http/env.js';
import type { AdmissionDeps, Admitted } from '../admission.js';
import type { Endpoint } from '../endpoints.js';
import { admitBatch } from './batch.js';
import { admitFineTuningJob } from './fine-tuning.js';
import { admitVideo } from './video.js';

/**
 * Admission of the requests that create work the upstream finishes later and tollgate settles when
 * it is final (src/settlement/): a batch, a fine-tuning job, a video. Each is held at creation on
 * what it can cost; its row is deferred on the object id of the answer (the endpoint's `defers`).
 */
export type CreationAdmitter = (
  rt: AdmissionDeps,
  principal: Principal,
  endpoint: Endpoint,
  raw: Uint8Array,
  contentType: string,
  feature: FeatureRate | undefined,
  now: Date,
) => Promise<Admitted | Denial>;

const ADMITTERS: ReadonlyMap<string, CreationAdmitter> = new Map<string, CreationAdmitter>([
  ['/v1/batches', (rt, p, e, raw, _ct, f, now) => admitBatch(rt, p, e, raw, f, now)],
  ['/v1/fine_tuning/jobs', (rt, p, e, raw, _ct, f, now) => admitFineTuningJob(rt, p, e, raw, f, now)],
  ['/v1/videos', admitVideo],
]);

/** The admission of a creation endpoint (`POST /v1/batches`, `/v1/fine_tuning/jobs`, `/v1/videos`), or undefined for any other. */
export function creationAdmitter(endpoint: Endpoint): CreationAdmitter | undefined {
  return endpoint.method === 'POST' ? ADMITTERS.get(endpoint.path) : undefined;
}
