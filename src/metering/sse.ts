/**
 * Incremental Server-Sent Events framing (WHATWG HTML, "Server-sent events") on bytes: an event
 * is a block of lines ended by a blank line (LF LF, or CRLF CRLF). Network chunks may cut an event
 * anywhere; the framer passes on only whole events and keeps the unfinished tail, so that what
 * reaches the client can always be ended cleanly (an error event never lands inside half an event).
 * Chunks that end on an event boundary, the usual case, pass through as the same Buffer.
 */
export class SseFramer {
  private tail: Buffer | undefined;

  /** Feeds a chunk; returns the whole events it completed (a Buffer, possibly the chunk itself), or undefined. */
  push(chunk: Buffer): Buffer | undefined {
    const buf = this.tail ? Buffer.concat([this.tail, chunk]) : chunk;
    const lf = buf.lastIndexOf('\n\n');
    const crlf = buf.lastIndexOf('\r\n\r\n');
    const cut = Math.max(lf < 0 ? -1 : lf + 2, crlf < 0 ? -1 : crlf + 4);
    if (cut < 0) {
      this.tail = buf;
      return undefined;
    }
    this.tail = cut === buf.length ? undefined : buf.subarray(cut);
    return cut === buf.length ? buf : buf.subarray(0, cut);
  }

  /** Whatever is left unterminated at the end of the stream. */
  rest(): Buffer | undefined {
    const t = this.tail;
    this.tail = undefined;
    return t;
  }
}

/** Splits whole events (as `SseFramer` passes them) into event blocks, each with its blank line. */
export function splitEvents(text: string): string[] {
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
