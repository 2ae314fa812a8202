/**
 * Prompt token counts OpenAI's API reported for published requests — ground truth for the
 * counting rules beside the recordings (held out: no rule was fitted to them):
 * - the cookbook "How to count tokens with tiktoken" (openai/openai-cookbook,
 *   examples/How_to_count_tokens_with_tiktoken.ipynb): its `example_messages` and its weather tool;
 * - hmarr/openai-chat-tokens' test cases (tests/token-counts.test.ts), each checked against
 *   gpt-3.5-turbo's reported `prompt_tokens` by its author.
 */
export interface PublishedCount {
  name: string;
  model: string;
  body: Record<string, unknown>;
  promptTokens: number;
}

const user = (content: string) => ({ role: 'user', content });
const fn = (name: string, parameters: Record<string, unknown>, description?: string) => ({
  name,
  ...(description ? { description } : {}),
  parameters,
});
const empty = { type: 'object', properties: {} };

/** hmarr/openai-chat-tokens' cases, gpt-3.5-turbo (cl100k_base). */
const HMARR: [string, Record<string, unknown>, number][] = [
  ['one word', { messages: [user('hello')] }, 8],
  ['two words', { messages: [user('hello world')] }, 9],
  ['system', { messages: [{ role: 'system', content: 'hello' }] }, 8],
  ['system with colon', { messages: [{ role: 'system', content: 'hello:' }] }, 9],
  [
    'three roles',
    {
      messages: [
        { role: 'system', content: "# Important: you're the best robot" },
        user('hello robot'),
        { role: 'assistant', content: 'hello world' },
      ],
    },
    27,
  ],
  ['function without description', { messages: [user('hello')], functions: [fn('foo', empty)] }, 31],
  ['function with description', { messages: [user('hello')], functions: [fn('foo', empty, 'Do a foo')] }, 36],
  [
    'function with a property',
    {
      messages: [user('hello')],
      functions: [fn('bing_bong', { type: 'object', properties: { foo: { type: 'string' } } }, 'Do a bing bong')],
    },
    49,
  ],
  [
    'function with two properties',
    {
      messages: [user('hello')],
      functions: [
        fn(
          'bing_bong',
          { type: 'object', properties: { foo: { type: 'string' }, bar: { type: 'number', description: 'A number' } } },
          'Do a bing bong',
        ),
      ],
    },
    57,
  ],
  [
    'function with a nested object and an enum',
    {
      messages: [user('hello')],
      functions: [
        fn(
          'bing_bong',
          {
            type: 'object',
            properties: {
              foo: {
                type: 'object',
                properties: { bar: { type: 'string', enum: ['a', 'b', 'c'] }, baz: { type: 'boolean' } },
              },
            },
          },
          'Do a bing bong',
        ),
      ],
    },
    68,
  ],
  ['function result', { messages: [user('hello world'), { role: 'function', name: 'do_stuff', content: '{}' }] }, 15],
  [
    'function result with values',
    {
      messages: [user('hello world'), { role: 'function', name: 'do_stuff', content: '{"foo": "bar", "baz": 1.5}' }],
    },
    28,
  ],
  [
    'nested function result',
    { messages: [{ role: 'function', name: 'dance_the_tango', content: '{"a": { "b" : { "c": false}}}' }] },
    24,
  ],
  [
    'function call',
    {
      messages: [
        {
          role: 'assistant',
          content: '',
          function_call: { name: 'do_stuff', arguments: '{"foo": "bar", "baz": 1.5}' },
        },
      ],
    },
    26,
  ],
  [
    'function call with newlines',
    {
      messages: [
        {
          role: 'assistant',
          content: '',
          function_call: { name: 'do_stuff', arguments: '{"foo":"bar", "baz":\n\n 1.5}' },
        },
      ],
    },
    25,
  ],
  [
    'system and function',
    { messages: [{ role: 'system', content: 'Hello' }, user('Hi there')], functions: [fn('do_stuff', empty)] },
    35,
  ],
  [
    'system with colon and function',
    { messages: [{ role: 'system', content: 'Hello:' }, user('Hi there')], functions: [fn('do_stuff', empty)] },
    35,
  ],
  [
    'two systems and function',
    {
      messages: [{ role: 'system', content: 'Hello:' }, { role: 'system', content: 'Hello' }, user('Hi there')],
      functions: [fn('do_stuff', empty)],
    },
    40,
  ],
  [
    'recipe function',
    {
      messages: [user('hello')],
      functions: [
        fn('get_recipe', {
          type: 'object',
          required: ['ingredients', 'instructions', 'time_to_cook'],
          properties: {
            ingredients: {
              type: 'array',
              items: {
                type: 'object',
                required: ['name', 'unit', 'amount'],
                properties: {
                  name: { type: 'string' },
                  unit: { enum: ['grams', 'ml', 'cups', 'pieces', 'teaspoons'], type: 'string' },
                  amount: { type: 'number' },
                },
              },
            },
            instructions: {
              type: 'array',
              items: { type: 'string' },
              description: 'Steps to prepare the recipe (no numbering)',
            },
            time_to_cook: { type: 'number', description: 'Total time to prepare the recipe in minutes' },
          },
        }),
      ],
    },
    106,
  ],
];

/** The cookbook's examples (How_to_count_tokens_with_tiktoken.ipynb): its `example_messages`, and its weather tool with two messages. */
export const COOKBOOK_MESSAGES = [
  {
    role: 'system',
    content: 'You are a helpful, pattern-following assistant that translates corporate jargon into plain English.',
  },
  { role: 'system', name: 'example_user', content: 'New synergies will help drive top-line growth.' },
  { role: 'system', name: 'example_assistant', content: 'Things working well together will increase revenue.' },
  {
    role: 'system',
    name: 'example_user',
    content: "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.",
  },
  {
    role: 'system',
    name: 'example_assistant',
    content: "Let's talk later when we're less busy about how to do better.",
  },
  user("This late pivot means we don't have time to boil the ocean for the client deliverable."),
];
export const COOKBOOK_TOOLS = [
  {
    type: 'function',
    function: {
      name: 'get_current_weather',
      description: 'Get the current weather in a given location',
      parameters: {
        type: 'object',
        properties: {
          location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' },
          unit: { type: 'string', description: 'The unit of temperature to return', enum: ['celsius', 'fahrenheit'] },
        },
        required: ['location'],
      },
    },
  },
];
export const WEATHER_MESSAGES = [
  { role: 'system', content: 'You are a helpful assistant that can answer to questions about the weather.' },
  user("What's the weather like in San Francisco?"),
];

/** A cookbook example on the four models it reports: `cl100k` tokens on gpt-3.5-turbo and gpt-4, `o200k` on gpt-4o and gpt-4o-mini. */
const cookbook = (what: string, body: Record<string, unknown>, cl100k: number, o200k: number): PublishedCount[] =>
  (['gpt-3.5-turbo', 'gpt-4', 'gpt-4o', 'gpt-4o-mini'] as const).map((model) => ({
    name: `cookbook ${what}: ${model}`,
    model,
    body,
    promptTokens: model.startsWith('gpt-4o') ? o200k : cl100k,
  }));

export const PUBLISHED_COUNTS: PublishedCount[] = [
  ...HMARR.map(([name, body, promptTokens]) => ({
    name: `openai-chat-tokens: ${name}`,
    model: 'gpt-3.5-turbo',
    body,
    promptTokens,
  })),
  ...cookbook('messages', { messages: COOKBOOK_MESSAGES }, 129, 124),
  ...cookbook('tools', { messages: WEATHER_MESSAGES, tools: COOKBOOK_TOOLS }, 105, 101),
];
