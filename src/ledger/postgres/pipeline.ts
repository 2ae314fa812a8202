import pg from 'pg';

/**
 * The hot path's connections: a few connections in pipeline mode (node-postgres `pipeline: true`),
 * each statement one round trip of its own, sent without waiting for the answers before it. Every
 * statement here commits on its own (a function call or a single statement: never BEGIN … COMMIT,
 * which would mix with the statements of others), and a key (the company) always maps to the same
 * connection, so the statements of one key run in the order they were sent — a client's
 * settlement before its next admission — while different keys run on different connections in
 * parallel. A connection that fails fails every statement in flight on it (each is then
 * uncertain: the caller decides) and is opened again by the next statement.
 */
export class Pipelines {
  private readonly slots: { client?: pg.Client; connecting?: Promise<pg.Client> }[];
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  /**
   * @param config how to connect (URL, type parsers, session settings and bounded waits, see db.ts).
   * @param count connections (keys are spread over them by hash).
   */
  constructor(
    private readonly config: pg.ClientConfig,
    count: number,
  ) {
    this.slots = Array.from({ length: Math.max(1, count) }, () => ({}));
  }

  /** Runs one statement on `key`'s connection, after every statement sent there before it. */
  query<R extends pg.QueryResultRow>(key: string, q: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    const run = this.connection(key).then((c) => {
      corkUntilPolled(c);
      return c.query<R>(q);
    });
    this.inFlight.add(run);
    void run.then(
      () => this.inFlight.delete(run),
      () => this.inFlight.delete(run),
    );
    return run;
  }

  /** Resolves once every statement sent so far has been answered (or failed). */
  async drain(): Promise<void> {
    await Promise.all([...this.inFlight].map((p) => p.catch(() => {})));
  }

  private connection(key: string): Promise<pg.Client> {
    if (this.closed) return Promise.reject(new Error('Cannot use a pool after calling end on the pool'));
    const slot = this.slots[hashOf(key) % this.slots.length]!;
    if (slot.client) return Promise.resolve(slot.client);
    slot.connecting ??= this.open(slot).finally(() => (slot.connecting = undefined));
    return slot.connecting;
  }

  private async open(slot: { client?: pg.Client }): Promise<pg.Client> {
    const client = new pg.Client({ ...this.config, pipeline: true } as pg.ClientConfig);
    const drop = () => {
      if (slot.client === client) slot.client = undefined;
    };
    // A dead connection fails the statements in flight on it; the next statement opens another.
    client.on('error', drop);
    client.on('end', drop);
    try {
      await client.connect();
    } catch (err) {
      client.end().catch(() => {});
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      throw new Error('Cannot use a pool after calling end on the pool');
    }
    slot.client = client;
    return client;
  }

  /** Waits for the statements in flight, then closes every connection. */
  async close(): Promise<void> {
    await this.drain();
    this.closed = true;
    await Promise.all(
      this.slots.map(async (slot) => {
        const c = slot.client;
        slot.client = undefined;
        await c?.end().catch(() => {});
      }),
    );
  }
}

/**
 * Holds the connection's writes until the end of this turn of the event loop (`setImmediate`: after the
 * sockets found readable in it have been handled), then sends them in one write. node-postgres corks each
 * statement on its own (one write each); under load the admissions and settlements of the requests read in
 * one turn then leave in one system call instead of one each. Reaches the socket through the client's
 * `connection.stream` (node-postgres's, not typed); without one, nothing.
 */
function corkUntilPolled(c: pg.Client): void {
  const s = (c as unknown as { connection?: { stream?: import('node:stream').Writable } }).connection?.stream;
  if (!s || s.writableCorked > 0 || typeof s.cork !== 'function') return;
  s.cork();
  setImmediate(() => s.uncork());
}

/** FNV-1a of a key, to spread keys over the connections. */
function hashOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
