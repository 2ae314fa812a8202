import { readFileSync, writeFileSync } from 'node:fs';
import { mintKey } from '../auth/api-key.js';
import { configPath } from '../config/load.js';

/**
 * `tollgate keys create`: mints a company key, prints it once, and prints the config entry
 * (hash and display prefix, never the key) to paste under `companies.<company>.keys`, or, with
 * `--operator`, under the top-level `operators`.
 */
export function keysCreateCommand(opts: { company?: string; operator?: boolean; role?: string; id: string; expires?: string; note?: string }): void {
  if ((opts.company === undefined) === (opts.operator !== true)) {
    process.stderr.write('give either --company <id> (a company key) or --operator (an operator key)\n');
    process.exit(1);
  }
  if (opts.role !== undefined && (opts.operator || !['member', 'admin'].includes(opts.role))) {
    process.stderr.write(`--role: expected member or admin, for a company key; got "${opts.role}"\n`);
    process.exit(1);
  }
  if (opts.expires !== undefined && Number.isNaN(Date.parse(opts.expires))) {
    process.stderr.write(`--expires: expected an ISO 8601 instant such as 2027-01-01T00:00:00Z, got "${opts.expires}"\n`);
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
  if (opts.operator) {
    process.stdout.write(
      `Operator key "${opts.id}" (shown once, store it now):\n\n  ${minted.key}\n\n` + `Add this entry to "operators" in proxy.config.json:\n\n${JSON.stringify(entry, null, 2)}\n`,
    );
    return;
  }
  process.stdout.write(
    `API key for company "${opts.company}" (shown once, store it now):\n\n  ${minted.key}\n\n` +
      `Add this entry to companies.${opts.company}.keys in proxy.config.json:\n\n${JSON.stringify(entry, null, 2)}\n`,
  );
}

/**
 * `tollgate keys revoke --id <key id>`: sets `"revoked": true` on that key (a company key or an
 * operator key) in the config file and writes it back (2-space JSON). A running tollgate picks the
 * change up by hot reload; the key is refused from then on. Exits 1 when no key has that id.
 */
export function keysRevokeCommand(opts: { id: string; config?: string }): void {
  const file = configPath(opts.config);
  let raw: { companies?: Record<string, { keys?: { id: string; revoked?: boolean }[] }>; operators?: { id: string; revoked?: boolean }[] };
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as typeof raw;
  } catch (err) {
    process.stderr.write(`cannot read ${file}: ${(err as Error).message}\n`);
    process.exit(1);
  }
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
