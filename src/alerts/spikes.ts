import type { AlertsConfig } from '../config/schema.js';
import type { SpikeMinute, SpikeStore } from '../ledger/port.js';
import type { Logger } from '../log.js';

/** A minute over the spike multiple: whose, when (minute index since the epoch, UTC), tokens in it and the trailing average. */
export interface Spike {
  companyId: string;
  subject: string;
  minute: number;
  tokens: number;
  /** Tokens per minute over the other minutes of the window. */
  average: number;
}

/** Where a subject's tokens per minute are counted, and who is told of a spike. */
export interface SpikeWindows {
  /** Counts `tokens` settled for `subject` in `minute`; a spike is reported now (memory) or after the next shared flush. */
  add(companyId: string, subject: string, minute: number, tokens: number): void;
  /** Stops and hands over what is still pending (the shared store's last batch). */
  close(): Promise<void>;
}

type SpikeConfig = AlertsConfig['spike'];

/**
 * The spike rule on one subject's minutes (minute → tokens): the tokens of `minute` are at least
 * `minTokens` and above `multiple` × the average of the window's other `windowMinutes − 1` minutes,
 * and the subject was first seen (`firstSeen`, a minute) at least `minHistoryMinutes` before.
 * Returns the minute's tokens and the average, or undefined when it is no spike.
 */
export function spikeAt(
  minutes: Map<number, number>,
  minute: number,
  firstSeen: number,
  c: SpikeConfig,
): { tokens: number; average: number } | undefined {
  let trailing = 0;
  // forEach, not for…of: no [minute, tokens] array per entry (this runs on every settle).
  minutes.forEach((t, m) => {
    if (m > minute - c.windowMinutes && m < minute) trailing += t;
  });
  const tokens = minutes.get(minute) ?? 0;
  const average = trailing / (c.windowMinutes - 1);
  // A try-out's first minutes have no baseline worth comparing with: wait for minHistoryMinutes of history.
  const spiking = minute - firstSeen >= c.minHistoryMinutes && tokens >= c.minTokens && average > 0;
  return spiking && tokens > c.multiple * average ? { tokens, average } : undefined;
}

/** One process's windows, in memory (a SQLite ledger has one process): checked on every settle, no I/O. */
export class LocalSpikeWindows implements SpikeWindows {
  /** Per subject: minute → tokens, trimmed to the window. */
  private readonly minutes = new Map<string, Map<number, number>>();
  /** Per subject: the first minute this process saw it use tokens. */
  private readonly firstSeen = new Map<string, number>();

  constructor(
    private readonly config: SpikeConfig,
    private readonly onSpike: (s: Spike) => void,
  ) {}

  add(companyId: string, subject: string, minute: number, tokens: number): void {
    if (!this.firstSeen.has(subject)) this.firstSeen.set(subject, minute);
    let buckets = this.minutes.get(subject);
    if (!buckets) this.minutes.set(subject, (buckets = new Map()));
    buckets.set(minute, (buckets.get(minute) ?? 0) + tokens);
    for (const m of buckets.keys()) if (m <= minute - this.config.windowMinutes) buckets.delete(m);
    const s = spikeAt(buckets, minute, this.firstSeen.get(subject)!, this.config);
    if (s) this.onSpike({ companyId, subject, minute, ...s });
  }

  async close(): Promise<void> {}
}

/** How often a process adds its settled tokens to the shared windows, ms. */
export const SPIKE_FLUSH_MS = 1_000;

/**
 * The windows every replica shares (a Postgres ledger's `SpikeStore`): settles are summed in memory
 * per subject and minute, and about once a second (`flushMs`) the batch is added to the store in ONE
 * statement that answers with the subjects' shared minutes, on which the spike rule runs. Nothing is
 * written on a settle's path; the cost is one round trip per second per process while tokens are
 * settled, whatever the request rate, plus one DELETE per minute for the minutes that aged out.
 * Measured on a busy shared 2-core machine: a batch of 1 / 10 / 100 subjects took 0.7 / 0.8 / 1.5 ms
 * (p50); a settle's share of the work here is 0.75 µs (0.33 µs for the in-memory windows).
 * A subject's history is what the store keeps (its window, or `minHistoryMinutes` if longer): a
 * subject silent for longer counts as new again. A batch that fails is dropped and logged (an alert
 * may then be missed; no request is affected).
 */
export class SharedSpikeWindows implements SpikeWindows {
  private pending = new Map<string, { companyId: string; subject: string; minute: number; tokens: number }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private forgotUpTo = 0;
  private readonly keepMinutes: number;

  constructor(
    private readonly store: SpikeStore,
    private readonly config: SpikeConfig,
    private readonly onSpike: (s: Spike) => void,
    private readonly log: Logger,
    private readonly flushMs = SPIKE_FLUSH_MS,
  ) {
    this.keepMinutes = Math.max(config.windowMinutes - 1, config.minHistoryMinutes);
  }

  add(companyId: string, subject: string, minute: number, tokens: number): void {
    const k = `${minute} ${subject}`;
    const p = this.pending.get(k);
    if (p) p.tokens += tokens;
    else this.pending.set(k, { companyId, subject, minute, tokens });
    if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  /** Adds the pending batch to the store and checks its subjects' minutes (waits for a flush under way first). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    this.flushing = this.share(batch).finally(() => (this.flushing = undefined));
    await this.flushing;
  }

  private async share(batch: (SpikeMinute & { companyId: string })[]): Promise<void> {
    const latest = Math.max(...batch.map((b) => b.minute));
    const from = Math.min(...batch.map((b) => b.minute)) - this.keepMinutes;
    try {
      const rows = await this.store.add(
        batch.map(({ subject, minute, tokens }) => ({ subject, minute, tokens })),
        from,
      );
      const bySubject = new Map<string, Map<number, number>>();
      for (const r of rows) {
        let m = bySubject.get(r.subject);
        if (!m) bySubject.set(r.subject, (m = new Map()));
        m.set(r.minute, r.tokens);
      }
      for (const b of batch) {
        const minutes = bySubject.get(b.subject);
        if (!minutes) continue;
        const s = spikeAt(minutes, b.minute, Math.min(...minutes.keys()), this.config);
        if (s) this.onSpike({ companyId: b.companyId, subject: b.subject, minute: b.minute, ...s });
      }
      if (latest - this.keepMinutes - 1 > this.forgotUpTo) {
        this.forgotUpTo = latest - this.keepMinutes - 1;
        await this.store.forget(this.forgotUpTo);
      }
    } catch (err) {
      this.log.warn({ err, subjects: batch.length }, 'could not share the usage-spike minutes (batch dropped)');
    }
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
