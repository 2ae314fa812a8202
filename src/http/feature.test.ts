import { describe, expect, it } from 'vitest';
import { featureOf } from './feature.js';

const features = { summarise: { multiplier: 1.5 }, chat: { multiplier: 1 } };

describe('featureOf', () => {
  it('is the feature named, none when the name is absent or empty', () => {
    expect(featureOf(features, 'summarise')).toEqual({ name: 'summarise', multiplier: 1.5 });
    expect(featureOf(features, undefined)).toBeUndefined();
    expect(featureOf(features, '')).toBeUndefined();
  });

  it('refuses an unknown feature, listing the known ones', () => {
    expect(featureOf(features, 'nope')).toEqual({
      kind: 'unknown_feature',
      feature: 'nope',
      known: ['summarise', 'chat'],
    });
  });

  it('looks names up as own properties only: inherited names are unknown', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty'])
      expect(featureOf(features, name)).toMatchObject({ kind: 'unknown_feature', feature: name });
    expect(featureOf({}, 'x')).toEqual({ kind: 'unknown_feature', feature: 'x', known: [] });
  });
});
