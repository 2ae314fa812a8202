/**
 * tollgate's ledger alone, in child processes pinned to the proxy core: settle throughput
 * (`Ledger.admit` + `Ledger.settle` pairs per second on a file DB) and admission time against
 * ledger size (see `bench/ledger/*-main.ts`).
 */
import { join } from 'node:path';
import type { Plan } from '../lib/plan.js';
import { firstMessage, spawnPinned, waitExit } from '../lib/proc.js';
import type { Env } from '../targets/start.js';

export interface SettleResult {
  pairs: number;
  ms: number;
  /** admit + settle pairs per second. */
  pairsPerS: number;
  /** Mean µs per call. */
  admitUs: number;
  settleUs: number;
}

export interface AdmissionSize {
  /** Requests in the ledger (each with one debit). */
  rows: number;
  /** Time to bulk-load the rows added for this size, ms. */
  loadMs: number;
  /** [p50, p99], ms. */
  admitMs: [number, number];
  settleMs: [number, number];
}

async function runChild<T>(env: Env, script: string, args: string[], name: string, timeoutMs: number): Promise<T> {
  const child = spawnPinned(process.execPath, ['--import', 'tsx', join(env.root, script), ...args], {
    core: env.pin ? 0 : undefined,
    logFile: join(env.work, `${name}.log`),
    ipc: true,
    cwd: env.root,
  });
  try {
    return await firstMessage<T>(child, timeoutMs, name);
  } finally {
    if ((await waitExit(child, 10_000)) === null) child.kill('SIGKILL');
  }
}

export const settleThroughput = (env: Env, plan: Plan): Promise<SettleResult> =>
  runChild(
    env,
    'bench/ledger/settle-main.ts',
    ['--db', join(env.work, 'settle.db'), '--ms', String(plan.ledger.settleMs), '--max', '2000000'],
    'ledger-settle',
    plan.ledger.settleMs + 60_000,
  );

export const admissionScaling = async (env: Env, plan: Plan): Promise<AdmissionSize[]> =>
  (
    await runChild<{ sizes: AdmissionSize[] }>(
      env,
      'bench/ledger/admission-main.ts',
      [
        '--db',
        join(env.work, 'admission.db'),
        '--sizes',
        plan.ledger.sizes.join(','),
        '--admits',
        String(plan.ledger.admits),
      ],
      'ledger-admission',
      20 * 60_000,
    )
  ).sizes;
