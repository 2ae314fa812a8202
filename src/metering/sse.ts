/**
 * Incremental Server-Sent Events framing (WHATWG HTML, "Server-sent events"): an event is a block
 * of lines ended by a blank line; lines end in LF, CRLF or CR. Chunks from the network may cut an
 * event anywhere, so the splitter keeps the unfinished tail until its end arrives.
 */
export class SseSplitter {
  private tail = '';

  /** Feeds decoded text; returns the events it completed, each with its terminating blank line. */
  push(text: string): string[] {
    const buf = this.tail + text;
    const events: string[] = [];
    const boundary = /\r\n\r\n|\n\n|\r\r/g;
    let start = 0;
    for (let m = boundary.exec(buf); m; m = boundary.exec(buf)) {
      const end = m.index + m[0].length;
      events.push(buf.slice(start, end));
      start = end;
    }
    this.tail = buf.slice(start);
    return events;
  }

  /** Whatever is left unterminated at the end of the stream. */
  rest(): string {
    const t = this.tail;
    this.tail = '';
    return t;
  }
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
