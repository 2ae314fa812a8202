import type { FeatureConfig } from '../config/schema.js';
import type { Denial } from './denial.js';
import type { FeatureRate } from './env.js';

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
