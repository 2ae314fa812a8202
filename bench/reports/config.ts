/** The config that serves the reports bench's ledger: its 20 companies (keys k1, k2 members, k3 admin), grants, one operator. */
import { mintKey } from '../../src/auth/api-key.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { COMPANIES, companyId, grantIdOf, keyIdOf } from './dataset.js';

/** Plaintext credentials of the bench config. */
export interface BenchKeys {
  /** `<company>-k<n>` → key. */
  keys: Record<string, string>;
  operator: string;
}

/** Mints the bench's keys. */
export function mintBenchKeys(): { keys: BenchKeys; hashes: Record<string, ReturnType<typeof mintKey>> } {
  const hashes: Record<string, ReturnType<typeof mintKey>> = {};
  for (let c = 0; c < COMPANIES; c++) for (let k = 0; k < 3; k++) hashes[keyIdOf(companyId(c), k)] = mintKey();
  hashes.operator = mintKey();
  const keys = Object.fromEntries(Object.entries(hashes).map(([id, m]) => [id, m.key]));
  return { keys: { keys, operator: keys.operator! }, hashes };
}

/** The bench config for `ledger` (a SQLite `path` or Postgres `url`), with these keys. */
export function benchReportsConfig(
  ledger: Record<string, unknown>,
  hashes: Record<string, ReturnType<typeof mintKey>>,
  upstream = 'http://127.0.0.1:9',
  models: string[] = [],
): Config {
  const price = { input: 0.15, cachedInput: 0.075, output: 0.6, source: 'bench', date: '2025-08-07' };
  const companies: Record<string, unknown> = {};
  for (let c = 0; c < COMPANIES; c++) {
    const id = companyId(c);
    companies[id] = {
      name: `Company ${c + 1}`,
      keys: [0, 1, 2].map((k) => {
        const m = hashes[keyIdOf(id, k)]!;
        return { id: keyIdOf(id, k), sha256: m.sha256, prefix: m.prefix, ...(k === 2 ? { role: 'admin' } : {}) };
      }),
      allocations: [{ id: grantIdOf(id), tokens: 1_000_000_000_000_000 }],
    };
  }
  const op = hashes.operator!;
  return parseConfig({
    listen: { host: '127.0.0.1', port: 0 },
    upstream: { baseUrl: upstream, apiKeyEnv: 'BENCH_UPSTREAM_KEY', connections: 128 },
    ledger,
    companies,
    operators: [{ id: 'bench-operator', sha256: op.sha256, prefix: op.prefix }],
    prices: Object.fromEntries(models.map((m) => [m, price])),
  });
}
