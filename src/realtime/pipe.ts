import WebSocket, { type RawData } from 'ws';

/** Bytes queued on a socket above which its source is paused, and below which it is resumed. */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;

/**
 * Forwards WebSocket frames from `src` to `dst` unchanged (text stays text, binary stays binary,
 * the same bytes, in order), with back-pressure: while `dst` has more than 1 MiB queued, `src` is
 * paused (its TCP window then fills and slows the sender), and resumed once `dst` has written it
 * down to 256 KiB.
 */
export class Pipe {
  private paused = false;

  constructor(
    private readonly src: WebSocket,
    private readonly dst: WebSocket,
  ) {}

  /** Sends one frame to `dst` (dropped when `dst` is no longer open). */
  send(data: Buffer | string, isBinary: boolean): void {
    if (this.dst.readyState !== WebSocket.OPEN) return;
    this.dst.send(data, { binary: isBinary }, () => {
      if (this.paused && this.dst.bufferedAmount <= LOW_WATER) {
        this.paused = false;
        this.src.resume();
      }
    });
    if (!this.paused && this.dst.bufferedAmount > HIGH_WATER) {
      this.paused = true;
      this.src.pause();
    }
  }
}

/** A frame's data as one Buffer (ws hands over a Buffer, an array of them, or an ArrayBuffer). */
export function asBuffer(data: RawData): Buffer {
  return Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}
