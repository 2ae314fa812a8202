import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP relay on 127.0.0.1 between tollgate and Postgres, to cut the path without resetting it:
 * `hold()` keeps every byte either side sends (new connections are accepted, their bytes kept too)
 * until `release()`, as a network partition that drops nothing would. `close` ends every connection.
 */
export class TcpRelay {
  private server: Server | undefined;
  private readonly pairs = new Set<{ a: Socket; b: Socket; held: [Socket, Buffer][] }>();
  private holding = false;
  port = 0;

  constructor(
    private readonly targetPort: number,
    private readonly targetHost = '127.0.0.1',
  ) {}

  async start(): Promise<this> {
    this.server = createServer((a) => {
      const b = createConnection(this.targetPort, this.targetHost);
      const pair = { a, b, held: [] as [Socket, Buffer][] };
      this.pairs.add(pair);
      const pipe = (from: Socket, to: Socket) =>
        from.on('data', (chunk: Buffer) => {
          if (this.holding) pair.held.push([to, chunk]);
          else to.write(chunk);
        });
      pipe(a, b);
      pipe(b, a);
      const end = () => {
        a.destroy();
        b.destroy();
        this.pairs.delete(pair);
      };
      a.on('error', end).on('close', end);
      b.on('error', end).on('close', end);
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  /** Keeps every byte from now on, both ways, until `release`. */
  hold(): void {
    this.holding = true;
  }

  /** Delivers what was kept, in order, and relays again. */
  release(): void {
    this.holding = false;
    for (const pair of this.pairs) {
      for (const [to, chunk] of pair.held) if (!to.destroyed) to.write(chunk);
      pair.held = [];
    }
  }

  async close(): Promise<void> {
    for (const { a, b } of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    await new Promise((r) => this.server?.close(r));
  }
}
