import { createMiddleware } from 'hono/factory';
import type { FeatureConfig } from '../../config/schema.js';
import type { Denial } from '../../http/denial.js';
import { answerDenial } from '../../http/openai-error.js';
import { requestHeader, type AppContext, type AppEnv, type FeatureRate, type OnDenied } from '../../http/env.js';

/** The request header naming the feature rate to apply. */
export const FEATURE_HEADER = 'x-tollgate-feature';

/**
 * The feature rate `name` selects among the config's `features` (own properties only: a name such as
 * `constructor` is unknown, not inherited), undefined when no feature is named (absent or empty),
 * or the 400 `unknown_feature` denial.
 */
export function featureOf(
  features: Readonly<Record<string, FeatureConfig>>,
  name: string | undefined,
): FeatureRate | Denial | undefined {
  if (name === undefined || name === '') return undefined;
  if (!Object.hasOwn(features, name)) return { kind: 'unknown_feature', feature: name, known: Object.keys(features) };
  return { name, multiplier: features[name]!.multiplier };
}

export interface FeatureRateOptions {
  /** The config's feature rates, read on every request. */
  features: () => Readonly<Record<string, FeatureConfig>>;
  /** Applies only where this returns true (default: everywhere); elsewhere `feature` stays unset. */
  when?: (c: AppContext) => boolean;
  onDenied?: OnDenied;
}

/** Feature rate: reads `x-tollgate-feature` and sets `feature`, or refuses an unknown feature with 400. */
export function featureRate(opts: FeatureRateOptions) {
  const onDenied = opts.onDenied ?? answerDenial;
  return createMiddleware<AppEnv>(async (c, next) => {
    if (opts.when && !opts.when(c)) return next();
    const feature = featureOf(opts.features(), requestHeader(c, FEATURE_HEADER));
    if (feature && 'kind' in feature) return onDenied(c, feature);
    c.set('feature', feature);
    return next();
  });
}
