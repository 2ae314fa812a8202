import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storedEndUser } from '../src/attribution/end-user.js';
import { startTollgate, type Tollgate } from './support/harness.js';
import type { ScriptedUpstream } from './support/scripted-upstream.js';
import { chatOf, maxTokensUpstream } from './support/usage-upstream.js';

/**
 * Spend tags and end users in the reports people read: the read API (filters, groupings, the
 * request log, the CSV export, and one company never seeing another's tags or end users) and the
 * CLI's usage, history and export, on requests sent through the proxy with the SDK.
 */

const CLI = ['--import', 'tsx', join(import.meta.dirname, '../src/cli.ts')];

let upstream: ScriptedUpstream;
let t: Tollgate;
/** acme stores end users hashed: the id as the ledger keeps it. */
let hashed: (id: string) => string;

beforeAll(async () => {
  upstream = await maxTokensUpstream();
  t = await startTollgate({
    upstreamUrl: upstream.url,
    companies: {
      acme: {
        allocations: [{ id: 'acme-g', tokens: 1_000_000 }],
        keys: [{ id: 'acme-web' }, { id: 'acme-batch' }, { id: 'acme-admin', role: 'admin' }],
        endUsers: { store: 'hashed' },
        tags: { fromMetadata: ['team'] },
      },
      globex: {
        allocations: [{ id: 'globex-g', tokens: 1_000_000 }],
        keys: [{ id: 'globex-admin', role: 'admin' }],
      },
    },
  });
  hashed = (id) => storedEndUser('acme', t.server.runtime.config.companies.acme!, id);
  const send = (key: string, maxTokens: number, tags: string | null, extra: Record<string, unknown> = {}) =>
    t
      .client(t.keys[key])
      .chat.completions.create(chatOf(maxTokens, extra), tags === null ? {} : { headers: { 'x-tollgate-tags': tags } });
  // Metered 5 + max_tokens each.
  await send('acme-web', 5, 'search, beta', { safety_identifier: 'u-1' }); // 10
  await send('acme-web', 15, 'search', { user: 'u-1', metadata: { team: 'growth' } }); // 20
  await send('acme-batch', 35, null, { safety_identifier: 'u-2' }); // 40
  await send('acme-batch', 75, 'nightly'); // 80
  await send('globex-admin', 155, 'search, globex-secret', { user: 'u-1' }); // 160
  await t.settled();
}, 60_000);
afterAll(async () => {
  await t?.close();
  await upstream?.close();
});

async function get(key: string, path: string, query: Record<string, string> = {}) {
  const qs = new URLSearchParams(query).toString();
  return fetch(`${t.url}${path}${qs ? `?${qs}` : ''}`, { headers: { authorization: `Bearer ${t.keys[key]}` } });
}
async function usage(key: string, query: Record<string, string>) {
  const res = await get(key, '/tollgate/v1/usage', query);
  expect(res.status, JSON.stringify(query)).toBe(200);
  const body = (await res.json()) as {
    data: { key: string | null; company_id: string | null; total_tokens: number }[];
  };
  return body.data.map((r) => [r.company_id, r.key, r.total_tokens]);
}

describe('read API', () => {
  it('groups by tag (a request in each of its tags, untagged ones under null) and filters by tag', async () => {
    expect(await usage('acme-admin', { group_by: 'tag' })).toEqual([
      [null, null, 40],
      [null, 'beta', 10],
      [null, 'nightly', 80],
      [null, 'search', 30],
      [null, 'team:growth', 20],
    ]);
    expect(await usage('acme-admin', { tag: 'search' })).toEqual([[null, null, 30]]);
    expect(await usage('acme-admin', { tag: 'team:growth', group_by: 'model' })).toEqual([[null, 'gpt-4o-mini', 20]]);
  });

  it('groups by end user per company, and end_user= takes the id as the app sends it', async () => {
    // Ordered by the id as stored (here its hash).
    const byId = (a: unknown[], b: unknown[]) => String(a[1]).localeCompare(String(b[1]));
    expect(await usage('acme-admin', { group_by: 'end_user' })).toEqual(
      [
        ['acme', null, 80],
        ['acme', hashed('u-1'), 30],
        ['acme', hashed('u-2'), 40],
      ].sort((a, b) => (a[1] === null ? -1 : b[1] === null ? 1 : byId(a, b))),
    );
    expect(await usage('acme-admin', { end_user: 'u-1' })).toEqual([[null, null, 30]]);
    expect(await usage('globex-admin', { end_user: 'u-1', group_by: 'end_user' })).toEqual([['globex', 'u-1', 160]]);
  });

  it("never shows one company another's tags or end users", async () => {
    const acmeTags = (await usage('acme-admin', { group_by: 'tag' })).map((r) => r[1]);
    expect(acmeTags).not.toContain('globex-secret');
    expect(await usage('acme-admin', { tag: 'globex-secret' })).toEqual([[null, null, 0]]);
    expect(await usage('globex-admin', { group_by: 'tag' })).toEqual([
      [null, 'globex-secret', 160],
      [null, 'search', 160],
    ]);
    // A member key sees its own rows only, whatever the tag.
    expect(await usage('acme-batch', { group_by: 'tag' })).toEqual([
      [null, null, 40],
      [null, 'nightly', 80],
    ]);
    expect(await usage('acme-batch', { tag: 'search' })).toEqual([[null, null, 0]]);
    const res = await get('acme-admin', '/tollgate/v1/usage', { company: 'globex', tag: 'search' });
    expect(res.status).toBe(403);
  });

  it('carries end_user and tags on the request log and in the CSV export, both filterable', async () => {
    const res = await get('acme-admin', '/tollgate/v1/requests', { tag: 'search' });
    const { data } = (await res.json()) as {
      data: { end_user: string | null; tags: string[]; total_tokens: number }[];
    };
    expect(data.map((r) => [r.end_user, r.tags, r.total_tokens])).toEqual([
      [hashed('u-1'), ['search', 'team:growth'], 20],
      [hashed('u-1'), ['search', 'beta'], 10],
    ]);
    const csv = await (await get('acme-admin', '/tollgate/v1/export.csv', { end_user: 'u-1' })).text();
    const [header, ...lines] = csv.trimEnd().split('\r\n');
    expect(header!.split(',').slice(-2)).toEqual(['End User', 'Tags']);
    expect(lines.map((l) => l.slice(l.indexOf(hashed('u-1'))))).toEqual([
      `${hashed('u-1')},"[""search"",""beta""]"`,
      `${hashed('u-1')},"[""search"",""team:growth""]"`,
    ]);
  });

  it('refuses an unknown group_by naming the choices, tag and end_user among them', async () => {
    const res = await get('acme-admin', '/tollgate/v1/usage', { group_by: 'tags' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { param: string; message: string } };
    expect(body.error.param).toBe('group_by');
    expect(body.error.message).toContain('tag, end_user');
  });
});

describe('CLI', () => {
  const ledgerPath = () => t.server.runtime.config.ledger.path!;
  const tollgate = (args: string[]) => {
    const r = spawnSync(process.execPath, [...CLI, ...args, '--ledger', ledgerPath()], {
      encoding: 'utf8',
      env: { ...process.env, LOG_LEVEL: 'silent' },
      timeout: 30_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return r.stdout;
  };

  it('usage groups by tag and filters by tag and end user', () => {
    const rows = JSON.parse(tollgate(['usage', '--company', 'acme', '--group-by', 'tag', '--json'])) as {
      key: string | null;
      totalTokens: number;
    }[];
    expect(rows.map((r) => [r.key, r.totalTokens])).toEqual([
      [null, 40],
      ['beta', 10],
      ['nightly', 80],
      ['search', 30],
      ['team:growth', 20],
    ]);
    const csv = tollgate(['usage', '--group-by', 'end_user', '--tag', 'search', '--csv']).split('\r\n');
    expect(csv[0]).toMatch(/^company,end_user,requests,/);
    expect(csv.slice(1, -1).map((l) => l.split(',').slice(0, 3))).toEqual([
      ['acme', hashed('u-1'), '2'],
      ['globex', 'u-1', '1'],
    ]);
  });

  it('hashes --end-user exactly as the proxy stored it, for the --company of a config that keeps ids hashed', {
    timeout: 120_000,
  }, () => {
    // The CLI reads the companies' end-user settings from a config (with --ledger alone it cannot know them).
    const config = join(dirname(ledgerPath()), 'cli-end-users.json');
    const company = (name: string, extra: object = {}) => ({
      name,
      allocations: [{ id: `${name}-g`, tokens: 1 }],
      ...extra,
    });
    writeFileSync(
      config,
      JSON.stringify({
        ledger: { path: ledgerPath() },
        companies: { acme: company('acme', { endUsers: { store: 'hashed' } }), globex: company('globex') },
      }),
    );
    const cli = (args: string[]) =>
      spawnSync(process.execPath, [...CLI, ...args, '--config', config], {
        encoding: 'utf8',
        env: { ...process.env, LOG_LEVEL: 'silent' },
        timeout: 30_000,
      });
    const usage = cli(['usage', '--company', 'acme', '--end-user', 'u-1', '--json']);
    expect(usage.stderr).toBe('');
    expect(
      (JSON.parse(usage.stdout) as { requests: number; totalTokens: number }[]).map((r) => [r.requests, r.totalTokens]),
    ).toEqual([[2, 30]]);
    const history = cli(['history', '--company', 'acme', '--end-user', 'u-2', '--csv']);
    expect(history.stdout.split('\r\n').slice(1, -1)).toHaveLength(1);
    expect(history.stdout).toContain(hashed('u-2'));
    // Stored as sent for globex: the same id matches its own rows only.
    const plain = cli(['usage', '--company', 'globex', '--end-user', 'u-1', '--json']);
    expect((JSON.parse(plain.stdout) as { totalTokens: number }[]).map((r) => r.totalTokens)).toEqual([160]);
    // Which company's hash? Refused, naming the choice, rather than matching nothing.
    const ambiguous = cli(['usage', '--end-user', 'u-1']);
    expect(ambiguous.status).toBe(2);
    expect(ambiguous.stderr).toContain('--end-user needs --company: acme stores end-user ids hashed');
  });

  it('history and export carry tags and the end user and filter by them', () => {
    const history = tollgate(['history', '--tag', 'search', '--csv']).split('\r\n');
    expect(history[0]).toContain(',end_user,tags,');
    expect(history.slice(1, -1)).toHaveLength(3);
    expect(tollgate(['history', '--end-user', 'u-1', '--company', 'globex'])).toContain('search, globex-secret');
    const csv = tollgate(['export', '--tag', 'nightly']).trimEnd().split('\r\n');
    expect(csv).toHaveLength(2);
    expect(csv[1]).toMatch(/,,"\[""nightly""\]"$/);
  });
});
