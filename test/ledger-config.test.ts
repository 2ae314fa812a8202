import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../src/config/load.js';
import { describeLedger, locationOf } from '../src/ledger/open.js';

/** The config's `ledger` section: a SQLite `path` or a Postgres `url`, exactly one; `$TOLLGATE_DATABASE_URL` when neither. */
const base = { companies: {}, prices: {} };
const saved = process.env.TOLLGATE_DATABASE_URL;
afterEach(() => {
  if (saved === undefined) delete process.env.TOLLGATE_DATABASE_URL;
  else process.env.TOLLGATE_DATABASE_URL = saved;
});

describe('ledger location', () => {
  it('takes a path or a postgres URL, and refuses both or another scheme', () => {
    expect(parseConfig({ ...base, ledger: { path: './x.db' } }).ledger).toMatchObject({ path: './x.db' });
    expect(parseConfig({ ...base, ledger: { url: 'postgres://u:p@db:5432/t', lapseMs: 5000 } }).ledger).toMatchObject({
      url: 'postgres://u:p@db:5432/t',
      lapseMs: 5000,
    });
    expect(() => parseConfig({ ...base, ledger: { path: './x.db', url: 'postgres://db/t' } })).toThrow(ConfigError);
    expect(() => parseConfig({ ...base, ledger: { path: './x.db', url: 'postgres://db/t' } })).toThrow(
      'give either "path" (a SQLite file) or "url" (Postgres), not both',
    );
    expect(() => parseConfig({ ...base, ledger: { url: 'mysql://db/t' } })).toThrow('must be a postgres:// URL');
  });

  it('falls back to $TOLLGATE_DATABASE_URL, then to ./data/ledger.db', () => {
    delete process.env.TOLLGATE_DATABASE_URL;
    expect(parseConfig(base).ledger).toMatchObject({ path: './data/ledger.db' });
    process.env.TOLLGATE_DATABASE_URL = 'postgresql://db/tollgate';
    expect(parseConfig(base).ledger).toMatchObject({ url: 'postgresql://db/tollgate' });
    expect(parseConfig({ ...base, ledger: { path: './x.db' } }).ledger).toMatchObject({ path: './x.db' });
  });

  it('bounds every wait on the ledger, with defaults, and keeps a spool of what it cannot take', () => {
    const { ledger } = parseConfig({ ...base, ledger: { path: './x.db', timeouts: { admitMs: 800 } } });
    expect(ledger.timeouts).toEqual({
      connectMs: 5000,
      statementMs: 10000,
      idleInTransactionMs: 30000,
      admitMs: 800,
      settleMs: 5000,
      readyMs: 1000,
    });
    expect(ledger.spool).toEqual({ maxEntries: 10000 });
    expect(() => parseConfig({ ...base, ledger: { timeouts: { readyMs: 0 } } })).toThrow(ConfigError);
    expect(() => parseConfig({ ...base, ledger: { timeouts: { statementMs: 'soon' } } })).toThrow(ConfigError);
  });

  it('names a Postgres ledger without its password', () => {
    expect(describeLedger(locationOf('postgres://tollgate:s3cret@db:5432/t'))).toBe(
      'postgres://tollgate:***@db:5432/t',
    );
    expect(describeLedger(locationOf('./data/ledger.db'))).toBe('./data/ledger.db');
  });
});

describe('ledger retention beside the daily reconciliation', () => {
  const schedule = { reconciliation: { schedule: { at: '02:30', days: 7 } } };
  it('refuses raw rows kept for fewer days than the reconciliation compares, and takes enough', () => {
    expect(() => parseConfig({ ...base, ...schedule, ledger: { path: './x.db', retention: { rawDays: 5 } } })).toThrow(
      /reconciliation compares 7 days .* keep rawDays at 6 or more/,
    );
    expect(
      parseConfig({ ...base, ...schedule, ledger: { path: './x.db', retention: { rawDays: 6 } } }).ledger.retention,
    ).toMatchObject({ rawDays: 6 });
    expect(
      parseConfig({ ...base, ledger: { path: './x.db', retention: { rawDays: 1 } } }).ledger.retention,
    ).toMatchObject({ rawDays: 1 });
  });
});
