import { mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { appendFile, open, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseSpool, pendingOf, type SpoolEntry } from './entry.js';

/** Where a ledger opened by a process keeps its spool: `<dir>/<host>-<pid>-<n>.jsonl` (n counts the ledgers this process opened). */
const fileName = (host: string, pid: number, n: number) => `${host}-${pid}-${n}.jsonl`;
const OWN = /^(.+)-(\d+)-\d+\.jsonl$/;
let opened = 0;
/** The spool files this process has open (one per ledger it opened and has not closed). */
const inUse = new Set<string>();

/** True when process `pid` runs on this host (signal 0 only checks it exists). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

/**
 * A local, durable queue of ledger writes that could not be made (see `SpoolEntry`): one JSON line
 * per entry in `<dir>/<host>-<pid>-<n>.jsonl`, each batch of lines written with one `fdatasync`
 * before `add` resolves, so an entry survives a crash of the process once added. Applied entries
 * are noted with a `{"done": id}` line; the file is removed once nothing is pending. The pending
 * entries are also held in memory, in order (the caller bounds how many: see `GuardedLedger`).
 *
 * At open, the files of processes of this host that are gone (a crash, a restart), and those of
 * ledgers this process closed with entries pending, are adopted:
 * their pending entries are copied into this process's file and theirs is removed, so a restart
 * writes what the previous process kept. Entries are idempotent by request id, so an entry adopted
 * twice (two processes starting at once) is applied once in effect.
 */
export class Spool {
  private readonly pending = new Map<string, SpoolEntry>();
  private readonly path: string;
  private handle: FileHandle | undefined;
  private buffered: string[] = [];
  private waiters: { resolve: () => void; reject: (err: unknown) => void; sync: boolean }[] = [];
  private writing: Promise<void> | undefined;

  private constructor(dir: string) {
    this.path = join(dir, fileName(hostname(), process.pid, ++opened));
    inUse.add(this.path);
  }

  /**
   * Opens the spool of this process in `dir` (created when missing) and adopts the files of this
   * host's processes that are gone. Synchronous, at start.
   * @throws if `dir` cannot be created or read.
   */
  static open(dir: string): Spool {
    const spool = new Spool(dir);
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(dir)) {
      const m = OWN.exec(name);
      if (!m || m[1] !== hostname()) continue;
      // Only the files of processes that are gone, or of ledgers this process closed: a live one
      // (another worker, another ledger of this process) writes its own.
      const from = join(dir, name);
      const pid = Number(m[2]);
      if (pid === process.pid ? inUse.has(from) : alive(pid)) continue;
      // Renamed first, so that no other process adopts it meanwhile (a rename is atomic).
      const claimed = `${from}.adopting-${process.pid}`;
      try {
        renameSync(from, claimed);
      } catch {
        continue;
      }
      for (const entry of pendingOf(parseSpool(readFileSync(claimed, 'utf8')))) spool.pending.set(entry.id, entry);
      spool.adoptedFiles.push(claimed);
    }
    return spool;
  }

  /** Files adopted at open, removed once their entries are durable in this process's file. */
  private adoptedFiles: string[] = [];

  /** Pending entries, oldest first. */
  entries(): SpoolEntry[] {
    return [...this.pending.values()];
  }

  /** How many entries are pending. */
  get size(): number {
    return this.pending.size;
  }

  /** True when an entry for request `id` is pending. */
  has(id: string): boolean {
    return this.pending.has(id);
  }

  /** Keeps `entry`; resolves once it is on disk (fdatasync). */
  add(entry: SpoolEntry): Promise<void> {
    this.pending.delete(entry.id);
    this.pending.set(entry.id, entry);
    return this.write(JSON.stringify(entry), true);
  }

  /** Notes that the entry of request `id` was applied; resolves once written (not synced: an entry applied twice changes nothing). */
  async done(id: string): Promise<void> {
    if (!this.pending.delete(id)) return;
    await this.write(JSON.stringify({ done: id }), false);
  }

  /** Writes the entries adopted at open into this process's file, then removes the adopted files. */
  async settleAdopted(): Promise<void> {
    if (this.adoptedFiles.length === 0) return;
    if (this.pending.size > 0)
      await this.write(
        this.entries()
          .map((e) => JSON.stringify(e))
          .join('\n'),
        true,
      );
    for (const f of this.adoptedFiles.splice(0)) await unlink(f).catch(() => {});
  }

  /** Buffers `line`; resolves once it is written (and synced to disk when `sync`). */
  private write(line: string, sync: boolean): Promise<void> {
    this.buffered.push(line);
    const written = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject, sync }));
    this.kick();
    return written;
  }

  private kick(): void {
    if (this.writing) return;
    this.writing = this.flush().finally(() => {
      this.writing = undefined;
      if (this.buffered.length > 0) this.kick();
    });
  }

  /**
   * Writes what is buffered, in batches (one append, and one fdatasync when a line of it must be
   * durable), until nothing is; removes the file once nothing is pending, before answering.
   */
  private async flush(): Promise<void> {
    while (this.buffered.length > 0) {
      const lines = this.buffered;
      const waiters = this.waiters;
      this.buffered = [];
      this.waiters = [];
      try {
        this.handle ??= await open(this.path, 'a');
        await appendFile(this.handle, `${lines.join('\n')}\n`);
        if (waiters.some((w) => w.sync)) await this.handle.datasync();
        if (this.pending.size === 0 && this.buffered.length === 0) await this.remove();
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    }
  }

  /** Removes this process's file (nothing is pending). */
  private async remove(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.close().catch(() => {});
    await unlink(this.path).catch(() => {});
  }

  /** Waits for writes in flight and closes the file (kept on disk while entries are pending). */
  async close(): Promise<void> {
    while (this.writing) await this.writing;
    inUse.delete(this.path);
    if (this.pending.size === 0) await this.remove();
    else {
      await this.handle?.close().catch(() => {});
      this.handle = undefined;
    }
  }

  /** The spool's file, for messages. */
  get file(): string {
    return this.path;
  }

  /** Moves an entry that cannot be applied to `<file>.failed` for an operator, and drops it from the pending ones. */
  async fail(entry: SpoolEntry, reason: string): Promise<void> {
    await appendFile(`${this.path}.failed`, `${JSON.stringify({ ...entry, reason })}\n`);
    await this.done(entry.id);
  }
}
