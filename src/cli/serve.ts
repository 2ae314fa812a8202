import { ConfigError, configPath, loadConfig } from '../config/load.js';
import { createLogger } from '../log.js';
import { startServer } from '../server.js';
import { ownLedgerForWorkers } from '../ledger/open.js';
import { isPrimary, runPrimary } from './workers.js';

/**
 * `tollgate serve`: loads and validates the config, starts the proxy, and shuts down cleanly on
 * SIGINT/SIGTERM (in-flight requests finish and settle first). Exits 1 on an invalid config.
 * The config file is watched and reloaded when it changes (unless `--no-watch`); SIGHUP reloads it
 * too. A bad edit is refused and logged, and the running config keeps serving. `--workers N` runs
 * N processes sharing the listen port (see workers.ts); on a SQLite ledger the primary owns the
 * file and writes it for them (see `ownLedgerForWorkers`).
 */
export async function serveCommand(opts: {
  config?: string;
  port?: string;
  host?: string;
  upstream?: string;
  watch?: boolean;
  workers?: string;
}): Promise<void> {
  const log = createLogger();
  const file = configPath(opts.config);
  let config;
  try {
    config = loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const workers = opts.workers === undefined ? 1 : Number(opts.workers);
  if (!Number.isInteger(workers) || workers < 1) {
    process.stderr.write(`--workers must be a whole number of at least 1, got ${opts.workers}\n`);
    process.exit(1);
  }
  if (workers > 1 && isPrimary()) {
    if (config.ledger.url !== undefined) return runPrimary(workers, log);
    // SQLite: this process owns the file and writes it for every worker (one writer per file).
    let owned;
    try {
      owned = ownLedgerForWorkers(config.ledger.path, config.ledger.reports, log);
    } catch (err) {
      process.stderr.write(`tollgate could not start: ${(err as Error).message}\n`);
      process.exit(1);
    }
    return runPrimary(workers, log, () => owned.close());
  }
  if (opts.port !== undefined) config.listen.port = Number(opts.port);
  if (opts.host !== undefined) config.listen.host = opts.host;
  if (opts.upstream !== undefined) {
    if (!/^https?:\/\/[^/]/.test(opts.upstream)) {
      process.stderr.write(
        `--upstream: expected an http(s) URL such as http://127.0.0.1:9999, got "${opts.upstream}"\n`,
      );
      process.exit(1);
    }
    config.upstream.baseUrl = opts.upstream;
  }
  let server;
  try {
    server = await startServer(config, { log, configFile: file, watchConfig: opts.watch !== false });
  } catch (err) {
    // A start-up failure the operator can act on (the upstream key unset, the ledger held by another
    // process, a JWT key that does not load): one line, no stack (LOG_LEVEL=debug adds it).
    process.stderr.write(`tollgate could not start: ${(err as Error).message}\n`);
    log.debug({ err }, 'start-up failed');
    log.flush();
    process.exit(1);
  }
  process.on('SIGHUP', () => {
    log.info({ signal: 'SIGHUP', file }, 'reloading the config');
    void server.reload();
  });
  const stop = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}
