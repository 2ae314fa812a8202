/**
 * A tollgate ledger on a SQLite file, set up as `startServer` sets it up (migrations, WAL,
 * `synchronous = NORMAL`, grants mirrored from a config), for the ledger micro-benchmarks; and the
 * request facts, holds and outcomes those benchmarks feed it.
 */
import { mintKey } from '../../src/auth/api-key.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { grantTerms } from '../../src/config/grants.js';
import type { HoldRequest, Outcome, RequestFacts } from '../../src/ledger/port.js';
import { openLedgerDb, type LedgerDb } from '../../src/ledger/sqlite/db.js';
import { syncGrants } from '../../src/ledger/sqlite/grant-sync.js';
import { SyncLedger } from '../../src/ledger/sqlite/ledger.js';
import { newRequestId } from '../../src/proxy/admission.js';

export const COMPANY = 'bench';
export const GRANT = 'bench-grant';
export const KEY_ID = 'bench-key';
export const MODEL = 'gpt-4o-mini';

export interface BenchLedger extends LedgerDb {
  /** The SQLite adapter's synchronous operations: the engine's own cost, without group commit. */
  ledger: SyncLedger;
  config: Config;
}

/** The bench's config: one company with one key and a 10^15-token grant; `gpt-4o-mini` priced. */
export function benchConfig(ledgerPath: string): Config {
  const key = mintKey();
  return parseConfig({
    listen: { host: '127.0.0.1', port: 0 },
    ledger: { path: ledgerPath },
    companies: {
      [COMPANY]: {
        name: 'Bench',
        keys: [{ id: KEY_ID, sha256: key.sha256, prefix: key.prefix }],
        allocations: [{ id: GRANT, tokens: 1_000_000_000_000_000 }],
      },
    },
    prices: { [MODEL]: { input: 0.15, cachedInput: 0.075, output: 0.6, source: 'bench', date: '2025-08-07' } },
  });
}

/** Opens (creating) the ledger at `path` and mirrors the bench config's grants into it. */
export function openBenchLedger(path: string): BenchLedger {
  const config = benchConfig(path);
  const opened = openLedgerDb(path);
  const ledger = new SyncLedger(opened.sqlite);
  const now = new Date();
  const terms = grantTerms(config, now);
  syncGrants(opened.db, terms.grants, terms.purchases, now);
  return { ...opened, ledger, config };
}

/** A new request's facts, as admission writes them (with tollgate's own time-ordered ids). */
export const facts = (): RequestFacts => ({
  id: newRequestId(),
  companyId: COMPANY,
  keyId: KEY_ID,
  endpoint: '/v1/chat/completions',
  requestedModel: MODEL,
  stream: false,
  estimatedPromptTokens: 24,
});

/** The hold a 24-token prompt with `max_completion_tokens: 64` asks for. */
export const WANT: HoldRequest = { minTokens: 24, maxTokens: 88, clamp: false, maxPicoPerToken: 600_000 };

/** A successful answer's outcome with usage from the upstream (24 + 16 tokens). */
export const OUTCOME: Outcome = {
  httpStatus: 200,
  usage: { inputTokens: 24, cachedInputTokens: 0, outputTokens: 16, reasoningTokens: 0, totalTokens: 40 },
  usageSource: 'upstream',
  meteredTokens: 40,
  costMicroUsd: 13,
  returnedModel: 'gpt-4o-mini-2024-07-18',
  latencyMs: 1.2,
  ttfbMs: 1.1,
  upstreamRequestId: 'req_bench',
};
