import type { ServerResponse } from 'node:http';

/**
 * The end of a response, held back until its settle is durable (see `relay`): `end` is called once
 * the settle has committed and writes what was held, then ends the body (for a chunked body, its
 * terminating chunk is its last byte). Held: the chunk that completes a body of known
 * `content-length` (`completes`), and chunks passed to `hold`, kept one behind (each is written
 * when the next arrives). Writes report back-pressure (false: wait for the response's 'drain').
 */
export class Tail {
  private held: Buffer | undefined;
  private received = 0;

  /**
   * @param out the client's response.
   * @param length the body's `content-length` (bytes as sent, encoded), when it has one.
   */
  constructor(
    private readonly out: ServerResponse,
    private readonly length: number | undefined,
  ) {}

  /** Counts `bytes` as received; true when they complete a body of known length (hold them). */
  completes(bytes: Buffer): boolean {
    this.received += bytes.length;
    return this.length !== undefined && this.received >= this.length;
  }

  /** Writes `bytes` now; false when the client's buffer is full (wait for 'drain'). */
  write(bytes: Buffer): boolean {
    return this.out.write(bytes);
  }

  /** Holds `bytes` back and writes the chunk held before it; false as `write`. */
  hold(bytes: Buffer): boolean {
    const before = this.held;
    this.held = bytes;
    return before ? this.out.write(before) : true;
  }

  /** Writes the chunk held, if any (the response goes on: an error event follows). */
  release(): void {
    if (this.held) this.out.write(this.held);
    this.held = undefined;
  }

  /**
   * Writes the chunk held and `rest`, and ends the response. Node sends what one turn writes
   * together: a body that arrived whole leaves in one write with its headers and its end.
   */
  end(rest?: Buffer): void {
    this.release();
    this.out.end(rest);
  }
}
