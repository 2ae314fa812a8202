import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Recording } from './fixtures.js';

/** A request the fake upstream received. */
export interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** When the upstream finished sending its response (performance.now() ms), if it did. */
  finishedAt?: number;
  /** The client (tollgate) closed the connection before the response was complete. */
  aborted: boolean;
}

/** Response headers a replay must not copy: the stored body no longer matches them (see INDEX.md). */
const SKIP = new Set(['content-length', 'transfer-encoding', 'connection', 'content-encoding']);

/** Splits an SSE text into its events, and each second event into two pieces, so the proxy sees events cut across chunks. */
function ssePieces(text: string): string[] {
  const events = text.split(/(?<=\n\n)/);
  const pieces: string[] = [];
  events.forEach((e, i) => {
    if (i % 2 === 1 && e.length > 8) pieces.push(e.slice(0, e.length >> 1), e.slice(e.length >> 1));
    else pieces.push(e);
  });
  return pieces;
}

/**
 * A fake OpenAI on 127.0.0.1 that replays recordings. The recording is chosen per request by the
 * `x-test-recording` header (tests send it through tollgate, which forwards it), or by `next`.
 * JSON bodies are sent after `delayMs`; SSE bodies in pieces `delayMs` apart. Every request received is kept in `received`.
 */
export class FakeUpstream {
  readonly received: Received[] = [];
  url = '';
  delayMs = 3;
  /** Used when a request names no recording. */
  next?: Recording;
  private server?: Server;

  constructor(private readonly recordings: Map<string, Recording>) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const got: Received = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks),
          aborted: false,
        };
        this.received.push(got);
        res.on('close', () => {
          if (!res.writableFinished) got.aborted = true;
        });
        const name = req.headers['x-test-recording'];
        const rec = typeof name === 'string' ? this.recordings.get(name) : this.next;
        if (!rec) {
          res
            .writeHead(500, { 'content-type': 'application/json' })
            .end('{"error":{"message":"no recording","type":"test","param":null,"code":null}}');
          return;
        }
        void this.replay(rec, res, got);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
    return this;
  }

  private async replay(rec: Recording, res: import('node:http').ServerResponse, got: Received): Promise<void> {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(rec.response.headers)) if (!SKIP.has(k.toLowerCase())) headers[k] = v;
    res.writeHead(rec.response.status, headers);
    if (rec.response.body_text === undefined) {
      await new Promise((r) => setTimeout(r, this.delayMs));
      res.end(JSON.stringify(rec.response.body));
      got.finishedAt = performance.now();
      return;
    }
    res.flushHeaders();
    let sent = 0;
    for (const piece of ssePieces(rec.response.body_text)) {
      if (res.destroyed) return;
      if (sent === rec.fault?.resetAfter) {
        res.socket?.destroy();
        return;
      }
      if (sent === rec.fault?.stallAfter) return; // silent, connection left open
      res.write(piece);
      sent++;
      await new Promise((r) => setTimeout(r, this.delayMs));
    }
    res.end();
    got.finishedAt = performance.now();
  }

  /** Requests received since the last `reset`. */
  reset(): void {
    this.received.length = 0;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server?.closeAllConnections();
      this.server?.close(() => resolve());
    });
  }
}
