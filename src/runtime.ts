import type { AlertService } from './alerts/alerts.js';
import type { GrantMirror } from './budgets/mirror.js';
import type { KeyIndex } from './auth/api-key.js';
import type { JwtVerifier } from './auth/jwt.js';
import type { Config } from './config/schema.js';
import type { Ledger } from './ledger/port.js';
import type { RateLimits } from './limits/rate-limiter.js';
import type { Logger } from './log.js';
import type { Metrics } from './observability/metrics.js';
import type { Upstream } from './proxy/upstream.js';
import type { SettlerHandle } from './settlement/kinds.js';

/** The parts of the runtime built from a config, swapped together by a config reload (`Runtime.apply`). */
export interface RuntimeParts {
  config: Config;
  keys: KeyIndex;
  jwt: JwtVerifier;
  /** A new alert service, when the config's `alerts` changed. */
  alerts?: AlertService;
}

/**
 * Everything a request handler needs, built once by `startServer` (see `createRuntime`). Functions
 * take only the part they use (`Pick<Runtime, ...>`).
 */
export interface Runtime {
  config: Config;
  keys: KeyIndex;
  jwt: JwtVerifier;
  rateLimiter: RateLimits;
  alerts: AlertService;
  /** The ledger, behind its port (src/ledger/port.ts). */
  ledger: Ledger;
  upstream: Upstream;
  /** The current instant; injectable so tests can move time (expiry). */
  clock: () => Date;
  log: Logger;
  /** Prometheus metrics; absent in runtimes built without them (some tests). */
  metrics?: Metrics;
  /** Mirrors the config's grants and renews recurring allocations (src/budgets/). */
  grantMirror: GrantMirror;
  /** The settler of deferred work (src/settlement/); absent in runtimes built without it (some tests). */
  settler?: SettlerHandle;
  /**
   * Swaps in the parts built from a new config, in one synchronous step: a request sees the old
   * parts or the new ones, never a mix.
   */
  apply(parts: RuntimeParts): void;
}

/** A runtime from its fields, with `apply`. */
export function createRuntime(fields: Omit<Runtime, 'apply'>): Runtime {
  const rt: Runtime = {
    ...fields,
    apply({ config, keys, jwt, alerts }) {
      rt.config = config;
      rt.keys = keys;
      rt.jwt = jwt;
      if (alerts) rt.alerts = alerts;
    },
  };
  return rt;
}
