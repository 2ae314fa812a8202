import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { estimateRequest } from '../metering/estimate.js';
import { PromptCount, promptBound } from './prompt.js';

const bytes = (body: unknown) => new TextEncoder().encode(JSON.stringify(body));
const text = fc.string({ unit: 'binary', maxLength: 200 });
const message = fc.record(
  {
    role: fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool'),
    content: fc.oneof(text, fc.array(fc.record({ type: fc.constant('text'), text }), { maxLength: 3 })),
    name: text,
    tool_call_id: text,
  },
  { requiredKeys: ['role', 'content'] },
);
const tool = fc.record({
  type: fc.constant('function'),
  function: fc.record({ name: text, description: text, parameters: fc.constant({ type: 'object', properties: {} }) }),
});

describe('promptBound', () => {
  it('is at least the counted prompt of any text-only chat, completions, responses or embeddings request', () => {
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 6 }),
        fc.array(tool, { maxLength: 2 }),
        text,
        (messages, tools, input) => {
          const cases: [string, Record<string, unknown>][] = [
            ['/v1/chat/completions', { model: 'gpt-4o', messages, ...(tools.length ? { tools } : {}) }],
            ['/v1/completions', { model: 'gpt-3.5-turbo-instruct', prompt: [input, input] }],
            ['/v1/responses', { model: 'gpt-4.1', input: messages, instructions: input }],
            ['/v1/embeddings', { model: 'text-embedding-3-small', input: [input, [1, 2, 3]] }],
          ];
          for (const [path, body] of cases) {
            const counted = estimateRequest(path, String(body.model), body).promptTokens;
            expect(promptBound(path, bytes(body))).toBeGreaterThanOrEqual(counted);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives none for a body with an image, or an endpoint whose prompt is not text', () => {
    const image = { type: 'image_url', image_url: { url: 'https://example.com/a.png' } };
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: [image] }] };
    expect(promptBound('/v1/chat/completions', bytes(body))).toBeUndefined();
    expect(promptBound('/v1/audio/speech', bytes({ model: 'gpt-4o-mini-tts', input: 'hi' }))).toBeUndefined();
  });
});

describe('PromptCount', () => {
  it('counts once, when first asked, unless the count is known', () => {
    let calls = 0;
    const lazy = new PromptCount(() => ++calls * 10);
    expect(lazy.known).toBe(false);
    expect([lazy.tokens(), lazy.tokens(), calls, lazy.known]).toEqual([10, 10, 1, true]);
    expect(new PromptCount(() => 1, 7).tokens()).toBe(7);
  });
});
