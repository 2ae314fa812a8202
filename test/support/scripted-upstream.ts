import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the scripted upstream received: method, raw target, headers and body. */
export interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** Answers one request; the body has been read. */
export type Script = (req: Seen, res: ServerResponse) => void | Promise<void>;

/**
 * A fake upstream on 127.0.0.1 whose answers a test writes as a function (`script`), for cases no
 * recording holds: refusals of tollgate's key, decompression bombs, oversized events, object
 * creation. Every request is kept in `seen`. The default script answers `{"ok":true}`.
 */
export class ScriptedUpstream {
  readonly seen: Seen[] = [];
  url = '';
  script: Script = (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  private server?: Server;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const seen = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks),
        };
        this.seen.push(seen);
        void Promise.resolve(this.script(seen, res)).catch(() => res.destroy());
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server?.closeAllConnections();
      this.server?.close(() => resolve());
    });
  }
}

/** Writes a JSON answer. */
export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}
