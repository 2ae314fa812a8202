import { ConfigError, configPath, loadConfig } from '../config/load.js';
import { createLogger } from '../log.js';
import { startServer } from '../server.js';

/**
 * `tollgate serve`: loads and validates the config, starts the proxy, and shuts down cleanly on
 * SIGINT/SIGTERM (in-flight requests finish and settle first). Exits 1 on an invalid config.
 */
export async function serveCommand(opts: { config?: string; port?: string; host?: string }): Promise<void> {
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
  if (opts.port !== undefined) config.listen.port = Number(opts.port);
  if (opts.host !== undefined) config.listen.host = opts.host;
  const server = await startServer(config, { log });
  const stop = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}
