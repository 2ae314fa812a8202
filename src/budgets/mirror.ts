import { grantTerms, hasRecurring } from '../config/grants.js';
import type { Config } from '../config/schema.js';
import type { Ledger } from '../ledger/port.js';
import type { Logger } from '../log.js';

/** After a renewal failed (the ledger did not answer), the next admission tries again no sooner than this (ms). */
const RETRY_MS = 1_000;
/** The renewal timer wakes at least this often (ms), so a clock change or a long sleep is noticed. */
const MAX_SLEEP_MS = 3_600_000;
/** …and sleeps at least this long between two wakes (ms). */
const MIN_SLEEP_MS = 50;

/**
 * Mirrors the config's grants into the ledger — at start, on every config reload, and whenever a
 * recurring allocation's period ends — one mirror at a time, in call order. The grants of a
 * recurring allocation are its current period's (src/budgets/renewal.ts), so a period renews:
 * - at start (tollgate was down at the boundary: renewed late, at once);
 * - on the first admission at or past `dueAt` (it waits for the renewal, so no request is admitted
 *   on an expired period while the next has not been mirrored);
 * - on a timer at the boundary (real time), so an idle tollgate renews too.
 * Replicas each do so; the grants' ids are fixed by the period, so the ledger gets each once.
 */
export class GrantMirror {
  /** When the next period of a recurring allocation starts (ms since the epoch, UTC); Infinity when none renews. */
  dueAt = Number.POSITIVE_INFINITY;
  private chain: Promise<unknown> = Promise.resolve();
  private renewing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Sets the timer for `dueAt` (while started). */
  private arm: (() => void) | undefined;

  constructor(
    private readonly ledger: Pick<Ledger, 'syncGrants' | 'reader'>,
    private readonly log: Logger,
  ) {}

  /**
   * Mirrors `config`'s grants as they stand at `now` (see `grantTerms`).
   * @throws what `LedgerWriter.syncGrants` throws (a grant moved between companies, a used grant's
   * unit changed, the ledger unreachable): nothing is written.
   */
  sync(config: Config, now: Date): Promise<void> {
    const run = this.chain.then(async () => {
      const mirrored = hasRecurring(config) ? await this.ledger.reader.grants() : [];
      const terms = grantTerms(config, now, mirrored);
      await this.ledger.syncGrants(terms.grants, terms.purchases, now);
      this.dueAt = terms.renewsAt?.getTime() ?? Number.POSITIVE_INFINITY;
      this.arm?.(); // a reload may have brought the next renewal closer
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Renews the recurring allocations of `config` when `now` is at or past `dueAt`; the admissions
   * that arrive meanwhile share the one renewal. Never throws: a failure is logged, and the next
   * admission a second later tries again.
   */
  renewIfDue(config: Config, now: Date): Promise<void> {
    if (now.getTime() < this.dueAt) return Promise.resolve();
    if (!this.renewing) {
      const due = this.dueAt;
      this.renewing = this.sync(config, now)
        .then(() => this.log.info({ due: new Date(due).toISOString() }, 'recurring allocations renewed'))
        .catch((err: unknown) => {
          this.dueAt = now.getTime() + RETRY_MS;
          this.log.error({ err }, 'renewing recurring allocations failed; retrying on the next request');
        })
        .finally(() => {
          this.renewing = undefined;
        });
    }
    return this.renewing;
  }

  /** Renews on a timer too (waiting on `clock`'s instants), with the config `current()` gives; `stop` ends it. */
  start(clock: () => Date, current: () => Config): void {
    this.stop();
    const arm = () => {
      clearTimeout(this.timer);
      const wait = Math.min(Math.max(this.dueAt - clock().getTime(), MIN_SLEEP_MS), MAX_SLEEP_MS);
      this.timer = setTimeout(() => void this.renewIfDue(current(), clock()).finally(() => this.arm?.()), wait);
      this.timer.unref();
    };
    this.arm = arm;
    arm();
  }

  /** Stops the timer. */
  stop(): void {
    this.arm = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
