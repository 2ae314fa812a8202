import type { ServerResponse } from 'node:http';

/**
 * The end of a response, held back until its settle is durable (see `relay`): chunks go to the
 * client one behind (`hold`: a chunk is written when the next arrives), so the last one waits for
 * `end`, called once the settle has committed. Writes respect back-pressure.
 */
export class Tail {
  private held: Buffer | undefined;

  constructor(private readonly out: ServerResponse) {}

  /** Writes `bytes` now; resolves once the client can take more (or has gone). */
  async write(bytes: Buffer): Promise<void> {
    if (!this.out.write(bytes)) await drained(this.out);
  }

  /** Holds `bytes` back and writes the chunk held before it. */
  async hold(bytes: Buffer): Promise<void> {
    const before = this.held;
    this.held = bytes;
    if (before) await this.write(before);
  }

  /** Writes the chunk held, if any (the response goes on: an error event follows). */
  release(): void {
    if (this.held) this.out.write(this.held);
    this.held = undefined;
  }

  /** Writes the chunk held and `rest`, and ends the response. */
  end(rest?: Buffer): void {
    this.release();
    this.out.end(rest);
  }
}

/** Resolves when `out` can take more data again, or has closed. */
function drained(out: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
  });
}
