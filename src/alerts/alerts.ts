import type { AlertsConfig } from '../config/schema.js';
import type { AlertKind as Kind, AlertStore, QuotaCheck, Settled, SpikeStore } from '../ledger/port.js';
import type { Logger } from '../log.js';
import { LocalSpikeWindows, SharedSpikeWindows, type Spike, type SpikeWindows } from './spikes.js';
import type { WebhookSender } from './webhook.js';

/** What settled, as the alert checks need it. */
export interface SettledUsage {
  companyId: string;
  /** `<company>/<user>` for a user, `key:<id>` for a key: whose spikes are tracked. */
  subject: string;
  quotas: QuotaCheck[];
  /** The grants and quota counters the settle charged, as they stand after it. */
  settled: Settled;
  /** Tokens the request was charged. */
  tokens: number;
}

/**
 * Threshold and spike alerts. Each alert has a key naming what crossed which threshold in which
 * window (`quota:<counter id>:<threshold>`, `balance:<grant>:<amount>:<threshold>`,
 * `spike:<subject>:<minute>`); the `alerts` table's primary key makes it fire exactly once, even
 * across restarts. Firing writes a structured log line (warn) and, when a webhook is configured,
 * POSTs the alert in the background. Nothing here can fail or delay a request: `afterSettle` is
 * called after the response and catches everything.
 *
 * The keys already recorded (or being recorded) are remembered in memory, so a condition that
 * stays true — a minute over the spike multiple, a quota past 80 % — costs one ledger write when it
 * first fires and none on the settles after it (it used to cost an INSERT per settle). The memory
 * is bounded (`REMEMBERED_KEYS`); when it is full it starts over, which costs at most one more
 * INSERT … ON CONFLICT DO NOTHING per key, never a second alert.
 *
 * Spike windows (tokens per subject and minute) live in this process's memory, or — given a
 * `SpikeStore` (a Postgres ledger shared by replicas) — in the store, added in batches about once a
 * second (see spikes.ts), so a spike split across replicas is seen whole. Either way the alert's key
 * names the minute, and the store's primary key records it once across every replica.
 */
/** Most alert keys remembered as fired before the memory starts over (each key is ~60 bytes). */
export const REMEMBERED_KEYS = 10_000;

export class AlertService {
  /** Keys recorded in the ledger (or on their way there) by this process: skipped without a write. */
  private readonly fired = new Set<string>();
  private readonly spikes: SpikeWindows;

  constructor(
    private readonly store: AlertStore,
    private readonly config: AlertsConfig,
    private readonly log: Logger,
    private readonly webhook: WebhookSender | undefined,
    private readonly clock: () => Date,
    spikeStore?: SpikeStore,
  ) {
    const onSpike = (sp: Spike) => this.spiked(sp);
    this.spikes = spikeStore
      ? new SharedSpikeWindows(spikeStore, config.spike, onSpike, log)
      : new LocalSpikeWindows(config.spike, onSpike);
  }

  /** Hands the spike windows' pending batch to the shared store (a no-op in memory); call before the ledger closes. */
  close(): Promise<void> {
    return this.spikes.close();
  }

  /** Checks the quotas and grants a settled request charged, and its subject's minute, for alerts. No ledger reads. */
  afterSettle(u: SettledUsage): void {
    try {
      this.checkQuotas(u);
      this.checkBalance(u);
      this.checkSpike(u);
    } catch (err) {
      this.log.error({ err }, 'alert check failed');
    }
  }

  /** Fires the alert for a new quota-increase request. */
  quotaIncreaseRequested(companyId: string, request: Record<string, unknown>): void {
    this.fire(`quota_request:${String(request.id)}`, 'quota_increase_request', companyId, { request });
  }

  /**
   * Fires the alert for a reconciliation with OpenAI beyond its threshold (src/reconcile/): key
   * `reconciliation:<run id>` (once per run), company `*` (it concerns every company's traffic).
   */
  reconciliationDrift(runId: string, details: Record<string, unknown>): void {
    this.fire(`reconciliation:${runId}`, 'reconciliation_drift', '*', details);
  }

  private checkQuotas(u: SettledUsage): void {
    const thresholds = this.config.quotaThresholds;
    for (const q of u.quotas) {
      const row = u.settled.counters.find((c) => c.id === q.counterId);
      if (!row) continue;
      const used = Math.max(
        q.limitTokens ? row.spentTokens / q.limitTokens : 0,
        q.limitMicroUsd ? row.spentMicroUsd / q.limitMicroUsd : 0,
      );
      if (used < thresholds[0] && used < thresholds[1]) continue;
      const [warning, critical] = thresholds;
      for (const [threshold, kind] of [
        [critical, 'quota_critical'],
        [warning, 'quota_warning'],
      ] as const) {
        if (used < threshold) continue;
        this.fire(`quota:${q.counterId}:${threshold}`, kind, u.companyId, {
          scope: q.scope,
          subject: q.scopeId,
          window: q.window,
          windowKey: q.windowKey,
          threshold,
          used: Number(used.toFixed(4)),
          spentTokens: row.spentTokens,
          limitTokens: q.limitTokens ?? null,
          spentMicroUsd: row.spentMicroUsd,
          limitMicroUsd: q.limitMicroUsd ?? null,
          resetsAt: q.resetsAt?.toISOString() ?? null,
        });
      }
    }
  }

  private checkBalance(u: SettledUsage): void {
    const thresholds = this.config.lowBalanceThresholds;
    for (const g of u.settled.grants) {
      if (g.unlimited || g.amount === 0) continue;
      const left = Math.max(0, g.amount - g.spent) / g.amount;
      // Nothing is built for a grant above both thresholds (every settle checks every grant it touched).
      if (left > thresholds[0] && left > thresholds[1]) continue;
      const [warning, critical] = thresholds;
      for (const [threshold, kind] of [
        [critical, 'low_balance_critical'],
        [warning, 'low_balance_warning'],
      ] as const) {
        if (left > threshold) continue;
        this.fire(`balance:${g.id}:${g.amount}:${threshold}`, kind, u.companyId, {
          grant: g.id,
          unit: g.unit,
          amount: g.amount,
          spent: g.spent,
          left: Number(left.toFixed(4)),
          threshold,
          expiresAt: g.expiresAt,
        });
      }
    }
  }

  private checkSpike(u: SettledUsage): void {
    this.spikes.add(u.companyId, u.subject, Math.floor(this.clock().getTime() / 60_000), u.tokens);
  }

  private spiked(sp: Spike): void {
    const minute = new Date(sp.minute * 60_000).toISOString();
    this.fire(`spike:${sp.subject}:${minute}`, 'usage_spike', sp.companyId, {
      subject: sp.subject,
      minute,
      tokens: sp.tokens,
      trailingAveragePerMinute: Math.round(sp.average),
      multiple: this.config.spike.multiple,
    });
  }

  /** Records the alert once (in the ledger, in the background); when it is new, logs it and queues the webhook. */
  private fire(key: string, kind: Kind, companyId: string, details: Record<string, unknown>): void {
    if (this.fired.has(key)) return;
    if (this.fired.size >= REMEMBERED_KEYS) this.fired.clear();
    this.fired.add(key);
    const firedAt = this.clock().toISOString();
    const payload = { key, kind, companyId, firedAt, ...details };
    this.store
      .record({ key, kind, companyId, firedAt, payload: JSON.stringify(payload) })
      .then((inserted) => {
        if (!inserted) return;
        this.log.warn({ alert: payload }, `alert: ${kind}`);
        this.webhook?.send(payload, (delivered) => {
          this.store
            .attempted(key, delivered ? new Date().toISOString() : null)
            .catch((err: unknown) => this.log.error({ err, key }, 'could not record an alert delivery'));
        });
      })
      .catch((err: unknown) => {
        this.fired.delete(key); // not recorded: the next settle that meets the condition tries again
        this.log.error({ err, key }, 'could not record an alert');
      });
  }
}
