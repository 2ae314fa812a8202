import { connect } from 'node:net';

/** A response read off a raw socket. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `request` (raw bytes: request line, headers, body, exactly as given) to `url`'s host and
 * port over a fresh TCP connection, and reads the response until the server closes the connection
 * or `content-length` bytes arrived. Rejects when nothing parseable came back within `timeoutMs`.
 * Chunked response bodies are returned undecoded. With `halfClose` the client ends its side of
 * the connection once the request is written.
 */
export function rawRequest(
  url: string,
  request: string | Buffer,
  timeoutMs = 10_000,
  halfClose = false,
): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const parsed = parse(Buffer.concat(chunks));
      if (parsed) resolve(parsed);
      else
        reject(
          err ??
            new Error(
              `no HTTP response (got ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 200))})`,
            ),
        );
    };
    const timer = setTimeout(() => finish(new Error('timed out waiting for the response')), timeoutMs);
    // halfClose: end our side after the request, so that a body shorter than its content-length ends at once.
    socket.on('connect', () => (halfClose ? socket.end(request) : socket.write(request)));
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const p = parse(Buffer.concat(chunks));
      if (
        p &&
        p.headers['content-length'] !== undefined &&
        Buffer.byteLength(p.body) >= Number(p.headers['content-length'])
      )
        finish();
      // Only the first response is read: what follows belongs to a later request on the connection.
    });
    socket.on('error', () => finish());
    socket.on('close', () => finish());
  });
}

function parse(buf: Buffer): RawResponse | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '');
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const rest = buf.subarray(end + 4);
  const length = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
  return {
    status: Number(m[1]),
    headers,
    body: (length === undefined ? rest : rest.subarray(0, length)).toString('utf8'),
  };
}

/** True when `body` is OpenAI's error envelope: `{"error":{"message":string,"type":string,"param","code"}}`. */
export function isOpenAiError(body: string): boolean {
  try {
    const e = (JSON.parse(body) as { error?: Record<string, unknown> }).error;
    return !!e && typeof e.message === 'string' && typeof e.type === 'string' && 'param' in e && 'code' in e;
  } catch {
    return false;
  }
}
