/**
 * What one bench run measures and for how long: the full plan (`npm run bench`, ~40 minutes: every
 * rate runs 30 s per target and round, long enough for GC and WAL checkpoints to show) and
 * the smoke plan (`npm run bench:smoke`, seconds: tiny rates and durations, no large ledgers,
 * Portkey only if already installed). Rates are RPS, durations ms unless named `…S` (seconds).
 */
import type { Variant } from './variants.js';

export interface Plan {
  mode: 'full' | 'smoke';
  /** Rounds of the proxy measurements; direct and proxies take turns within each round. */
  rounds: number;
  /** Open-loop warm-up per target before the rounds (JIT, pools). */
  warmup: { rps: number; ms: number };
  /** Open-loop latency runs: `rates` with the instant upstream, `delayedRate` with the delayed one. */
  openLoop: { rates: number[]; ms: number; delayedRate: number; delayed: Variant; instant: Variant };
  /** Closed-loop maximum throughput (autocannon). */
  closedLoop: { connections: number; durationS: number };
  /** Streams started open-loop at `ratePerS`, for TTFB, gaps and chunk counts. */
  stream: { ratePerS: number; count: number; variant: Variant };
  /** Concurrent streams through a fresh proxy process, for its peak RSS. */
  concurrent: { streams: number; ratePerS: number; variant: Variant };
  /** Ledger micro-benchmarks (tollgate only). */
  ledger: { settleMs: number; sizes: number[]; admits: number };
  /** Install Portkey when missing, or run it only if it is installed. */
  portkey: 'install' | 'if-installed';
  /** Hard limit for the whole run, ms: past it the bench stops its children and exits 1. */
  deadlineMs: number;
  /** The scale phase (tollgate on Postgres; see phases/scale.ts): short runs, one target after another. */
  scale: ScalePlan;
}

/** The scale phase: open-loop `rates` for `ms` each, then closed loop, per target; Ledger.admit timed `admits` times. */
export interface ScalePlan {
  rates: number[];
  ms: number;
  warmup: { rps: number; ms: number };
  closedLoop: { connections: number; durationS: number };
  admits: number;
}

const instant: Variant = { delayMs: 0, chunks: 20, intervalMs: 10 };

export const FULL: Plan = {
  mode: 'full',
  rounds: 2,
  warmup: { rps: 1000, ms: 3000 },
  openLoop: {
    rates: [100, 500, 1000, 2000],
    ms: 30_000,
    delayedRate: 1000,
    delayed: { delayMs: 50, chunks: 20, intervalMs: 10 },
    instant,
  },
  closedLoop: { connections: 64, durationS: 10 },
  stream: { ratePerS: 100, count: 500, variant: { delayMs: 0, chunks: 20, intervalMs: 10 } },
  concurrent: { streams: 1000, ratePerS: 1000, variant: { delayMs: 0, chunks: 40, intervalMs: 100 } },
  ledger: { settleMs: 5000, sizes: [0, 1_000_000, 10_000_000], admits: 2000 },
  portkey: 'install',
  deadlineMs: 80 * 60_000,
  scale: {
    rates: [500, 1000],
    ms: 15_000,
    warmup: { rps: 500, ms: 2000 },
    closedLoop: { connections: 64, durationS: 10 },
    admits: 2000,
  },
};

export const SMOKE: Plan = {
  mode: 'smoke',
  rounds: 1,
  warmup: { rps: 100, ms: 300 },
  openLoop: {
    rates: [50, 100],
    ms: 1000,
    delayedRate: 50,
    delayed: { delayMs: 50, chunks: 5, intervalMs: 10 },
    instant: { delayMs: 0, chunks: 5, intervalMs: 10 },
  },
  closedLoop: { connections: 8, durationS: 1 },
  stream: { ratePerS: 20, count: 20, variant: { delayMs: 0, chunks: 5, intervalMs: 10 } },
  concurrent: { streams: 50, ratePerS: 200, variant: { delayMs: 0, chunks: 5, intervalMs: 50 } },
  ledger: { settleMs: 500, sizes: [0, 10_000], admits: 200 },
  portkey: 'if-installed',
  deadlineMs: 180_000,
  scale: {
    rates: [50],
    ms: 1000,
    warmup: { rps: 50, ms: 300 },
    closedLoop: { connections: 8, durationS: 1 },
    admits: 100,
  },
};

/**
 * `--only compare`: direct, tollgate and tollgate at another revision in the same rounds — 2 rounds
 * × 100 / 500 / 1,000 / 2,000 RPS × 15 s, max throughput 10 s and 200 streams per target and
 * round, no delayed-upstream scenario: about 8 minutes.
 */
export const COMPARE: Plan = {
  ...FULL,
  openLoop: { ...FULL.openLoop, rates: [100, 500, 1000, 2000], ms: 15_000, delayedRate: 0 },
  stream: { ...FULL.stream, count: 200 },
  portkey: 'if-installed',
  deadlineMs: 15 * 60_000,
};

/** `--only scale`: the scale phase alone (about 5 minutes). */
export const SCALE_ONLY: Plan = { ...FULL, deadlineMs: 15 * 60_000 };
/** `--only reports`: loading the 10M-row ledgers the first time takes most of it (bench/reports/). */
export const REPORTS_ONLY: Plan = { ...FULL, deadlineMs: 180 * 60_000 };

/** Every upstream variant the plan uses (tollgate must price each as a model). */
export const variantsOf = (p: Plan): Variant[] => [
  p.openLoop.instant,
  p.openLoop.delayed,
  p.stream.variant,
  p.concurrent.variant,
];
