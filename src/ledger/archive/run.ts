import { once } from 'node:events';
import { createWriteStream, existsSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { createGzip } from 'node:zlib';
import type { ArchiveCursor, ArchiveStore } from '../port.js';
import { headerLine, trailerLine } from './format.js';

/** How to archive (see `archiveLedger`). */
export interface ArchiveOptions {
  /** Rows admitted before this instant (ISO 8601 UTC) are archived. */
  before: string;
  /** The file to write (refused when it exists; written as `<to>.partial`, then renamed). */
  to: string;
  now: Date;
  /** Rows per page read (default 2,000). */
  pageRows?: number;
  /** Pause between two delete transactions, ms (default 10): the writes of traffic go between them. */
  pauseMs?: number;
  /** Told the rows written, then the rows deleted, as it goes. */
  onProgress?: (p: { phase: 'write' | 'delete'; rows: number }) => void;
  /**
   * Stops the run between two pages (the partial file is removed, nothing deleted) or two deletes
   * (the file is complete; the rows not deleted yet stay, for a later run). It then rejects with the signal's reason.
   */
  signal?: AbortSignal;
}

/** What an archive run did. */
export interface ArchiveReport {
  file: string;
  before: string;
  /** Requests written to the file and deleted from the ledger. */
  requests: number;
  /** Their debits. */
  debits: number;
  /** The file's size, bytes. */
  bytes: number;
  writeMs: number;
  deleteMs: number;
}

/** Thrown when another archive run holds the ledger's archive lock. */
export class ArchiveBusyError extends Error {
  constructor() {
    super('another archive run is in progress on this ledger');
    this.name = 'ArchiveBusyError';
  }
}

/** What one delete transaction should take (ms): the writes queued behind it wait that long. */
const DELETE_TARGET_MS = 3;

/**
 * Archives a ledger's old raw rows: writes every archivable row (admitted before `before`,
 * finished, folded into the rollups when the run starts — never a held row or deferred work not
 * settled yet) with its debits to `to` (gzip'd NDJSON, see format.ts), flushed to disk, and only
 * then deletes those rows in transactions of about 3 ms each with a pause between them, carrying
 * their totals to `archives` and their debits to `debits_archived` (so `grants.spent` still equals
 * its debits, and `ledger verify` can still check the rollups). Rollups are untouched. One run at a
 * time per ledger. A run stopped midway leaves a complete file and some rows still in the ledger:
 * a later run with the same `before` archives those to a new file.
 * @throws ArchiveBusyError when another run holds the lock; an Error when `to` exists, the file cannot
 *   be written (nothing deleted), or the rows deleted differ from the rows written.
 */
export async function archiveLedger(store: ArchiveStore, opts: ArchiveOptions): Promise<ArchiveReport> {
  if (existsSync(opts.to)) throw new Error(`${opts.to} already exists: archive to a new file`);
  const report = await store.exclusive(async () => {
    const mark = await store.mark();
    const started = performance.now();
    const written = await writeArchive(store, mark, opts);
    const writeMs = performance.now() - started;
    const run = await store.begin(opts.before, opts.to, opts.now);
    const deleted = await deleteArchived(store, run, mark, opts);
    await store.finish(run, new Date(opts.now.getTime() + (performance.now() - started)));
    if (deleted.requests !== written.requests || deleted.debits !== written.debits)
      throw new Error(
        `archived ${written.requests} requests and ${written.debits} debits to ${opts.to} but deleted ${deleted.requests} and ${deleted.debits}`,
      );
    return { file: opts.to, before: opts.before, ...written, writeMs, deleteMs: performance.now() - started - writeMs };
  });
  if (!report) throw new ArchiveBusyError();
  return report;
}

/** Whether anything is archivable before `before` now. */
export async function anythingToArchive(store: ArchiveStore, before: string): Promise<boolean> {
  return (await store.page(before, await store.mark(), undefined, 1)).lines.length > 0;
}

async function writeArchive(
  store: ArchiveStore,
  mark: string,
  opts: ArchiveOptions,
): Promise<{ requests: number; debits: number; bytes: number }> {
  const partial = `${opts.to}.partial`;
  const gzip = createGzip();
  const file = createWriteStream(partial, { flags: 'wx' });
  gzip.pipe(file);
  const failed = new Promise<never>((_, reject) => {
    gzip.once('error', reject);
    file.once('error', reject);
  });
  failed.catch(() => {});
  const write = async (text: string) => {
    if (!gzip.write(text)) await Promise.race([once(gzip, 'drain'), failed]);
  };
  let requests = 0;
  let debits = 0;
  try {
    const cols = await store.columns();
    await write(
      `${headerLine({ engine: store.engine, before: opts.before, createdAt: opts.now.toISOString(), ...cols })}\n`,
    );
    let after: ArchiveCursor | undefined;
    for (;;) {
      opts.signal?.throwIfAborted();
      const page = await store.page(opts.before, mark, after, opts.pageRows ?? 2_000);
      if (page.lines.length === 0) break;
      let text = '';
      for (const l of page.lines) {
        text += `${l.line}\n`;
        debits += l.debits;
      }
      requests += page.lines.length;
      await write(text);
      opts.onProgress?.({ phase: 'write', rows: requests });
      after = page.cursor;
    }
    await write(`${trailerLine(requests, debits)}\n`);
    gzip.end();
    await Promise.race([once(file, 'close'), failed]);
    const fd = await open(partial, 'r+');
    try {
      await fd.sync();
    } finally {
      await fd.close();
    }
    await rename(partial, opts.to);
  } catch (err) {
    gzip.destroy();
    file.destroy();
    await rm(partial, { force: true });
    throw err;
  }
  return { requests, debits, bytes: file.bytesWritten };
}

async function deleteArchived(
  store: ArchiveStore,
  run: number,
  mark: string,
  opts: ArchiveOptions,
): Promise<{ requests: number; debits: number }> {
  let rows = 200;
  const total = { requests: 0, debits: 0 };
  for (;;) {
    opts.signal?.throwIfAborted();
    const t0 = performance.now();
    const done = await store.remove(run, opts.before, mark, Math.round(rows));
    const ms = performance.now() - t0;
    if (done.requests === 0) return total;
    total.requests += done.requests;
    total.debits += done.debits;
    opts.onProgress?.({ phase: 'delete', rows: total.requests });
    if (done.requests >= rows / 2) rows = Math.min(5_000, Math.max(20, (rows * DELETE_TARGET_MS) / Math.max(ms, 0.1)));
    await new Promise((r) => setTimeout(r, opts.pauseMs ?? 10));
  }
}
