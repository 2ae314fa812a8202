import { readFileSync, writeFileSync } from 'node:fs';
import { mintKey } from '../auth/api-key.js';
import { ConfigError, configPath, parseConfig } from '../config/load.js';

type RawConfig = {
  companies?: Record<string, { keys?: Record<string, unknown>[] }>;
  operators?: Record<string, unknown>[];
};

/** Reads the config file as plain JSON (kept as written, defaults not filled in); exits 1 naming the problem. */
function readRaw(file: string): RawConfig {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as RawConfig;
  } catch (err) {
    process.stderr.write(`cannot read ${file}: ${(err as Error).message} (give the config with -c <file>)\n`);
    process.exit(1);
  }
}

/**
 * `tollgate keys create`: mints a company key, prints it once, and prints the config entry
 * (hash and display prefix, never the key) to paste under `companies.<company>.keys`, or, with
 * `--operator`, under the top-level `operators`. The company must exist in the config file
 * (`-c`, default as for `serve`); with `--write` the entry is added to that file (2-space JSON),
 * after checking the result is a valid config. Exits 1 on any refusal, writing nothing.
 */
export function keysCreateCommand(opts: {
  company?: string;
  operator?: boolean;
  role?: string;
  id: string;
  expires?: string;
  note?: string;
  config?: string;
  write?: boolean;
}): void {
  if ((opts.company === undefined) === (opts.operator !== true)) {
    process.stderr.write('give either --company <id> (a company key) or --operator (an operator key)\n');
    process.exit(1);
  }
  if (opts.role !== undefined && (opts.operator || !['member', 'admin'].includes(opts.role))) {
    process.stderr.write(`--role: expected member or admin, for a company key; got "${opts.role}"\n`);
    process.exit(1);
  }
  if (opts.expires !== undefined && Number.isNaN(Date.parse(opts.expires))) {
    process.stderr.write(
      `--expires: expected an ISO 8601 instant such as 2027-01-01T00:00:00Z, got "${opts.expires}"\n`,
    );
    process.exit(1);
  }
  const file = configPath(opts.config);
  const raw = readRaw(file);
  if (opts.company !== undefined && !Object.hasOwn(raw.companies ?? {}, opts.company)) {
    const known = Object.keys(raw.companies ?? {});
    process.stderr.write(
      `no company "${opts.company}" in ${file} (companies: ${known.length ? known.join(', ') : 'none'}); add it under "companies" first, or give another config with -c\n`,
    );
    process.exit(1);
  }
  const minted = mintKey();
  const entry = {
    id: opts.id,
    sha256: minted.sha256,
    prefix: minted.prefix,
    ...(opts.role ? { role: opts.role } : {}),
    ...(opts.expires ? { expiresAt: new Date(opts.expires).toISOString() } : {}),
    revoked: false,
    ...(opts.note ? { note: opts.note } : {}),
  };
  if (opts.write) {
    writeEntry(file, raw, opts.company, entry);
    const where = opts.company === undefined ? '"operators"' : `companies.${opts.company}.keys`;
    process.stdout.write(
      `${opts.operator ? `Operator key "${opts.id}"` : `API key for company "${opts.company}"`} (shown once, store it now):\n\n  ${minted.key}\n\nAdded to ${where} in ${file}; a running tollgate applies it by hot reload.\n`,
    );
    return;
  }
  if (opts.operator) {
    process.stdout.write(
      `Operator key "${opts.id}" (shown once, store it now):\n\n  ${minted.key}\n\n` +
        `Add this entry to "operators" in proxy.config.json:\n\n${JSON.stringify(entry, null, 2)}\n`,
    );
    return;
  }
  process.stdout.write(
    `API key for company "${opts.company}" (shown once, store it now):\n\n  ${minted.key}\n\n` +
      `Add this entry to companies.${opts.company}.keys in proxy.config.json:\n\n${JSON.stringify(entry, null, 2)}\n`,
  );
}

/** Adds `entry` to the company's keys (or to `operators`) in `file`, refusing a duplicate id or an invalid result. */
function writeEntry(file: string, raw: RawConfig, companyId: string | undefined, entry: Record<string, unknown>): void {
  const all = [...Object.values(raw.companies ?? {}).flatMap((c) => c.keys ?? []), ...(raw.operators ?? [])];
  if (all.some((k) => k.id === entry.id)) {
    process.stderr.write(`a key with id "${String(entry.id)}" is already in ${file}; choose another --id\n`);
    process.exit(1);
  }
  if (companyId === undefined) (raw.operators ??= []).push(entry);
  else (raw.companies![companyId]!.keys ??= []).push(entry);
  try {
    parseConfig(raw, file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\nnothing was written\n`);
    process.exit(1);
  }
  writeFileSync(file, `${JSON.stringify(raw, null, 2)}\n`);
}

/**
 * `tollgate keys revoke --id <key id>`: sets `"revoked": true` on that key (a company key or an
 * operator key) in the config file and writes it back (2-space JSON). A running tollgate picks the
 * change up by hot reload; the key is refused from then on. Exits 1 when no key has that id.
 */
export function keysRevokeCommand(opts: { id: string; config?: string }): void {
  const file = configPath(opts.config);
  const raw = readRaw(file);
  const entries = [...Object.values(raw.companies ?? {}).flatMap((c) => c.keys ?? []), ...(raw.operators ?? [])];
  const key = entries.find((k) => k.id === opts.id);
  if (!key) {
    process.stderr.write(`no key with id "${opts.id}" in ${file}\n`);
    process.exit(1);
  }
  key.revoked = true;
  writeFileSync(file, `${JSON.stringify(raw, null, 2)}\n`);
  process.stdout.write(`revoked key "${opts.id}" in ${file}\n`);
}
