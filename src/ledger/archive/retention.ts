import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ArchiveStore } from '../port.js';
import { anythingToArchive, archiveLedger, ArchiveBusyError, type ArchiveReport } from './run.js';

/** The config's `ledger.retention` (see src/config/ledger-options.ts). */
export interface Retention {
  rawDays: number;
  archiveDir: string;
}

const DAY = 86_400_000;

/** The cut-off of a retention run at `now`: UTC midnight `rawDays` days before today's. */
export function retentionCutoff(now: Date, rawDays: number): string {
  return new Date(Math.floor(now.getTime() / DAY) * DAY - rawDays * DAY).toISOString();
}

/** `<dir>/tollgate-requests-before-<date>.ndjson.gz`, or with `-2`, `-3`… when taken. */
export function archiveFileFor(dir: string, before: string): string {
  const base = join(dir, `tollgate-requests-before-${before.slice(0, 10)}`);
  for (let n = 1; ; n++) {
    const file = `${base}${n === 1 ? '' : `-${n}`}.ndjson.gz`;
    if (!existsSync(file) && !existsSync(`${file}.partial`)) return file;
  }
}

/**
 * One retention run: archives the raw rows admitted before `retentionCutoff(now)` to a new file in
 * `archiveDir` (created if missing) and deletes them. Resolves with what it did, or null when there
 * was nothing to archive or another run (another replica) holds the lock.
 */
export async function runRetention(
  store: ArchiveStore,
  r: Retention,
  now: Date,
  signal?: AbortSignal,
): Promise<ArchiveReport | null> {
  const before = retentionCutoff(now, r.rawDays);
  if (!(await anythingToArchive(store, before))) return null;
  mkdirSync(r.archiveDir, { recursive: true });
  try {
    return await archiveLedger(store, { before, to: archiveFileFor(r.archiveDir, before), now, signal });
  } catch (err) {
    if (err instanceof ArchiveBusyError) return null;
    throw err;
  }
}

/**
 * `serve`'s retention: a run a minute after start, then every 24 h, each reported to `onDone` (or
 * its error to `onError`). Returns a stop function that stops a run in progress between two of its
 * transactions (see `archiveLedger`) and waits for it.
 */
export function scheduleRetention(
  store: ArchiveStore,
  r: Retention,
  clock: () => Date,
  onDone: (report: ArchiveReport | null) => void,
  onError: (err: Error) => void,
  firstDelayMs = 60_000,
): () => Promise<void> {
  let running: Promise<void> | undefined;
  let stopped = false;
  const abort = new AbortController();
  const tick = () => {
    running = runRetention(store, r, clock(), abort.signal)
      .then(onDone, (err: Error) => {
        if (!abort.signal.aborted) onError(err);
      })
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(tick, DAY).unref();
      });
  };
  let timer = setTimeout(tick, firstDelayMs).unref();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    abort.abort(new Error('tollgate is stopping'));
    await running;
  };
}
