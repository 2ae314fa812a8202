import type { AlertService } from './alerts/alerts.js';
import type { KeyIndex } from './auth/api-key.js';
import type { JwtVerifier } from './auth/jwt.js';
import type { Config } from './config/schema.js';
import type { Ledger } from './ledger/port.js';
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
  /** The ledger, behind its port (src/ledger/port.ts). */
  ledger: Ledger;
  upstream: Upstream;
  /** The current instant; injectable so tests can move time (expiry). */
  clock: () => Date;
  log: Logger;
  /** Prometheus metrics; absent in runtimes built without them (some tests). */
  metrics?: Metrics;
}
