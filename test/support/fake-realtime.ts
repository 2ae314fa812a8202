import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';

/**
 * A fake upstream Realtime API over WebSocket (`/v1/realtime`), built from OpenAI's documented
 * server events (openai-node `resources/realtime/realtime.ts`, GA names): `session.created`,
 * `session.updated`, `response.created`, `response.output_text.delta`, `response.output_audio.delta`,
 * `response.output_audio_transcript.delta`, `response.done` with its `usage`,
 * `input_audio_buffer.committed` and `conversation.item.input_audio_transcription.completed`.
 * Responses follow a script the test sets; a response can be held open until `finish()`.
 */

/** The usage a scripted response reports, in OpenAI's wire shape (`RealtimeResponseUsage`). */
export type WireUsage = Record<string, unknown>;

/** One scripted response: what it sends, and the usage its `response.done` reports. */
export interface ScriptedResponse {
  text?: string;
  /** Bytes of pcm16 audio sent as `response.output_audio.delta` (base64), in 4 KiB chunks. */
  audioBytes?: number;
  usage: WireUsage;
  /** Send `response.created` and the deltas, but `response.done` only when `finish()` is called. */
  hold?: boolean;
}

/** A connection the fake accepted: the upgrade request it saw and the client events it received, in order. */
export interface FakeConnection {
  url: string;
  headers: IncomingMessage['headers'];
  protocols: string[];
  received: Record<string, unknown>[];
  /** Raw text frames received, in order. */
  frames: string[];
  socket: WebSocket;
}

export interface FakeRealtime {
  /** The base URL to configure as tollgate's upstream (`http://127.0.0.1:<port>`). */
  url: string;
  /** Upgrade requests seen (accepted or not). */
  attempts: number;
  connections: FakeConnection[];
  /** Headers of the `POST /v1/realtime/client_secrets` requests received. */
  secretRequests: IncomingMessage['headers'][];
  /** Responses to play, in order; when empty, a one-word text response with `defaultUsage`. */
  script: ScriptedResponse[];
  /** The usage of `conversation.item.input_audio_transcription.completed` after each commit (none: no transcription). */
  transcriptionUsage?: WireUsage;
  /** Sends `response.done` of the held responses. */
  finish(): void;
  /** Sends these text frames, as they are, on the latest connection; queued on the socket (its `bufferedAmount` shows what the peer has not taken yet). */
  sendAll(frames: string[]): void;
  close(): Promise<void>;
}

export const DEFAULT_USAGE: WireUsage = {
  total_tokens: 30,
  input_tokens: 20,
  output_tokens: 10,
  input_token_details: {
    text_tokens: 20,
    audio_tokens: 0,
    image_tokens: 0,
    cached_tokens: 0,
    cached_tokens_details: { text_tokens: 0, audio_tokens: 0, image_tokens: 0 },
  },
  output_token_details: { text_tokens: 10, audio_tokens: 0 },
};

/** Starts the fake on 127.0.0.1 (a random port). */
export async function startFakeRealtime(): Promise<FakeRealtime> {
  // Plain HTTP: the ephemeral secret endpoint (GA `POST /v1/realtime/client_secrets`); 404 otherwise.
  const http: Server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/realtime/client_secrets') return void res.writeHead(404).end();
    fake.secretRequests.push(req.headers);
    req.resume();
    req.on('end', () =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ value: 'ek_test', expires_at: 1_900_000_000, session: { type: 'realtime' } })),
    );
  });
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has('realtime') ? 'realtime' : false) });
  const held: (() => void)[] = [];
  let seq = 0;
  const fake: FakeRealtime = {
    url: '',
    attempts: 0,
    connections: [],
    secretRequests: [],
    script: [],
    finish() {
      for (const f of held.splice(0)) f();
    },
    sendAll(frames) {
      const ws = fake.connections.at(-1)!.socket;
      for (const f of frames) ws.send(f);
    },
    async close() {
      for (const c of fake.connections) c.socket.terminate();
      wss.close();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
  http.on('upgrade', (req, socket, head) => {
    fake.attempts++;
    wss.handleUpgrade(req, socket, head, (ws) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const conn: FakeConnection = {
        url: req.url ?? '',
        headers: req.headers,
        protocols: (req.headers['sec-websocket-protocol'] ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
        received: [],
        frames: [],
        socket: ws,
      };
      fake.connections.push(conn);
      const send = (event: Record<string, unknown>) =>
        ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ event_id: `event_${++seq}`, ...event }));
      const session: Record<string, unknown> = {
        id: `sess_${fake.connections.length}`,
        object: 'realtime.session',
        type: 'realtime',
        model: url.searchParams.get('model'),
        audio: { input: { transcription: null } },
      };
      send({ type: 'session.created', session });
      ws.on('message', (data) => {
        const text = data.toString();
        conn.frames.push(text);
        const event = JSON.parse(text) as Record<string, any>;
        conn.received.push(event);
        if (event.type === 'session.update') {
          const transcription = event.session?.audio?.input?.transcription;
          if (transcription !== undefined) session.audio = { input: { transcription } };
          send({ type: 'session.updated', session });
        } else if (event.type === 'input_audio_buffer.commit') {
          const itemId = `item_${++seq}`;
          send({ type: 'input_audio_buffer.committed', previous_item_id: null, item_id: itemId });
          if (fake.transcriptionUsage)
            send({
              type: 'conversation.item.input_audio_transcription.completed',
              item_id: itemId,
              content_index: 0,
              transcript: 'hello',
              usage: fake.transcriptionUsage,
            });
        } else if (event.type === 'response.create') {
          const r = fake.script.shift() ?? { text: 'Hi', usage: DEFAULT_USAGE };
          const id = `resp_${++seq}`;
          send({
            type: 'response.created',
            response: { id, object: 'realtime.response', status: 'in_progress', output: [], usage: null },
          });
          if (r.text)
            send({
              type: 'response.output_text.delta',
              response_id: id,
              item_id: 'item_x',
              output_index: 0,
              content_index: 0,
              delta: r.text,
            });
          for (let sent = 0; sent < (r.audioBytes ?? 0); sent += 4096) {
            const n = Math.min(4096, r.audioBytes! - sent);
            send({
              type: 'response.output_audio.delta',
              response_id: id,
              item_id: 'item_x',
              output_index: 0,
              content_index: 0,
              delta: Buffer.alloc(n, 1).toString('base64'),
            });
          }
          const done = () =>
            send({
              type: 'response.done',
              response: { id, object: 'realtime.response', status: 'completed', output: [], usage: r.usage },
            });
          if (r.hold) held.push(done);
          else done();
        }
      });
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  fake.url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return fake;
}
