/** Error code for an SSE event larger than `MAX_EVENT_BYTES`. */
export const EVENT_TOO_LARGE = 'upstream_event_too_large';

/**
 * Largest SSE event passed on (bytes, 16 MiB). OpenAI's largest events are streamed partial images
 * (base64 PNG, a few MB); an upstream that sends more without an event boundary is cut.
 */
export const MAX_EVENT_BYTES = 16 * 1024 * 1024;

/**
 * Incremental Server-Sent Events framing (WHATWG HTML, "Server-sent events") on bytes: an event
 * is a block of lines ended by a blank line (LF LF, or CRLF CRLF). Network chunks may cut an event
 * anywhere; the framer passes on only whole events and keeps the unfinished tail, so that what
 * reaches the client can always be ended cleanly (an error event never lands inside half an event).
 * Chunks that end on an event boundary, the usual case, pass through as the same Buffer.
 *
 * Linear in the stream's size: each byte is searched once (plus the 3 bytes before it, for a
 * boundary cut across chunks), and an unfinished event is kept as a list of chunks, joined once
 * when it completes. An event that grows past `maxEventBytes` throws (code `upstream_event_too_large`).
 */
export class SseFramer {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** `maxEventBytes`: the largest unfinished event kept before `push` throws. */
  constructor(private readonly maxEventBytes = MAX_EVENT_BYTES) {}

  /**
   * Feeds a chunk; returns the whole events it completed (a Buffer, possibly the chunk itself), or undefined.
   * @throws Error with code `upstream_event_too_large` when the unfinished event passes `maxEventBytes`.
   */
  push(chunk: Buffer): Buffer | undefined {
    const cut = this.lastBoundaryIn(chunk);
    if (cut < 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.byteLength;
      if (this.pendingBytes > this.maxEventBytes) {
        this.pending = [];
        this.pendingBytes = 0;
        throw Object.assign(new Error(`an upstream SSE event exceeds ${this.maxEventBytes} bytes`), {
          code: EVENT_TOO_LARGE,
        });
      }
      return undefined;
    }
    const head = cut === chunk.byteLength ? chunk : chunk.subarray(0, cut);
    const whole = this.pending.length ? Buffer.concat([...this.pending, head]) : head;
    this.pending = cut === chunk.byteLength ? [] : [chunk.subarray(cut)];
    this.pendingBytes = chunk.byteLength - cut;
    return whole;
  }

  /** The offset in `chunk` just after the last event boundary that ends in it, or -1. */
  private lastBoundaryIn(chunk: Buffer): number {
    const lf = chunk.lastIndexOf('\n\n');
    const crlf = chunk.lastIndexOf('\r\n\r\n');
    const inChunk = Math.max(lf < 0 ? -1 : lf + 2, crlf < 0 ? -1 : crlf + 4);
    if (inChunk >= 0 || this.pendingBytes === 0) return inChunk;
    // A boundary cut across chunks: the last 3 bytes kept, then the first 3 of the chunk.
    const before = lastBytes(this.pending, 3);
    const seam = Buffer.concat([before, chunk.subarray(0, 3)]);
    const slf = seam.lastIndexOf('\n\n');
    const scrlf = seam.lastIndexOf('\r\n\r\n');
    const end = Math.max(slf < 0 ? -1 : slf + 2, scrlf < 0 ? -1 : scrlf + 4);
    return end > before.byteLength ? end - before.byteLength : -1;
  }

  /** Whatever is left unterminated at the end of the stream. */
  rest(): Buffer | undefined {
    const t = this.pending.length ? Buffer.concat(this.pending) : undefined;
    this.pending = [];
    this.pendingBytes = 0;
    return t;
  }
}

/** The last `n` bytes of a list of chunks (fewer when they hold fewer). */
function lastBytes(chunks: Buffer[], n: number): Buffer {
  const parts: Buffer[] = [];
  let got = 0;
  for (let i = chunks.length - 1; i >= 0 && got < n; i--) {
    const c = chunks[i]!.subarray(-(n - got));
    parts.unshift(c);
    got += c.byteLength;
  }
  return Buffer.concat(parts);
}

/** Splits whole events (as `SseFramer` passes them) into event blocks, each with its blank line. */
export function splitEvents(text: string): string[] {
  // The usual chunk holds one LF-framed event: no regex split, no second array.
  const first = text.indexOf('\n\n');
  if (first === text.length - 2 && !text.includes('\r')) return [text];
  return text.split(/(?<=\r\n\r\n|\n\n)/).filter((e) => e.length > 0);
}

/** The fields of one SSE event block: its `event:` name (if any) and its `data:` lines joined by LF. */
export interface SseEvent {
  event?: string;
  data: string;
}

/** Parses one event block into its `event` and `data` fields; comments and other fields are ignored. */
export function parseSseEvent(block: string): SseEvent {
  let event: string | undefined;
  const data: string[] = [];
  for (const line of block.split(/\r\n|\n|\r/)) {
    if (line.startsWith('data:')) data.push(line.slice(line.charAt(5) === ' ' ? 6 : 5));
    else if (line.startsWith('event:')) event = line.slice(line.charAt(6) === ' ' ? 7 : 6);
  }
  return { event, data: data.join('\n') };
}

/** An event block's `data:` lines joined by LF (`parseSseEvent`'s `data`), without building the event. */
export function sseData(block: string): string {
  // The usual block, `data: …\n\n` with one data line: its value, sliced once.
  if (block.startsWith('data: ') && block.indexOf('\n') === block.length - 2 && !block.includes('\r'))
    return block.slice(6, -2);
  return parseSseEvent(block).data;
}
