import { connect as netConnect } from 'node:net';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { afterEach } from 'vitest';
import { startFakeRealtime, type FakeRealtime, type WireUsage } from './fake-realtime.js';
import { startTollgate, type Row, type Tollgate } from './harness.js';
import { waitUntil } from './wait.js';

/** Helpers of the Realtime tests: tollgate in front of the fake Realtime upstream, the SDK as client. */

export const MODEL = 'gpt-realtime-test';
const SOURCE = 'https://developers.openai.com/api/docs/models/gpt-realtime-1.5';
/** gpt-realtime-1.5's prices (USD per 1M tokens), under a test name. */
export const PRICES = {
  [MODEL]: {
    input: 4,
    cachedInput: 0.4,
    output: 16,
    audioInput: 32,
    cachedAudioInput: 0.4,
    audioOutput: 64,
    imageInput: 5,
    cachedImageInput: 0.5,
    source: SOURCE,
    date: '2026-11-30',
  },
  'gpt-4o-transcribe': {
    input: 2.5,
    output: 10,
    audioInput: 6,
    source: 'https://developers.openai.com/api/docs/models/gpt-4o-transcribe',
    date: '2026-11-30',
  },
};

export interface RealtimeSetup {
  tokens?: number;
  realtime?: Record<string, unknown>;
  limits?: unknown;
  /** More fields of the `acme` company (e.g. its `realtime` section). */
  acme?: Record<string, unknown>;
  /** The instant tollgate reads (default: the real clock). */
  clock?: () => Date;
}

/** The fake upstream and tollgate in front of it: `acme` has a tokens grant, `globex` an unlimited one. */
export async function startRealtime(opts: RealtimeSetup = {}): Promise<{ tg: Tollgate; fake: FakeRealtime }> {
  const fake = await startFakeRealtime();
  const tg = await startTollgate({
    upstreamUrl: fake.url,
    prices: PRICES,
    realtime: opts.realtime,
    clock: opts.clock,
    companies: {
      acme: {
        allocations: [{ id: 'acme-grant', tokens: opts.tokens ?? 10_000_000 }],
        ...(opts.limits ? { limits: opts.limits } : {}),
        ...opts.acme,
      },
      globex: { allocations: [{ id: 'globex-unlimited', unlimited: true, models: [MODEL] }] },
    },
  });
  return { tg, fake };
}

/**
 * For a test file: closes what the last `setup` started after each test, and returns `setup`,
 * which starts the fake upstream and tollgate in front of it (see `startRealtime`).
 */
export function realtimeTests(): (opts?: RealtimeSetup) => Promise<{ tg: Tollgate; fake: FakeRealtime }> {
  let running: { tg: Tollgate; fake: FakeRealtime } | undefined;
  afterEach(async () => {
    await running?.tg.close();
    await running?.fake.close();
    running = undefined;
  });
  return async (opts = {}) => (running = await startRealtime(opts));
}

/** Waits for `cond` (polled every 5 ms); fails the test after 5 s. */
export const until = (cond: () => boolean, what: string) => waitUntil(cond, { what });

export type Event = Record<string, any>;

/**
 * Opens a session with the SDK. The SDK always dials `wss://`; tollgate here speaks plain HTTP on
 * 127.0.0.1, so the socket is handed over as a plain TCP connection (ws's `createConnection`).
 */
export async function open(t: Tollgate, key = t.keys['acme-key']!, model = MODEL) {
  const port = Number(new URL(t.url).port);
  const rt = new OpenAIRealtimeWS(
    { model, options: { createConnection: () => netConnect(port, '127.0.0.1') } },
    t.client(key),
  );
  const events: Event[] = [];
  const errors: Error[] = [];
  rt.on('event', (e) => events.push(e as Event));
  rt.on('error', (err) => errors.push(err));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    rt.socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await until(() => events.some((e) => e.type === 'session.created') || errors.length > 0, 'session.created');
  const count = (type: string) => events.filter((e) => e.type === type).length;
  const errorEvents = () => events.filter((e) => e.type === 'error').map((e) => e.error as Event);
  return { rt, events, errors, closed, count, errorEvents };
}

/** A `RealtimeResponseUsage` of `input` and `output` tokens, split by `d` (text by default). */
export const usage = (
  input: number,
  output: number,
  d: {
    textIn?: number;
    audioIn?: number;
    cachedText?: number;
    cachedAudio?: number;
    textOut?: number;
    audioOut?: number;
  } = {},
): WireUsage => ({
  total_tokens: input + output,
  input_tokens: input,
  output_tokens: output,
  input_token_details: {
    text_tokens: d.textIn ?? input - (d.audioIn ?? 0),
    audio_tokens: d.audioIn ?? 0,
    image_tokens: 0,
    cached_tokens: (d.cachedText ?? 0) + (d.cachedAudio ?? 0),
    cached_tokens_details: { text_tokens: d.cachedText ?? 0, audio_tokens: d.cachedAudio ?? 0, image_tokens: 0 },
  },
  output_token_details: { text_tokens: d.textOut ?? output - (d.audioOut ?? 0), audio_tokens: d.audioOut ?? 0 },
});

export const sessionRows = (t: Tollgate): Row[] => t.rows().filter((r) => r.endpoint === '/v1/realtime');
/** Rows that charged a response (or a transcription). */
export const responseRows = (t: Tollgate) => sessionRows(t).filter((r) => Number(r.total_tokens) > 0);
export const grant = (t: Tollgate, id = 'acme-grant') =>
  t.query('SELECT spent, held FROM grants WHERE id = ?', id)[0] as { spent: number; held: number };
/** Waits until no row is held. */
export const allSettled = (t: Tollgate) =>
  until(() => t.query("SELECT COUNT(*) AS n FROM requests WHERE status = 'held'")[0]!.n === 0, 'every row settled');
/** Tokens held on the grant now. */
export const heldNow = (t: Tollgate) => Number(grant(t).held);
