import { PassThrough, type Readable } from 'node:stream';
import busboy from 'busboy';
import type { Config } from '../config/schema.js';
import { isDenial } from '../http/denial.js';
import type { FileModelEstimate } from '../ledger/port.js';
import { parseJsonBody } from '../http/json-body.js';
import type { PriceLookup } from '../proxy/worst-case.js';
import { BatchLines, TrainingLines } from './line-estimates.js';

/**
 * Reads a `POST /v1/files` upload (multipart/form-data) as it streams to the upstream, without
 * holding it back or buffering it: the bytes are piped on unchanged and, beside them, into busboy,
 * whose `file` part is split into lines, each parsed and estimated as a batch request and as a
 * training example (the `purpose` field may come after the file, so both are tried; each stops at
 * its first unusable line). Memory is bounded by one line: a line over `MAX_LINE_BYTES` makes the
 * estimate unusable, and the rest of the file is only counted.
 */

/** Longest line read (bytes): a longer one makes the estimate unusable. OpenAI's batch input files are at most 200 MB. */
export const MAX_LINE_BYTES = 8 * 1024 * 1024;

/** What an upload's file part came to, both ways; the answer's `purpose` picks one. */
export interface UploadEstimate {
  /** The form's `purpose` field, when it had one (the upstream's answer names it too). */
  purpose?: string;
  /** Non-empty lines read. */
  lines: number;
  /** The file read as batch requests, and as training examples. */
  batch: { unusable: string | null; models: FileModelEstimate[] };
  training: { unusable: string | null; models: FileModelEstimate[] };
}

const NEWLINE = 0x0a;
/** Purposes whose files are estimated. */
const ESTIMATED = new Set(['batch', 'fine-tune']);

/** Splits a file part into lines and feeds both estimators (see the module comment). */
class LineReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes of the current line, kept or not (a line past the limit, or any line once both estimates failed, is only counted). */
  private lineBytes = 0;
  private n = 0;
  lines = 0;

  constructor(
    readonly batch: BatchLines,
    readonly training: TrainingLines,
  ) {}

  private get done(): boolean {
    return this.batch.unusable !== null && this.training.unusable !== null;
  }

  private fail(reason: string): void {
    this.batch.fail(reason);
    this.training.fail(reason);
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const at = chunk.indexOf(NEWLINE, start);
      const part = chunk.subarray(start, at === -1 ? chunk.length : at);
      this.lineBytes += part.length;
      if (this.pendingBytes + part.length > MAX_LINE_BYTES) {
        if (!this.done) this.fail(`line ${this.n + 1}: longer than ${MAX_LINE_BYTES} bytes`);
        this.pending = [];
        this.pendingBytes = 0;
      } else if (!this.done) {
        this.pending.push(part);
        this.pendingBytes += part.length;
      }
      if (at === -1) return;
      this.line();
      start = at + 1;
    }
  }

  /** The end of the file part: its last line need not end with a newline. */
  end(): void {
    if (this.lineBytes > 0) this.line();
  }

  private line(): void {
    this.n += 1;
    const raw = Buffer.concat(this.pending, this.pendingBytes);
    const seen = this.lineBytes;
    this.pending = [];
    this.pendingBytes = 0;
    this.lineBytes = 0;
    if (this.done) {
      if (seen > 1) this.lines += 1; // only counted: an empty line is at most a lone "\r"
      return;
    }
    const text = raw.toString('utf8').trim();
    if (text === '') return;
    this.lines += 1;
    const parsed = parseJsonBody(Buffer.from(text));
    if (isDenial(parsed)) return this.fail(`line ${this.n}: ${'message' in parsed ? parsed.message : 'not JSON'}`);
    this.batch.add(parsed.json, this.n);
    this.training.add(parsed.json, this.n);
  }
}

/**
 * Watches an upload to `POST /v1/files`. `body` is what to send upstream; `estimate` resolves once
 * the form has been read, to the file's estimate, or undefined when there is nothing to estimate
 * (not a form, no file part, a `purpose` given first that is neither `batch` nor `fine-tune`, or an
 * upload cut short).
 */
export function watchFileUpload(
  upload: Readable,
  contentType: string,
  admission: Config['admission'],
  priceOf: PriceLookup,
): { body: Readable; estimate: Promise<UploadEstimate | undefined> } {
  const body = upload.pipe(new PassThrough());
  const estimate = new Promise<UploadEstimate | undefined>((resolve) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: { 'content-type': contentType }, limits: { fieldSize: 64 * 1024 } });
    } catch {
      resolve(undefined);
      return;
    }
    let purpose: string | undefined;
    let reader: LineReader | undefined;
    let ended = false;
    parser.on('field', (name, value) => {
      if (name === 'purpose') purpose ??= value;
    });
    parser.on('file', (name, stream) => {
      if (name !== 'file' || reader || (purpose !== undefined && !ESTIMATED.has(purpose))) return void stream.resume();
      const r = (reader = new LineReader(new BatchLines(admission, priceOf), new TrainingLines()));
      if (purpose === 'batch') r.training.fail('uploaded for batch');
      if (purpose === 'fine-tune') r.batch.fail('uploaded for fine-tuning');
      stream.on('data', (c: Buffer) => r.push(c));
      stream.on('end', () => {
        r.end();
        ended = true;
      });
    });
    const finish = () => {
      if (!reader || !ended) return resolve(undefined);
      const { batch, training, lines } = reader;
      resolve({
        ...(purpose !== undefined ? { purpose } : {}),
        lines,
        batch: { unusable: batch.unusable, models: batch.models() },
        training: { unusable: training.unusable, models: training.models() },
      });
    };
    parser.on('close', finish);
    parser.on('error', () => resolve(undefined));
    upload.on('error', () => resolve(undefined));
    upload.pipe(parser);
  });
  return { body, estimate };
}
