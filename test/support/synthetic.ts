import type { Recording } from './fixtures.js';

/**
 * Synthetic exchanges for endpoints the recordings do not cover, written from openai/openai-openapi
 * (response schemas ImagesResponse, CreateTranscriptionResponseJson/VerboseJson, SpeechAudioDoneEvent,
 * CreateModerationResponse, Response, Batch, ListFilesResponse). Ours, not recorded: they test the
 * shapes the spec promises.
 */
const json = (
  path: string,
  body: unknown,
  response: unknown,
  status = 200,
  method = 'POST',
): Omit<Recording, 'name'> => ({
  request: {
    method,
    path,
    headers: { 'content-type': 'application/json' },
    body: body as Record<string, unknown> | null,
  },
  response: {
    status,
    headers: { 'content-type': 'application/json', 'x-request-id': `req_syn_${path.replace(/\W/g, '')}` },
    body: response,
  },
});
const sse = (path: string, body: unknown, events: unknown[], fault?: Recording['fault']): Omit<Recording, 'name'> => ({
  request: {
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json' },
    body: body as Record<string, unknown>,
  },
  response: {
    status: 200,
    headers: { 'content-type': 'text/event-stream' },
    body_text: events.map((e) => `data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`).join(''),
  },
  ...(fault ? { fault } : {}),
});

const b64 = 'iVBORw0KGgo=';
const chunk = (content: string) => ({
  id: 'chatcmpl-syn',
  object: 'chat.completion.chunk',
  created: 1780000000,
  model: 'gpt-4o-mini-2024-07-18',
  choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }],
  usage: null,
});
const chatStreamBody = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Count to ten.' }],
  stream: true,
  stream_options: { include_usage: true },
};
const chatEvents = [
  ...Array.from({ length: 10 }, (_, i) => chunk(`${i + 1} `)),
  {
    id: 'chatcmpl-syn',
    object: 'chat.completion.chunk',
    created: 1780000000,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [],
    usage: { prompt_tokens: 12, completion_tokens: 20, total_tokens: 32 },
  },
  '[DONE]',
];

export const SYNTHETIC: Record<string, Omit<Recording, 'name'>> = {
  'images-generations-gpt-image': json(
    '/v1/images/generations',
    { model: 'gpt-image-1', prompt: 'A lighthouse at dawn', size: '1024x1024', quality: 'high' },
    {
      created: 1780000000,
      data: [{ b64_json: b64 }],
      usage: {
        total_tokens: 4210,
        input_tokens: 50,
        output_tokens: 4160,
        input_tokens_details: { text_tokens: 50, image_tokens: 0 },
      },
    },
  ),
  'images-generations-dalle3': json(
    '/v1/images/generations',
    { model: 'dall-e-3', prompt: 'A lighthouse at dawn', n: 1, size: '1024x1792', quality: 'hd' },
    {
      created: 1780000000,
      data: [{ url: 'https://example.invalid/img.png', revised_prompt: 'A lighthouse at dawn, painted' }],
    },
  ),
  'speech-tts-1': {
    request: {
      method: 'POST',
      path: '/v1/audio/speech',
      headers: { 'content-type': 'application/json' },
      body: { model: 'tts-1', input: 'Hello world', voice: 'alloy' },
    },
    response: { status: 200, headers: { 'content-type': 'audio/mpeg' }, body_text: 'ID3\u0003fake-mp3-frames' },
  },
  'speech-sse': sse(
    '/v1/audio/speech',
    { model: 'gpt-4o-mini-tts', input: 'Hi there', voice: 'alloy', stream_format: 'sse' },
    [
      { type: 'speech.audio.delta', audio: 'AAAA' },
      { type: 'speech.audio.delta', audio: 'BBBB' },
      { type: 'speech.audio.done', usage: { input_tokens: 14, output_tokens: 101, total_tokens: 115 } },
    ],
  ),
  'transcription-tokens': json('/v1/audio/transcriptions', null, {
    text: 'Hello there.',
    usage: {
      type: 'tokens',
      input_tokens: 14,
      input_token_details: { text_tokens: 0, audio_tokens: 14 },
      output_tokens: 45,
      total_tokens: 59,
    },
  }),
  'transcription-duration': json('/v1/audio/transcriptions', null, {
    text: 'Hello there.',
    usage: { type: 'duration', seconds: 30 },
  }),
  'translation-verbose': json('/v1/audio/translations', null, {
    task: 'translate',
    language: 'english',
    duration: 12.5,
    text: 'Hello there.',
    segments: [],
  }),
  moderations: json(
    '/v1/moderations',
    { model: 'omni-moderation-latest', input: 'I like turtles' },
    {
      id: 'modr-1',
      model: 'omni-moderation-latest',
      results: [{ flagged: false, categories: {}, category_scores: {} }],
    },
  ),
  'responses-background': json(
    '/v1/responses',
    { model: 'gpt-4o-mini', input: 'Write a haiku', background: true },
    {
      id: 'resp_bg1',
      object: 'response',
      created_at: 1780000000,
      status: 'queued',
      background: true,
      model: 'gpt-4o-mini-2024-07-18',
      output: [],
      usage: null,
    },
  ),
  'responses-retrieve-completed': json(
    '/v1/responses/resp_bg1',
    null,
    {
      id: 'resp_bg1',
      object: 'response',
      created_at: 1780000000,
      status: 'completed',
      background: true,
      model: 'gpt-4o-mini-2024-07-18',
      output: [],
      usage: {
        input_tokens: 20,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: 17,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 37,
      },
    },
    200,
    'GET',
  ),
  'responses-cancel-completed': json('/v1/responses/resp_bg1/cancel', null, {
    id: 'resp_bg1',
    object: 'response',
    created_at: 1780000000,
    status: 'completed',
    background: true,
    model: 'gpt-4o-mini-2024-07-18',
    output: [],
    usage: {
      input_tokens: 20,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 17,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 37,
    },
  }),
  'batch-completed': json(
    '/v1/batches/batch_1',
    null,
    {
      id: 'batch_1',
      object: 'batch',
      endpoint: '/v1/chat/completions',
      status: 'completed',
      model: 'gpt-4o-mini',
      input_file_id: 'file-1',
      completion_window: '24h',
      created_at: 1780000000,
      request_counts: { total: 10, completed: 10, failed: 0 },
      usage: {
        input_tokens: 1000,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: 500,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 1500,
      },
    },
    200,
    'GET',
  ),
  'files-list': json('/v1/files', null, { object: 'list', data: [] }, 200, 'GET'),
  'upstream-500': json(
    '/v1/chat/completions',
    { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] },
    {
      error: {
        message: 'The server had an error while processing your request.',
        type: 'server_error',
        param: null,
        code: 'server_error',
      },
    },
    500,
  ),
  'chat-stream-reset': sse('/v1/chat/completions', chatStreamBody, chatEvents, { resetAfter: 5 }),
  'chat-stream-stall': sse('/v1/chat/completions', chatStreamBody, chatEvents, { stallAfter: 5 }),
  'chat-stream-malformed': sse('/v1/chat/completions', chatStreamBody, [
    chatEvents[0],
    '{"not json',
    'garbage line',
    chatEvents[1],
    ...chatEvents.slice(10),
  ]),
};

/** The synthetic exchanges as named recordings, for `FakeUpstream`. */
export function syntheticRecordings(): Map<string, Recording> {
  return new Map(Object.entries(SYNTHETIC).map(([name, r]) => [name, { name, ...r }]));
}
