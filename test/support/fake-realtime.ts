import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';

/**
 * A fake upstream Realtime API (GA), built from OpenAI's documented behaviour (Realtime reference;
 * openai-node `resources/realtime/realtime.ts`):
 * - WebSocket `/v1/realtime?model=…`: `session.created`, `session.updated` (with
 *   `audio.input.turn_detection`), `response.created` (`conversation_id`: `conv_…`, or null for an
 *   out-of-band response), `response.output_text.delta`, `response.output_audio.delta`,
 *   `response.done` with its `usage`, `input_audio_buffer.committed`,
 *   `conversation.item.input_audio_transcription.completed`;
 * - one in-conversation response at a time: a `response.create` while one is active gets an
 *   `error` (`conversation_already_has_active_response`) naming its `event_id`; out-of-band
 *   responses (`response.conversation: "none"`) run concurrently; `response.cancel` ends one
 *   (`status: "cancelled"`); a `max_output_tokens` outside 1–4096 / `"inf"` is refused (`invalid_value`);
 * - WebRTC: `POST /v1/realtime/calls` (multipart `sdp` + `session`, or `application/sdp`) answers
 *   201 with an SDP answer and `Location: /v1/realtime/calls/rtc_…`; the sideband WebSocket
 *   `/v1/realtime?call_id=rtc_…` joins that call's session; `POST …/hangup` ends it. The browser's
 *   data channel is played by `call.clientEvent(…)`.
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

type Event = Record<string, any>;

/** One upstream session: a WebSocket connection's, or a call's (joined by its sideband sockets). */
export interface FakeSession {
  id: string;
  model: string | null;
  /** Client events received (WebSocket frames, or the call's data channel), parsed, in order. */
  received: Event[];
  /** Raw text frames received on the WebSocket, in order. */
  frames: string[];
  /** Sockets that hear this session's server events. */
  sockets: WebSocket[];
  /** Ids of the responses running (not yet done). */
  active: Map<string, { outOfBand: boolean; done: (status?: string) => void }>;
  /** Responses run (each `response.created`). */
  started: number;
  /** Plays a client event as if it came from the client (a call's data channel). */
  clientEvent(event: Event): void;
  /** Starts a response by itself, as turn detection does. */
  startResponse(): void;
  /** Sends these text frames, as they are, to the session's sockets. */
  sendAll(frames: string[]): void;
  /** The session's configuration, as `session.created` / `session.updated` report it. */
  config: Event;
  /** Sends a server event to the session's sockets (an `event_id` is added). */
  send(event: Event): void;
}

/** A connection the fake accepted. */
export interface FakeConnection {
  url: string;
  headers: IncomingMessage['headers'];
  protocols: string[];
  socket: WebSocket;
  session: FakeSession;
  /** Shorthands for the session's. */
  received: Event[];
  frames: string[];
}

/** A call created with `POST /v1/realtime/calls`. */
export interface FakeCall {
  id: string;
  headers: IncomingMessage['headers'];
  contentType: string;
  sdp: string;
  /** The `session` part (parsed), if any. */
  session?: Event;
  fake: FakeSession;
  hungUp: boolean;
}

export interface FakeRealtime {
  url: string;
  /** Upgrade requests seen (accepted or not). */
  attempts: number;
  connections: FakeConnection[];
  calls: FakeCall[];
  /** Every plain HTTP request: method, path and headers. */
  httpRequests: { method: string; path: string; headers: IncomingMessage['headers'] }[];
  /** Responses to play, in order; when empty, a one-word text response with `DEFAULT_USAGE`. */
  script: ScriptedResponse[];
  /** The usage of `conversation.item.input_audio_transcription.completed` after each commit (none: no transcription). */
  transcriptionUsage?: WireUsage;
  /** The turn detection new sessions start with (OpenAI's default: server VAD creating responses). */
  turnDetection: Event | null;
  /**
   * Runs an in-conversation create even while one is active, as happens when the active response
   * finished just before the create arrived (a race tollgate cannot see).
   */
  acceptWhileActive?: boolean;
  /** Answers the next `POST /v1/realtime/calls` with this status and error body instead. */
  refuseNextCall?: { status: number; body: Event };
  /** Sends `response.done` of the held responses. */
  finish(): void;
  /** Sends these text frames, as they are, on the latest connection. */
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

const SDP_ANSWER = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n';

/** Starts the fake on 127.0.0.1 (a random port). */
export async function startFakeRealtime(): Promise<FakeRealtime> {
  const held: (() => void)[] = [];
  let seq = 0;
  const fake: FakeRealtime = {
    url: '',
    attempts: 0,
    connections: [],
    calls: [],
    httpRequests: [],
    script: [],
    turnDetection: { type: 'server_vad', create_response: true, interrupt_response: true },
    finish() {
      for (const f of held.splice(0)) f();
    },
    sendAll(frames) {
      fake.connections.at(-1)!.session.sendAll(frames);
    },
    async close() {
      for (const c of fake.connections) c.socket.terminate();
      wss.close();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };

  function newSession(model: string | null): FakeSession {
    const config: Event = {
      id: `sess_${++seq}`,
      object: 'realtime.session',
      type: 'realtime',
      model,
      audio: { input: { transcription: null, turn_detection: fake.turnDetection } },
    };
    const s: FakeSession = {
      config,
      send: (event) => send(event),
      id: config.id,
      model,
      received: [],
      frames: [],
      sockets: [],
      active: new Map(),
      started: 0,
      clientEvent: (event) => handle(event),
      startResponse: () => respond(false),
      sendAll: (frames) => {
        for (const ws of s.sockets) for (const f of frames) ws.send(f);
      },
    };
    const send = (event: Event) => {
      const text = JSON.stringify({ event_id: `event_${++seq}`, ...event });
      for (const ws of s.sockets) if (ws.readyState === WebSocket.OPEN) ws.send(text);
    };
    const error = (code: string, message: string, eventId: unknown, param: string | null = null) =>
      send({
        type: 'error',
        error: { type: 'invalid_request_error', code, message, param, event_id: eventId ?? null },
      });

    function respond(outOfBand: boolean): void {
      // A session no socket hears any more (tollgate closed it) runs nothing.
      if (!s.sockets.some((ws) => ws.readyState === WebSocket.OPEN)) return;
      const r = fake.script.shift() ?? { text: 'Hi', usage: DEFAULT_USAGE };
      const id = `resp_${++seq}`;
      s.started++;
      const conversation_id = outOfBand ? null : 'conv_1';
      send({
        type: 'response.created',
        response: { id, object: 'realtime.response', conversation_id, status: 'in_progress', output: [], usage: null },
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
        const delta = Buffer.alloc(n, 1).toString('base64');
        send({
          type: 'response.output_audio.delta',
          response_id: id,
          item_id: 'item_x',
          output_index: 0,
          content_index: 0,
          delta,
        });
      }
      let finished = false;
      const done = (status = 'completed') => {
        if (finished) return;
        finished = true;
        s.active.delete(id);
        send({
          type: 'response.done',
          response: { id, object: 'realtime.response', conversation_id, status, output: [], usage: r.usage },
        });
      };
      s.active.set(id, { outOfBand, done });
      if (r.hold) held.push(() => done());
      else done();
    }

    function handle(event: Event): void {
      s.received.push(event);
      if (event.type === 'session.update') {
        const input = event.session?.audio?.input ?? {};
        if ('transcription' in input) config.audio.input.transcription = input.transcription;
        if ('turn_detection' in input) config.audio.input.turn_detection = input.turn_detection;
        for (const k of ['instructions', 'max_output_tokens', 'output_modalities'])
          if (k in (event.session ?? {})) config[k] = event.session[k];
        send({ type: 'session.updated', session: config });
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
      } else if (event.type === 'response.cancel') {
        const id = event.response_id ?? [...s.active.keys()].find((k) => !s.active.get(k)!.outOfBand);
        const r = id ? s.active.get(id) : undefined;
        if (r) r.done('cancelled');
        else error('response_cancel_not_active', 'Cancellation failed: no active response found.', event.event_id);
      } else if (event.type === 'response.create') {
        const max = event.response?.max_output_tokens;
        if (max !== undefined && max !== 'inf' && !(Number.isInteger(max) && max >= 1 && max <= 4096))
          return error('invalid_value', 'Invalid max_output_tokens.', event.event_id, 'response.max_output_tokens');
        const outOfBand = event.response?.conversation === 'none';
        if (!outOfBand && !fake.acceptWhileActive && [...s.active.values()].some((r) => !r.outOfBand))
          return error(
            'conversation_already_has_active_response',
            'Conversation already has an active response in progress. Wait until the response is finished before creating a new one.',
            event.event_id,
          );
        respond(outOfBand);
      }
    }
    return s;
  }

  const http: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    fake.httpRequests.push({ method: req.method ?? '', path, headers: req.headers });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const hangup = /^\/v1\/realtime\/calls\/([^/]+)\/hangup$/.exec(path);
      if (req.method === 'POST' && path === '/v1/realtime/calls') {
        if (fake.refuseNextCall) {
          const { status, body: error } = fake.refuseNextCall;
          fake.refuseNextCall = undefined;
          return void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(error));
        }
        const contentType = String(req.headers['content-type'] ?? '');
        let sdp = body.toString('utf8');
        let session: Event | undefined;
        if (contentType.startsWith('multipart/form-data')) {
          const form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
          sdp = String(form.get('sdp'));
          const part = form.get('session');
          session =
            part === null ? undefined : (JSON.parse(typeof part === 'string' ? part : await part.text()) as Event);
        }
        const fakeSession = newSession(session?.model ?? null);
        const call: FakeCall = {
          id: `rtc_${++seq}`,
          headers: req.headers,
          contentType,
          sdp,
          session,
          fake: fakeSession,
          hungUp: false,
        };
        fake.calls.push(call);
        return void res
          .writeHead(201, { 'content-type': 'application/sdp', location: `/v1/realtime/calls/${call.id}` })
          .end(SDP_ANSWER);
      }
      if (req.method === 'POST' && hangup) {
        const call = fake.calls.find((c) => c.id === hangup[1]);
        if (!call || call.hungUp) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{}');
        call.hungUp = true;
        for (const ws of call.fake.sockets) ws.close(1000, 'call ended');
        return void res.writeHead(200).end();
      }
      res.writeHead(404).end();
    });
  });
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has('realtime') ? 'realtime' : false) });
  http.on('upgrade', (req, socket, head) => {
    fake.attempts++;
    const url = new URL(req.url ?? '/', 'http://x');
    const callId = url.searchParams.get('call_id');
    const call = callId ? fake.calls.find((c) => c.id === callId && !c.hungUp) : undefined;
    if (callId && !call) return void socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
    wss.handleUpgrade(req, socket, head, (ws) => {
      const session = call ? call.fake : newSession(url.searchParams.get('model'));
      session.sockets.push(ws);
      const conn: FakeConnection = {
        url: req.url ?? '',
        headers: req.headers,
        protocols: (req.headers['sec-websocket-protocol'] ?? '')
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean),
        socket: ws,
        session,
        received: session.received,
        frames: session.frames,
      };
      fake.connections.push(conn);
      if (!call) session.send({ type: 'session.created', session: session.config });
      ws.on('message', (data) => {
        const text = data.toString();
        session.frames.push(text);
        let event: Event;
        try {
          event = JSON.parse(text) as Event;
        } catch {
          return;
        }
        session.clientEvent(event);
      });
      ws.on('close', () => session.sockets.splice(session.sockets.indexOf(ws), 1));
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  fake.url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return fake;
}
