import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AlertService } from './alerts/alerts.js';
import { WebhookSender, type WebhookOptions } from './alerts/webhook.js';
import { GrantMirror } from './budgets/mirror.js';
import { createApp } from './app.js';
import { KeyIndex } from './auth/api-key.js';
import { createHttpServer } from './http/server-errors.js';
import { JwtVerifier } from './auth/jwt.js';
import { ConfigReloader, type ReloadResult, type RuntimeParts } from './config/reload.js';
import type { Config } from './config/schema.js';
import { scheduleRetention } from './ledger/archive/retention.js';
import { describeLedger, openLedger } from './ledger/open.js';
import { RateLimiter } from './limits/rate-limiter.js';
import { SharedRateLimiter } from './limits/shared-rate-limiter.js';
import { createLogger, type Logger } from './log.js';
import { Metrics } from './observability/metrics.js';
import { costMicroUsd, priceBook } from './pricing/price.js';
import { serveProxy } from './proxy/serve.js';
import { Upstream } from './proxy/upstream.js';
import { attachRealtime } from './realtime/upgrade.js';
import { ReconcileScheduler } from './reconcile/scheduler.js';
import { createRuntime, type Runtime } from './runtime.js';
import { Settler } from './settlement/settler.js';
import { upstreamReader } from './settlement/upstream-reader.js';

/** Options for `startServer`; everything but the config has a production default. */
export interface ServerOptions {
  /** The upstream API key; defaults to the env var the config names (`upstream.apiKeyEnv`). */
  upstreamKey?: string;
  clock?: () => Date;
  log?: Logger;
  /** Webhook retry timing (tests shorten it). */
  webhook?: Pick<WebhookOptions, 'retryBaseMs' | 'maxAttempts' | 'timeoutMs'>;
  /** The file `config` was loaded from: enables `reload()` (and SIGHUP in `serve`). */
  configFile?: string;
  /** Watch `configFile` and reload it when it changes (default false; `serve` turns it on). */
  watchConfig?: boolean;
  /** Also export prom-client's process metrics (CPU, memory, event loop; default true). */
  processMetrics?: boolean;
}

/** A running tollgate: its base URL (`http://host:port`) and runtime. */
export interface RunningServer {
  url: string;
  runtime: Runtime;
  /**
   * Stops accepting connections, lets in-flight responses finish for up to `graceMs` (default
   * 10,000 ms) before cutting the connections left, then stops the settler and closes the upstream pool and the ledger.
   */
  close(graceMs?: number): Promise<void>;
  /**
   * Re-reads `configFile` and swaps the running config (see `ConfigReloader`); a bad edit is
   * refused and the running config kept. Refused when the server was started without a file.
   */
  reload(): Promise<ReloadResult>;
  /** The reloader, when started with `configFile`: it emits `reload` with every result. */
  reloader?: ConfigReloader;
  /** The settler of deferred work (background responses, batches…), running until `close`. */
  settler: Settler;
  /** The daily reconciliation with OpenAI (config `reconciliation.schedule`), checking until `close`. */
  reconciler: ReconcileScheduler;
}

/**
 * Opens the ledger (applying migrations), mirrors the config's grants, resolves holds left open by
 * a crash, and listens on `config.listen`.
 * @throws if the upstream key env var is unset, or the ledger cannot be opened.
 */
export async function startServer(config: Config, opts: ServerOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? createLogger();
  const clock = opts.clock ?? (() => new Date());
  const upstreamKey = opts.upstreamKey ?? process.env[config.upstream.apiKeyEnv];
  if (!upstreamKey)
    throw new Error(
      `the upstream API key is not set: export ${config.upstream.apiKeyEnv}=sk-... (no OpenAI key? \`npx tollgate demo\` runs tollgate against a built-in mock upstream)`,
    );

  const jwt = new JwtVerifier(config);
  await jwt.check();
  const ledger = openLedger(config.ledger, { log });
  const grantMirror = new GrantMirror(ledger, log);
  let interrupted: string[];
  try {
    await grantMirror.sync(config, clock());
    interrupted = await ledger.recoverOpenHolds(
      clock(),
      config.admission.interruptedPolicy,
      (model, usage, company) => {
        const priced = model ? priceBook(config).find(model, clock(), company) : undefined;
        return priced ? costMicroUsd(usage, priced.price) : 0;
      },
    );
  } catch (err) {
    await ledger.close();
    throw err;
  }
  if (interrupted.length)
    log.warn(
      { count: interrupted.length, policy: config.admission.interruptedPolicy },
      'resolved holds left open by an unclean stop (marked interrupted)',
    );

  const upstream = new Upstream({
    baseUrl: config.upstream.baseUrl,
    apiKey: upstreamKey,
    connections: config.upstream.connections,
    timeouts: config.upstream.timeouts,
  });
  const alertService = (alertsConfig: Config['alerts']) => {
    const { webhookUrl, webhookSecretEnv } = alertsConfig;
    const webhook = webhookUrl
      ? new WebhookSender(
          { url: webhookUrl, secret: webhookSecretEnv ? process.env[webhookSecretEnv] : undefined, ...opts.webhook },
          log,
        )
      : undefined;
    return new AlertService(ledger.alerts, alertsConfig, log, webhook, clock, ledger.spikes);
  };
  const alerts = alertService(config.alerts);
  const metrics = new Metrics({
    config: () => runtime.config,
    openHolds: () => ledger.reader.openHolds(),
    processMetrics: opts.processMetrics,
  });
  const runtime: Runtime = createRuntime({
    config,
    keys: new KeyIndex(config),
    jwt,
    rateLimiter: ledger.buckets ? new SharedRateLimiter(ledger.buckets) : new RateLimiter(),
    alerts,
    ledger,
    upstream,
    clock,
    log,
    metrics,
    grantMirror,
  });
  const reloader = opts.configFile
    ? new ConfigReloader(runtime, opts.configFile, {
        async prepare(next: Config, prev: Config): Promise<Omit<RuntimeParts, 'config'>> {
          const verifier = new JwtVerifier(next);
          await verifier.check();
          const parts: Omit<RuntimeParts, 'config'> = { keys: new KeyIndex(next), jwt: verifier };
          if (JSON.stringify(next.alerts) !== JSON.stringify(prev.alerts)) parts.alerts = alertService(next.alerts);
          return parts;
        },
      })
    : undefined;
  if (reloader && opts.watchConfig) reloader.watch();
  const settler = new Settler(runtime, upstreamReader(upstream));
  runtime.settler = settler;
  const app = createApp(runtime);

  const server: Server = await new Promise((resolve) => {
    const s = createHttpServer(serveProxy(runtime), app.fetch, config.listen.host, log);
    s.listen(config.listen.port, config.listen.host, () => resolve(s));
  });
  const realtime = attachRealtime(server, runtime);
  settler.start();
  const stopRetention = retention(runtime);
  grantMirror.start(clock, () => runtime.config);
  const reconciler = new ReconcileScheduler(runtime);
  reconciler.start();
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  log.info(
    {
      url: `http://${host}:${port}`,
      ledger: describeLedger(config.ledger),
      upstream: config.upstream.baseUrl,
      config: opts.configFile,
      watching: Boolean(reloader && opts.watchConfig),
    },
    'tollgate listening',
  );

  return {
    url: `http://${host}:${port}`,
    runtime,
    reloader,
    settler,
    reconciler,
    reload: () =>
      reloader
        ? reloader.reload()
        : Promise.resolve({
            status: 'refused',
            error: 'started without a config file',
            issues: ['started without a config file'],
          }),
    async close(graceMs = 10_000) {
      reloader?.close();
      grantMirror.stop();
      const sessionsClosed = realtime.close(graceMs);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const force = setTimeout(() => server.closeAllConnections(), graceMs);
      await Promise.all([closed, sessionsClosed]);
      clearTimeout(force);
      await settler.stop();
      await stopRetention?.();
      await reconciler.stop();
      await upstream.close();
      await runtime.alerts.close();
      await ledger.close();
    },
  };
}

/** `ledger.retention`: archive and delete old raw rows daily (see src/ledger/archive/retention.ts); a stop function, or none. */
function retention(rt: Runtime): (() => Promise<void>) | undefined {
  const r = rt.config.ledger.retention;
  if (!r) return undefined;
  return scheduleRetention(
    rt.ledger.archive,
    r,
    rt.clock,
    (done) =>
      done &&
      rt.log.info(
        { file: done.file, before: done.before, requests: done.requests, debits: done.debits, bytes: done.bytes },
        'archived and deleted raw ledger rows past retention',
      ),
    (err) => rt.log.error({ err }, 'the retention run failed; it runs again in 24 h'),
  );
}
