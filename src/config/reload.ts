import { EventEmitter } from 'node:events';
import { existsSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Runtime, RuntimeParts } from '../runtime.js';
import { diffConfigs, formatChange, restartOnlyChanges, type ConfigChange } from './diff.js';
import { ConfigError, loadConfig } from './load.js';
import type { Config } from './schema.js';

/**
 * Hot reload of the config file.
 *
 * A reload re-reads the file with `loadConfig` (the loader `serve` uses), builds everything that
 * depends on the config (key index, JWT verifiers with their public keys loaded, the alert service
 * when `alerts` changed), mirrors the grants into the ledger (`GrantMirror.sync`, which refuses a
 * grant moved between companies), and then hands `config`, `keys`, `jwt` (and `alerts`) to
 * `rt.apply`, which swaps them in one synchronous step: a request sees either the old config or the new one, never a
 * mix. Anything that fails refuses the whole edit: the error is logged (level error, with each
 * issue) and the running config keeps serving.
 *
 * `listen`, `ledger` and `upstream` are read only at start: a change to them is logged as "needs
 * restart" and otherwise ignored (the running values are kept in `rt.config`).
 */

/** What a reload did. */
export type ReloadResult =
  | { status: 'applied'; changes: ConfigChange[]; needsRestart: string[] }
  /** The watcher fired but the file's text is what was read last (or the file is briefly gone while an editor replaces it). */
  | { status: 'unchanged' }
  | { status: 'refused'; error: string; issues: string[] };

export type { RuntimeParts };

/** What a reload reads and swaps: the running config, the ledger (grants), the clock, the log and metrics, and `apply`. */
export type ReloadTarget = Pick<Runtime, 'config' | 'grantMirror' | 'clock' | 'log' | 'metrics' | 'apply'>;

export interface ConfigReloaderOptions {
  /** Builds the config-dependent parts of the runtime for `next` (the running config is `prev`); may throw to refuse the config. */
  prepare: (next: Config, prev: Config) => Promise<Omit<RuntimeParts, 'config'>>;
  /** Debounce of file events, ms (default 100): editors write a file in several steps. */
  debounceMs?: number;
}

function textOf(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Watches and reloads one config file into a runtime. Emits `reload` with each `ReloadResult`. */
export class ConfigReloader extends EventEmitter<{ reload: [ReloadResult] }> {
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private queue: Promise<unknown> = Promise.resolve();
  /** The text read last (applied or refused), so that a watcher event without a change does nothing. */
  private seenText: string | undefined;
  /** The restart-only sections as the file had them when last applied, so "needs restart" is logged once per edit. */
  private fileBaseline: Config;

  constructor(
    private readonly rt: ReloadTarget,
    readonly file: string,
    private readonly opts: ConfigReloaderOptions,
  ) {
    super();
    this.seenText = textOf(file);
    let baseline = rt.config;
    try {
      baseline = loadConfig(file);
    } catch {
      // The running config then stands for the file.
    }
    this.fileBaseline = baseline;
  }

  /**
   * Re-reads and applies the file now (SIGHUP, tests). Reloads run one at a time, in call order.
   * Never throws: a refused edit is a `refused` result (and an error log line).
   */
  reload(): Promise<ReloadResult> {
    return this.enqueue(false);
  }

  /** Starts watching the file's folder (so editors that replace the file are followed). */
  watch(): void {
    if (this.watcher) return;
    const name = basename(this.file);
    this.watcher = watch(dirname(this.file), { persistent: false }, (_event, filename) => {
      if (filename !== null && filename !== name) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.enqueue(true), this.opts.debounceMs ?? 100);
    });
    this.watcher.on('error', (err) =>
      this.rt.log.error(
        { err, file: this.file },
        'config watcher failed; edits are no longer picked up (send SIGHUP to reload)',
      ),
    );
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }

  private enqueue(fromWatcher: boolean): Promise<ReloadResult> {
    const run = this.queue.then(() => this.apply(fromWatcher));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async apply(fromWatcher: boolean): Promise<ReloadResult> {
    const { rt, file } = this;
    const text = textOf(file);
    if (fromWatcher && (text === this.seenText || (text === undefined && !existsSync(file))))
      return this.done({ status: 'unchanged' });
    this.seenText = text;
    const prev = rt.config;
    let next: Config;
    let parts: Omit<RuntimeParts, 'config'>;
    try {
      next = loadConfig(file);
      const needsRestart = restartOnlyChanges(this.fileBaseline, next);
      const fileValues = { listen: next.listen, ledger: next.ledger, upstream: next.upstream };
      // Keep what is running: these are read at start only.
      next.listen = prev.listen;
      next.ledger = prev.ledger;
      next.upstream = prev.upstream;
      parts = await this.opts.prepare(next, prev);
      // The SQLite ledger mirrors the grants synchronously before this await resumes, and the swap
      // follows in the same microtask: no request is admitted in between.
      await rt.grantMirror.sync(next, rt.clock());
      rt.apply({ ...parts, config: next });
      this.fileBaseline = { ...next, ...fileValues };
      const changes = diffConfigs(prev, next);
      rt.metrics?.configReload(true);
      rt.log.info(
        { file, changes: changes.map(formatChange) },
        changes.length ? `config reloaded: ${changes.length} change(s) applied` : 'config reloaded: no changes',
      );
      if (needsRestart.length)
        rt.log.warn(
          { file, fields: needsRestart },
          `config change needs restart: ${needsRestart.join(', ')} (read at start only; the running values are kept)`,
        );
      return this.done({ status: 'applied', changes, needsRestart });
    } catch (err) {
      const issues = err instanceof ConfigError ? err.issues : [(err as Error).message];
      const error = err instanceof ConfigError ? err.message : `invalid config ${file}: ${(err as Error).message}`;
      rt.metrics?.configReload(false);
      rt.log.error({ file, issues }, `config reload refused, the running config is kept: ${issues.join('; ')}`);
      return this.done({ status: 'refused', error, issues });
    }
  }

  private done(result: ReloadResult): ReloadResult {
    this.emit('reload', result);
    return result;
  }
}
