import { describe, expect, it } from 'vitest';
import { estimateRequest } from '../src/metering/estimate.js';
import { dataUrlImageSize, imageSize } from '../src/metering/image-size.js';
import { imageTokens, patchCount, tileCount } from '../src/metering/image-tokens.js';
import { COOKBOOK_MESSAGES, COOKBOOK_TOOLS, WEATHER_MESSAGES } from './support/published-counts.js';

/**
 * Each counting rule against OpenAI's own published examples: the cookbook "How to count tokens
 * with tiktoken" (messages and tool definitions, with the counts the API reported) and the vision
 * guide's "Calculating costs" (tiles and patches).
 */

/** The cookbook's `example_messages` (129 prompt tokens on gpt-3.5-turbo and gpt-4, 124 on gpt-4o and gpt-4o-mini) and its weather tool example (105 / 101). */
const cookbookMessages = COOKBOOK_MESSAGES;
const cookbookTools = COOKBOOK_TOOLS;
const weatherMessages = WEATHER_MESSAGES;

const chat = (model: string, body: Record<string, unknown>) =>
  estimateRequest('/v1/chat/completions', model, { model, ...body }).promptTokens;

describe('messages (cookbook num_tokens_from_messages)', () => {
  it.each([
    ['gpt-3.5-turbo', 129],
    ['gpt-4', 129],
    ['gpt-4o', 124],
    ['gpt-4o-mini', 124],
  ])('%s: the cookbook example counts %i', (model, expected) => {
    expect(chat(model, { messages: cookbookMessages })).toBe(expected);
  });

  it('counts the role of every message', () => {
    const one = chat('gpt-4o', { messages: [{ role: 'user', content: 'Hi' }] });
    expect(one).toBe(3 + 1 + 1 + 3); // overhead + "user" + "Hi" + reply priming
  });

  it('does not count a tool call id, which the model never sees', () => {
    const tool = (id: string) => chat('gpt-4o', { messages: [{ role: 'tool', tool_call_id: id, content: '3' }] });
    expect(tool('call_a')).toBe(tool('call_k6xSe8DDrNWlYd3qXE33Wpne_and_a_much_longer_identifier'));
  });

  it('counts a tool call by its function name and arguments', () => {
    const call = (args: string) =>
      chat('gpt-4o', {
        messages: [
          {
            role: 'assistant',
            tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'add', arguments: args } }],
          },
        ],
      });
    expect(call('{"a":1,"b":2,"c":3,"d":4}')).toBeGreaterThan(call('{"a":1}'));
  });
});

describe('tool definitions (cookbook num_tokens_for_tools)', () => {
  it.each([
    ['gpt-3.5-turbo', 105],
    ['gpt-4', 105],
    ['gpt-4o', 101],
    ['gpt-4o-mini', 101],
  ])('%s: the cookbook example counts %i', (model, expected) => {
    expect(chat(model, { messages: weatherMessages, tools: cookbookTools })).toBe(expected);
  });

  it('counts Responses function tools (flat shape) like Chat ones, and built-in tools as nothing', () => {
    const flat = cookbookTools.map((t) => ({ type: 'function', ...t.function }));
    const responses = (tools: unknown[]) =>
      estimateRequest('/v1/responses', 'gpt-4o', { model: 'gpt-4o', input: 'Hi', tools }).promptTokens;
    const base = responses([]);
    expect(responses(flat) - base).toBe(
      chat('gpt-4o', { messages: weatherMessages, tools: cookbookTools }) -
        chat('gpt-4o', { messages: weatherMessages }),
    );
    expect(responses([{ type: 'web_search' }, { type: 'file_search', vector_store_ids: ['vs_1'] }])).toBe(base);
  });
});

describe('images (vision guide, "Calculating costs")', () => {
  it('tiles: the guide examples on gpt-4o (1024² high 765, 2048×4096 high 1105, any low 85)', () => {
    expect(imageTokens('gpt-4o', 'high', { width: 1024, height: 1024 })).toBe(765);
    expect(imageTokens('gpt-4o', 'high', { width: 2048, height: 4096 })).toBe(1105);
    expect(imageTokens('gpt-4o', 'low', { width: 4096, height: 8192 })).toBe(85);
    expect(tileCount(2048, 4096)).toBe(6);
  });

  it('tiles: per-model base and tile tokens (gpt-4o-mini 2833/5667, gpt-5 70/140, o3 75/150)', () => {
    expect(imageTokens('gpt-4o-mini-2024-07-18', undefined, { width: 640, height: 480 })).toBe(2833 + 2 * 5667);
    expect(imageTokens('gpt-5', 'high', { width: 512, height: 513 })).toBe(70 + 2 * 140);
    expect(imageTokens('gpt-5', 'low', { width: 512, height: 513 })).toBe(70);
    expect(imageTokens('o3', 'high', { width: 1024, height: 1024 })).toBe(75 + 4 * 150);
  });

  it('patches: the guide examples (1024² → 1024 patches, 1800×2400 → 1452) and the per-model multiplier', () => {
    expect(patchCount(1024, 1024)).toBe(1024);
    expect(patchCount(1800, 2400)).toBe(1452);
    expect(imageTokens('gpt-4.1-mini', 'high', { width: 1024, height: 1024 })).toBe(Math.ceil(1024 * 1.62));
    expect(imageTokens('gpt-4.1-nano', 'low', { width: 1024, height: 1024 })).toBe(Math.ceil(1024 * 2.46));
    expect(imageTokens('o4-mini', 'auto', { width: 1024, height: 1024 })).toBe(Math.ceil(1024 * 1.72));
  });

  it('an image of unknown size (a URL) counts its model’s worst case', () => {
    expect(imageTokens('gpt-4o', 'auto', undefined)).toBe(85 + 8 * 170);
    expect(imageTokens('gpt-4o', 'low', undefined)).toBe(85);
    expect(imageTokens('gpt-4.1-mini', 'low', undefined)).toBe(Math.ceil(1536 * 1.62));
  });

  it('reads the real size from a base64 image header (PNG, GIF, JPEG, WebP)', () => {
    const png = Buffer.alloc(33);
    png.writeUInt32BE(0x89504e47, 0);
    png.write('IHDR', 12, 'latin1');
    png.writeUInt32BE(640, 16);
    png.writeUInt32BE(480, 20);
    expect(dataUrlImageSize(`data:image/png;base64,${png.toString('base64')}`)).toEqual({ width: 640, height: 480 });
    const gif = Buffer.from('GIF89a\x20\x03\x58\x02', 'latin1');
    expect(imageSize(gif)).toEqual({ width: 800, height: 600 });
    // JPEG: SOI, an APP0 segment, then SOF0 with height 300 and width 400.
    const jpeg = Buffer.from([
      0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x01, 0x2c, 0x01, 0x90, 0x03, 0, 0,
      0, 0, 0, 0, 0, 0,
    ]);
    expect(imageSize(jpeg)).toEqual({ width: 400, height: 300 });
    const webp = Buffer.alloc(30);
    webp.write('RIFF', 0, 'latin1');
    webp.write('WEBPVP8X', 8, 'latin1');
    webp.writeUIntLE(1919, 24, 3);
    webp.writeUIntLE(1079, 27, 3);
    expect(imageSize(webp)).toEqual({ width: 1920, height: 1080 });
    expect(dataUrlImageSize('data:image/png;base64,AAAA')).toBeUndefined();
    expect(dataUrlImageSize('https://example.com/a.png')).toBeUndefined();
  });

  it('counts a base64 image in a chat message by its real size', () => {
    const png = Buffer.alloc(33);
    png.writeUInt32BE(0x89504e47, 0);
    png.write('IHDR', 12, 'latin1');
    png.writeUInt32BE(512, 16);
    png.writeUInt32BE(512, 20);
    const url = `data:image/png;base64,${png.toString('base64')}`;
    const text = chat('gpt-4o', { messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }] }] });
    const withImage = chat('gpt-4o', {
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url } },
          ],
        },
      ],
    });
    expect(withImage - text).toBe(85 + 170);
  });
});

describe('a request nested 5,000 levels deep', () => {
  const deep = (levels: number) => {
    let v: unknown = 'leaf';
    for (let i = 0; i < levels; i++) v = { a: [v] };
    return v;
  };

  it('is counted without recursion wherever the nesting sits', () => {
    const nested = deep(5000);
    const body = {
      model: 'gpt-4o',
      messages: [{ role: 'user', content: [{ type: 'mystery', value: nested }] }],
      tools: [
        { type: 'custom', name: 'x', format: nested },
        {
          type: 'function',
          function: {
            name: 'f',
            parameters: { type: 'object', properties: { p: { type: 'object', properties: nested } } },
          },
        },
      ],
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: nested } },
    };
    const tokens = estimateRequest('/v1/chat/completions', 'gpt-4o', body).promptTokens;
    expect(Number.isSafeInteger(tokens)).toBe(true);
    expect(tokens).toBeGreaterThan(5000);
    const input = estimateRequest('/v1/responses', 'gpt-4o', {
      model: 'gpt-4o',
      input: [{ type: 'mystery_item', v: nested }],
      text: { format: { type: 'json_schema', schema: nested } },
    });
    expect(input.promptTokens).toBeGreaterThan(5000);
  });
});
