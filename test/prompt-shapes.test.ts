import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { estimateRequest } from '../src/metering/estimate.js';
import { usesHarmony } from '../src/metering/harmony.js';
import { imageTokens } from '../src/metering/image-tokens.js';
import { modelFamily } from '../src/metering/model.js';
import { countTokens } from '../src/metering/tokenizer.js';
import { toolDefinitionTokens } from '../src/metering/tool-schema.js';
import { textOf as schemaText } from '../src/metering/walk.js';
import { loadRecordings, sseData } from './support/fixtures.js';
import { PUBLISHED_COUNTS } from './support/published-counts.js';

/**
 * Counting that generalizes. A seeded generator makes hundreds of conversation shapes — parallel
 * tool calls and their results, developer messages, images in the history, text split over
 * parts, json_schema formats, chats of 50+ messages — and each is rendered here to its model's
 * chat template as one text (the cookbook's template for gpt-4o-class models, harmony for the
 * reasoning models), special tokens as markers, then tokenized whole. The estimator, which counts
 * piece by piece without building that text, must agree with the render on every shape.
 *
 * What this proves: the estimator applies the template rules the same way on any shape (joins,
 * call ids to names, images, long chats), with no case fitted to one exchange. What it cannot
 * prove without the live API: that OpenAI's servers render exactly these templates. That is
 * checked on ground truth — the recorded exchanges' `usage` and the published counts — below.
 */

const SPECIAL = /<\|[a-z_]+\|>/g;
/** Tokens of a rendered template: each special marker one token, the text between them tokenized whole. */
function renderedTokens(model: string, text: string): number {
  const specials = text.match(SPECIAL)?.length ?? 0;
  return specials + text.split(SPECIAL).reduce((n, t) => n + countTokens(model, t), 0);
}

type Json = Record<string, any>;
const textOf = (content: unknown): { text: string; details: unknown[] } => {
  if (typeof content === 'string') return { text: content, details: [] };
  if (!Array.isArray(content)) return { text: '', details: [] };
  let text = '';
  const details: unknown[] = [];
  const runs: string[] = [];
  for (const p of content as Json[]) {
    if (p.type === 'text') text += p.text;
    else {
      runs.push(text);
      text = '';
      details.push(p.image_url?.detail);
    }
  }
  runs.push(text);
  return { text: runs.join('<|image|>'), details };
};

/** The whole prompt of a Chat request on its model's template, as text with special markers, and its image tokens. */
function render(model: string, body: Json): { text: string; imageTokens: number } {
  const harmony = usesHarmony(modelFamily(model));
  const names = new Map<string, string>();
  let text = '';
  let imgs = 0;
  for (const m of body.messages as Json[]) {
    const c = textOf(m.content);
    for (const detail of c.details) imgs += imageTokens(model, detail, undefined);
    // An image splits the text around it (marked `<|x|>`, not a token: subtracted below).
    const content = c.text.replaceAll('<|image|>', '<|x|>');
    if (harmony) {
      if (m.role === 'tool')
        text += `<|start|>functions.${names.get(m.tool_call_id)} to=assistant<|channel|>commentary<|message|>${content}<|end|>`;
      else if (m.role === 'assistant') {
        if (c.text || !m.tool_calls) text += `<|start|>assistant<|channel|>final<|message|>${content}<|end|>`;
        for (const call of m.tool_calls ?? []) {
          names.set(call.id, call.function.name);
          text += `<|start|>assistant<|channel|>commentary to=functions.${call.function.name} <|constrain|>json<|message|>${call.function.arguments}<|call|>`;
        }
      } else text += `<|start|>${m.role}<|message|>${content}<|end|>`;
    } else {
      // The cookbook's template: 3 tokens a message around its role and content; a tool call 7
      // around its name and arguments, a tool result 4 (see prompt-count.ts).
      text += `<|im_start|>${m.role}<|im_sep|>${content}<|im_end|>`;
      if (m.role === 'tool') text += '<|a|><|a|><|a|><|a|>';
      for (const call of m.tool_calls ?? [])
        text += `${'<|b|>'.repeat(6)}${call.function.name}<|b|>${call.function.arguments}`;
    }
  }
  text += harmony ? '<|start|>assistant' : '<|im_start|>assistant<|im_sep|>';
  return { text, imageTokens: imgs };
}

function referenceTokens(model: string, body: Json): number {
  const { text, imageTokens: imgs } = render(model, body);
  const markers = text.match(/<\|x\|>/g)?.length ?? 0;
  const schema = body.response_format?.json_schema?.schema;
  return (
    renderedTokens(model, text) -
    markers +
    imgs +
    toolDefinitionTokens(model, body.tools) +
    (schema ? countTokens(model, schemaText(schema)) : 0)
  );
}

const WORDS = [
  'the',
  'invoice',
  'total',
  'is',
  '€1,250.00',
  'naïve',
  'café',
  '東京',
  'データ',
  '🙂',
  'snake_case',
  'camelCase',
  '{"a":1}',
  '\n',
  '  ',
  'https://example.com/a?b=c',
  '-',
  '1234567',
  'Größe',
  'ok.',
];
const text = fc.array(fc.constantFrom(...WORDS), { minLength: 0, maxLength: 40 }).map((w) => w.join(' '));
const args = fc
  .dictionary(
    fc.constantFrom('query', 'city', 'limit', 'ids', 'when'),
    fc.oneof(text, fc.integer(), fc.array(fc.integer(), { maxLength: 4 })),
    { maxKeys: 4 },
  )
  .map((o) => JSON.stringify(o));
const toolName = fc.constantFrom('search', 'get_weather', 'lookup_order', 'parallel_local_search_one');
const content = fc.oneof(
  { weight: 4, arbitrary: text },
  {
    weight: 2,
    arbitrary: fc.array(
      text.map((t) => ({ type: 'text', text: t })),
      { minLength: 1, maxLength: 3 },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(text, fc.constantFrom('low', 'high', 'auto')).map(([t, detail]) => [
      { type: 'text', text: t },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail } },
    ]),
  },
);

/** One turn: a user message; sometimes the assistant calls tools (1–4 in parallel) and gets their results, then answers. */
const turn = fc
  .record({
    user: content,
    calls: fc.array(fc.tuple(toolName, args), { maxLength: 4 }),
    results: fc.array(text, { minLength: 4, maxLength: 4 }),
    answer: text,
    ids: fc.array(fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: 8, maxLength: 24 }), {
      minLength: 4,
      maxLength: 4,
    }),
  })
  .map((t) => {
    const out: Json[] = [{ role: 'user', content: t.user }];
    if (t.calls.length) {
      out.push({
        role: 'assistant',
        content: null,
        tool_calls: t.calls.map(([name, a], i) => ({
          id: `call_${t.ids[i]}`,
          type: 'function',
          function: { name, arguments: a },
        })),
      });
      t.calls.forEach((_c, i) => out.push({ role: 'tool', tool_call_id: `call_${t.ids[i]}`, content: t.results[i] }));
    }
    out.push({ role: 'assistant', content: t.answer });
    return out;
  });

const tool = (name: string) => ({
  type: 'function',
  function: {
    name,
    description: `Calls ${name}.`,
    parameters: {
      type: 'object',
      properties: { query: { type: 'string', description: 'What to look for' }, limit: { type: 'integer' } },
      required: ['query'],
    },
  },
});
const conversation = fc
  .record({
    system: fc.option(fc.tuple(fc.constantFrom('system', 'developer'), text), { nil: undefined }),
    turns: fc.oneof(
      { weight: 3, arbitrary: fc.array(turn, { minLength: 1, maxLength: 6 }) },
      { weight: 1, arbitrary: fc.array(turn, { minLength: 18, maxLength: 30 }) },
    ),
    last: content,
    tools: fc.boolean(),
    schema: fc.boolean(),
  })
  .map(
    (c): Json => ({
      messages: [
        ...(c.system ? [{ role: c.system[0], content: c.system[1] }] : []),
        ...c.turns.flat(),
        { role: 'user', content: c.last },
      ],
      ...(c.tools ? { tools: ['search', 'get_weather', 'lookup_order', 'parallel_local_search_one'].map(tool) } : {}),
      ...(c.schema
        ? {
            response_format: {
              type: 'json_schema',
              json_schema: {
                name: 'answer',
                schema: {
                  type: 'object',
                  properties: { answer: { type: 'string' }, sources: { type: 'array', items: { type: 'string' } } },
                  required: ['answer'],
                },
              },
            },
          }
        : {}),
    }),
  );

const MODELS = ['gpt-4o', 'gpt-4.1-mini', 'gpt-5.4', 'o3'];

describe('a generated set of conversation shapes', () => {
  for (const model of MODELS)
    it(`${model}: the estimate equals the rendered template on 100 shapes`, () => {
      let long = 0;
      fc.assert(
        fc.property(conversation, (body) => {
          if ((body.messages as Json[]).length >= 50) long += 1;
          const estimate = estimateRequest('/v1/chat/completions', model, { model, ...body }).promptTokens;
          expect(estimate).toBe(referenceTokens(model, body));
        }),
        { numRuns: 100, seed: 7 },
      );
      expect(long).toBeGreaterThan(5);
    });
});

/** What the API reported, for the recordings' text requests to Chat and Responses (their usage is ground truth). */
function recorded(): { name: string; model: string; path: string; body: Json; promptTokens: number }[] {
  const out = [];
  for (const rec of loadRecordings()) {
    const path = rec.request.path;
    if ((path !== '/v1/chat/completions' && path !== '/v1/responses') || rec.response.status >= 400) continue;
    const body = rec.request.body as Json;
    // Held for hidden context or tool allowances, not counted (worst-case.ts): not a counting check.
    if (body.previous_response_id || (body.tools as Json[] | undefined)?.some((t) => t.type !== 'function')) continue;
    // An image by URL is held at its worst case by design.
    if (JSON.stringify(body.messages ?? body.input).includes('"image_url":{"url":"http')) continue;
    let usage: Json | undefined = (rec.response.body as Json | undefined)?.usage;
    if (rec.response.body_text !== undefined)
      for (const d of sseData(rec.response.body_text))
        if (d.startsWith('{')) usage = JSON.parse(d).usage ?? JSON.parse(d).response?.usage ?? usage;
    const promptTokens = usage?.prompt_tokens ?? usage?.input_tokens;
    if (typeof promptTokens === 'number') out.push({ name: rec.name, model: body.model, path, body, promptTokens });
  }
  return out;
}

describe('ground truth: what the API reported', () => {
  const within = (estimate: number, truth: number) => Math.abs(estimate - truth) <= Math.max(1, truth * 0.02);

  it.each(
    PUBLISHED_COUNTS.filter((c) => !/function (result|call)|recipe|and function|nested object/.test(c.name)).map(
      (c) => [c.name, c] as const,
    ),
  )('published: %s', (_n, c) => {
    const estimate = estimateRequest('/v1/chat/completions', c.model, { model: c.model, ...c.body }).promptTokens;
    expect(within(estimate, c.promptTokens), `${estimate} vs ${c.promptTokens}`).toBe(true);
  });

  it('published legacy function messages of gpt-3.5-turbo: never under the reported count', () => {
    for (const c of PUBLISHED_COUNTS.filter((x) =>
      /function (result|call)|recipe|and function|nested object/.test(x.name),
    )) {
      const estimate = estimateRequest('/v1/chat/completions', c.model, { model: c.model, ...c.body }).promptTokens;
      expect(estimate, c.name).toBeGreaterThanOrEqual(c.promptTokens - 1);
    }
  });

  /**
   * Known misses that no published rule explains (docs/prices.md, "Counting"): a gpt-5-nano Chat
   * exchange with three parallel tool calls (−12 %), a gpt-4o Responses request with a function
   * tool (−68 %: the Responses API adds about 210 tokens of its own), a json_schema format counted
   * as its text (+3 %). Each is held between the fractions of the truth it reaches today, so a
   * change for the worse fails.
   */
  const KNOWN_MISSES: Record<string, [number, number]> = {
    'chat-tools-multiturn-03': [0.87, 1.02],
    'responses-tools-multiturn-01': [0.32, 1.02],
    'chat-jsonschema-01': [1, 1.04],
  };

  it.each(recorded().map((r) => [r.name, r] as const))('recorded: %s', (name, r) => {
    const estimate = estimateRequest(r.path, r.model, r.body).promptTokens;
    const known = KNOWN_MISSES[name];
    if (known) {
      expect(estimate).toBeGreaterThanOrEqual(r.promptTokens * known[0]);
      expect(estimate).toBeLessThanOrEqual(r.promptTokens * known[1]);
    } else expect(within(estimate, r.promptTokens), `${estimate} vs ${r.promptTokens}`).toBe(true);
  });
});
