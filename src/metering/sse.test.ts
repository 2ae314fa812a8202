import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSseEvent, splitEvents, sseData } from './sse.js';

/** The framing the fast paths must agree with: split after every blank line, drop empty parts. */
const reference = (text: string) => text.split(/(?<=\r\n\r\n|\n\n)/).filter((e) => e.length > 0);

const sseText = fc
  .array(fc.constantFrom('data: ', 'data:', 'event: x', '{"a":1}', '[DONE]', 'é', '\n', '\r\n', '\r', ':c', ' '), {
    maxLength: 12,
  })
  .map((parts) => parts.join(''));

describe('SSE fast paths', () => {
  it('splitEvents frames as the general split does, one event or many', () => {
    fc.assert(
      fc.property(sseText, (text) => {
        expect(splitEvents(text)).toEqual(reference(text));
      }),
    );
    expect(splitEvents('data: {"a":1}\n\n')).toEqual(['data: {"a":1}\n\n']);
    expect(splitEvents('data: 1\n\ndata: 2\n\n')).toEqual(['data: 1\n\n', 'data: 2\n\n']);
  });

  it("sseData is parseSseEvent's data for any block", () => {
    fc.assert(
      fc.property(sseText, (block) => {
        expect(sseData(block)).toBe(parseSseEvent(block).data);
      }),
    );
    expect(sseData('data: {"a":1}\n\n')).toBe('{"a":1}');
    expect(sseData('data: a\ndata: b\n\n')).toBe('a\nb');
  });
});
