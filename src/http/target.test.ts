import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTarget } from './target.js';

/** The rule as stated (segment by segment), to hold the one-pass check to it. */
function accepted(raw: string): boolean {
  if (!raw.startsWith('/')) return false;
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = q < 0 ? '' : raw.slice(q + 1);
  const segments = path === '/' ? [] : path.slice(1).split('/');
  const pchars = segments.every(
    (s) => s !== '' && s !== '.' && s !== '..' && /^[A-Za-z0-9\-._~!$&'()*+,;=:@]+$/.test(s),
  );
  return pchars && /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%[\]]*$/.test(query);
}

describe('parseTarget', () => {
  it('accepts exactly the origin-form targets of non-empty pchar segments, none a dot segment', () => {
    const char = fc.constantFrom(..."aZ09-._~!$&'()*+,;=:@/?%\\ .#".split(''));
    fc.assert(
      fc.property(fc.array(char, { maxLength: 24 }), (chars) => {
        const raw = `/${chars.join('')}`;
        const parsed = parseTarget(raw);
        expect('refused' in parsed, raw).toBe(!accepted(raw));
      }),
      { numRuns: 3000 },
    );
  });

  it('says why a target is refused', () => {
    expect(parseTarget('/v1/./models')).toEqual({ refused: 'dot segments ("." and "..") are not accepted' });
    expect(parseTarget('/v1//models')).toMatchObject({ refused: expect.stringContaining('empty path segments') });
    expect(parseTarget('/v1/mo%64els')).toMatchObject({ refused: expect.stringContaining('percent-encoding') });
    expect(parseTarget('/v1/models?a=<')).toMatchObject({ refused: expect.stringContaining('query string') });
    expect(parseTarget('/v1/chat/completions?x=1')).toEqual({ path: '/v1/chat/completions', query: 'x=1' });
  });
});
