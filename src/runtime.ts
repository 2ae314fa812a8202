import type { AlertService } from './alerts/alerts.js';
import type { KeyIndex } from './auth/api-key.js';
import type { JwtVerifier } from './auth/jwt.js';
import type { Config } from './config/schema.js';
import type { ObjectStore } from './ledger/port.js';
import type { Ledger } from './ledger/sqlite/ledger.js';
import type { LedgerQueue } from './ledger/sqlite/queue.js';
import type { RateLimiter } from './limits/rate-limiter.js';
import type { Logger } from './log.js';
import type { Metrics } from './observability/metrics.js';
import type { Upstream } from './proxy/upstream.js';

/** Everything a request handler needs, built once by `startServer`. */
export interface Runtime {
  config: Config;
  keys: KeyIndex;
  jwt: JwtVerifier;
  rateLimiter: RateLimiter;
  alerts: AlertService;
  ledger: Ledger;
  /** Group commit of the ledger writes made while serving requests. */
  ledgerQueue: LedgerQueue;
  upstream: Upstream;
  /** Owners of the upstream objects created through tollgate (src/ownership/). */
  objects: ObjectStore;
  /** The current instant; injectable so tests can move time (expiry). */
  clock: () => Date;
  log: Logger;
  /** Prometheus metrics; absent in runtimes built without them (some tests). */
  metrics?: Metrics;
}
