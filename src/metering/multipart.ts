import busboy from 'busboy';

/** What a multipart/form-data upload carried, as far as metering needs it. */
export interface MultipartSummary {
  /** Text fields (model, size, quality, n, response_format, …), first value of each. */
  fields: Record<string, string>;
  /** Bytes of every file part, summed. */
  fileBytes: number;
  /** Number of file parts. */
  files: number;
}

/**
 * Watches a multipart/form-data upload (RFC 7578) as it streams to the upstream, without holding
 * it back: each chunk is passed on unchanged and a copy is fed to busboy, which reads the text
 * fields and counts file bytes. `summary` resolves when the upload has been read (with whatever
 * was parsed if the body is malformed: the upstream judges the request, tollgate only meters it).
 */
export function watchMultipart(body: ReadableStream<Uint8Array>, contentType: string): { body: ReadableStream<Uint8Array>; summary: Promise<MultipartSummary> } {
  const summary: MultipartSummary = { fields: {}, fileBytes: 0, files: 0 };
  let parser: busboy.Busboy | undefined;
  let resolve!: (s: MultipartSummary) => void;
  const done = new Promise<MultipartSummary>((r) => (resolve = r));
  try {
    parser = busboy({ headers: { 'content-type': contentType }, limits: { fieldSize: 64 * 1024 } });
    parser.on('field', (name, value) => {
      if (!(name in summary.fields)) summary.fields[name] = value;
    });
    parser.on('file', (_name, stream) => {
      summary.files++;
      stream.on('data', (c: Buffer) => (summary.fileBytes += c.byteLength));
    });
    parser.on('close', () => resolve(summary));
    parser.on('error', () => resolve(summary));
  } catch {
    resolve(summary); // not multipart/form-data: nothing to read
  }
  const tee = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      controller.enqueue(chunk);
      parser?.write(chunk);
    },
    flush() {
      if (parser) parser.end();
      else resolve(summary);
    },
  });
  return { body: body.pipeThrough(tee), summary: done };
}
