import type { IncomingMessage } from 'node:http';

/**
 * Reads a request body from Node's IncomingMessage into one Buffer, refusing (without reading
 * further) a body over `maxBytes`: by its `content-length` up front, or as it arrives.
 * Resolves to `'too_large'` then; rejects if the client's connection fails mid-body.
 */
export function readBody(incoming: IncomingMessage, maxBytes: number): Promise<Buffer | 'too_large'> {
  const declared = Number(incoming.headers['content-length']);
  if (declared > maxBytes) {
    incoming.resume();
    return Promise.resolve('too_large');
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    incoming.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > maxBytes) {
        incoming.removeAllListeners('data');
        incoming.resume();
        resolve('too_large');
        return;
      }
      chunks.push(chunk);
    });
    incoming.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    incoming.once('error', reject);
  });
}

/** True for the errors Node raises when a client leaves mid-request (`aborted`, `ECONNRESET`, a premature close). */
export function isClientAbort(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (
    e.code === 'ECONNRESET' ||
    e.code === 'ECONNABORTED' ||
    e.code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    e.message === 'aborted'
  );
}
