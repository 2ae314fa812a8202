import { PassThrough, type Readable } from 'node:stream';
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
 * it back: the upload is piped on unchanged and, beside it, into busboy, which reads the text
 * fields and counts file bytes. `summary` resolves when the upload has been read (with whatever
 * was parsed if the body is malformed: the upstream judges the request, tollgate only meters it).
 */
export function watchMultipart(
  upload: Readable,
  contentType: string,
): { body: Readable; summary: Promise<MultipartSummary> } {
  const summary: MultipartSummary = { fields: {}, fileBytes: 0, files: 0 };
  const body = upload.pipe(new PassThrough());
  const done = new Promise<MultipartSummary>((resolve) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: { 'content-type': contentType }, limits: { fieldSize: 64 * 1024 } });
    } catch {
      resolve(summary); // not multipart/form-data: nothing to read
      return;
    }
    parser.on('field', (name, value) => {
      if (!(name in summary.fields)) summary.fields[name] = value;
    });
    parser.on('file', (_name, stream) => {
      summary.files++;
      stream.on('data', (c: Buffer) => (summary.fileBytes += c.byteLength));
    });
    parser.on('close', () => resolve(summary));
    parser.on('error', () => resolve(summary));
    upload.on('error', () => resolve(summary));
    upload.pipe(parser);
  });
  return { body, summary: done };
}
