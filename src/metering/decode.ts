import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/** Error code for an upstream body that decodes past the limit (see `BodyDecoder`). */
export const BODY_TOO_LARGE = 'upstream_body_too_large';

const DECOMPRESSORS: ReadonlyMap<string, () => Transform> = new Map([
  ['gzip', () => createGunzip({ chunkSize: 64 * 1024 })],
  ['x-gzip', () => createGunzip({ chunkSize: 64 * 1024 })],
  ['deflate', () => createInflate({ chunkSize: 64 * 1024 })],
  ['br', () => createBrotliDecompress({ chunkSize: 64 * 1024 })],
]);

/**
 * Decodes a response body for metering while it passes through, within a byte bound, without
 * blocking the event loop: compressed bodies (`content-encoding` gzip, deflate, br; RFC 9110
 * §8.4.1) are inflated by Node's streaming zlib, whose work runs on libuv's thread pool, chunk by
 * chunk as they arrive. A body that inflates past `maxBytes` (a decompression bomb: 1 MB of gzip
 * can inflate to 1 GiB) stops being decoded at once and sets `overflowed`; the relay then cuts the
 * response and settles the row as an upstream error (`upstream_body_too_large`).
 *
 * Identity bodies over `maxBytes` are simply not metered (they still pass through whole): nothing
 * about them costs tollgate more than the bytes it already holds.
 */
export class BodyDecoder {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private rawTooLarge = false;
  private failed = false;
  /** The decoded body exceeded `maxBytes`: it is not metered, and the response must be cut. */
  overflowed = false;
  private readonly zlib?: Transform;
  private readonly done?: Promise<void>;

  /** `encoding`: the response's `content-encoding` (undefined or `identity` for none). `maxBytes`: decoded bytes kept at most. */
  constructor(
    encoding: string | undefined,
    private readonly maxBytes: number,
  ) {
    const name = (encoding ?? 'identity').trim().toLowerCase();
    if (name === 'identity') return;
    const make = DECOMPRESSORS.get(name);
    if (!make) {
      this.failed = true;
      return;
    }
    const z = make();
    this.zlib = z;
    z.on('data', (out: Buffer) => this.keep(out));
    this.done = new Promise<void>((resolve) => {
      z.once('end', resolve);
      z.once('close', resolve);
      z.once('error', () => {
        this.failed = true;
        resolve();
      });
    });
  }

  private keep(out: Buffer): void {
    if (this.overflowed) return;
    this.size += out.byteLength;
    if (this.size > this.maxBytes) {
      this.overflowed = true;
      this.chunks.length = 0;
      this.zlib?.destroy();
      return;
    }
    this.chunks.push(out);
  }

  /**
   * Feeds one chunk of the body as received. For a compressed body, returns a promise that resolves
   * once zlib has inflated it (or decoding stopped), so that the caller learns of an overflow before
   * passing the chunk on; an identity body is kept at once (undefined: no promise per chunk).
   */
  push(chunk: Buffer): Promise<void> | undefined {
    if (this.failed || this.overflowed) return undefined;
    if (this.zlib) {
      const z = this.zlib;
      return new Promise<void>((resolve) => {
        const stop = () => resolve();
        z.once('close', stop);
        z.write(chunk, () => {
          z.off('close', stop);
          resolve();
        });
      });
    }
    if (this.rawTooLarge) return undefined;
    this.size += chunk.byteLength;
    if (this.size > this.maxBytes) {
      this.rawTooLarge = true;
      this.chunks.length = 0;
      return undefined;
    }
    this.chunks.push(chunk);
    return undefined;
  }

  /**
   * Ends the body; resolves to its decoded text (UTF-8), or undefined when it could not be decoded
   * (unknown encoding, corrupt data), was too large, or overflowed (check `overflowed`). Never rejects.
   */
  async end(): Promise<string | undefined> {
    if (this.zlib && !this.failed && !this.overflowed) {
      this.zlib.end();
      await this.done;
    }
    if (this.failed || this.overflowed || this.rawTooLarge) return undefined;
    return (this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)).toString('utf8');
  }

  /** Stops decoding (the response broke off); frees what was kept. */
  abandon(): void {
    this.chunks.length = 0;
    this.zlib?.destroy();
  }
}
