import type { CounterState, LedgerReader, QuotaCheck } from '../ledger/port.js';

/**
 * A quota window's standing for reports (the read API's `/tollgate/v1/quotas`, `tollgate budgets`,
 * the dashboard): its limits, what is spent and held against them, what is left, the share used and
 * its alert level against `alerts.quotaThresholds`. Tokens and micro-USD; instants ISO 8601 UTC.
 */
export interface QuotaStanding {
  check: QuotaCheck;
  spentTokens: number;
  heldTokens: number;
  spentMicroUsd: number;
  heldMicroUsd: number;
  /** Null where the window has no such limit. */
  remainingTokens: number | null;
  remainingMicroUsd: number | null;
  /** The larger of the spent shares of its limits (0 to 1 and beyond), to 4 decimals. */
  used: number;
  level: 'ok' | 'warning' | 'critical';
}

/** The standing of each of `checks`, from their counters in the ledger (a window nothing was charged to yet reads as zero). */
export async function quotaStandings(
  reader: Pick<LedgerReader, 'quotaCounters'>,
  checks: readonly QuotaCheck[],
  [warning, critical]: readonly [number, number],
): Promise<QuotaStanding[]> {
  const counters = new Map<string, CounterState>(
    (await reader.quotaCounters(checks.map((k) => k.counterId))).map((r) => [r.id, r]),
  );
  return checks.map((check) => {
    const r = counters.get(check.counterId);
    const spentTokens = r?.spentTokens ?? 0;
    const heldTokens = r?.heldTokens ?? 0;
    const spentMicroUsd = r?.spentMicroUsd ?? 0;
    const heldMicroUsd = r?.heldMicroUsd ?? 0;
    const used = Math.max(
      check.limitTokens ? spentTokens / check.limitTokens : 0,
      check.limitMicroUsd ? spentMicroUsd / check.limitMicroUsd : 0,
    );
    return {
      check,
      spentTokens,
      heldTokens,
      spentMicroUsd,
      heldMicroUsd,
      remainingTokens:
        check.limitTokens === undefined ? null : Math.max(0, check.limitTokens - spentTokens - heldTokens),
      remainingMicroUsd:
        check.limitMicroUsd === undefined ? null : Math.max(0, check.limitMicroUsd - spentMicroUsd - heldMicroUsd),
      used: Number(used.toFixed(4)),
      level: used >= critical ? 'critical' : used >= warning ? 'warning' : 'ok',
    };
  });
}
