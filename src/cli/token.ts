import { readFileSync } from 'node:fs';
import { importPKCS8, SignJWT } from 'jose';
import { ConfigError, configPath, loadConfig } from '../config/load.js';

/**
 * `tollgate token mint`: mints a user token (JWT) for a company whose `jwt` config it reads.
 * HS* companies are signed with the secret from the env var the config names; asymmetric ones need
 * `--private-key <PKCS#8 PEM file>`. Claims: `sub`, `company`, `role`, optional `sid`, `iat`, `exp`
 * (now + `--ttl` seconds, default 3600). Prints the token alone on stdout.
 */
export async function tokenMintCommand(opts: {
  config?: string;
  company: string;
  user: string;
  role: string;
  session?: string;
  ttl: string;
  privateKey?: string;
}): Promise<void> {
  const fail = (msg: string): never => {
    process.stderr.write(`${msg}\n`);
    process.exit(1);
  };
  let config;
  try {
    config = loadConfig(configPath(opts.config));
  } catch (err) {
    return fail(err instanceof ConfigError ? err.message : String(err));
  }
  const jwt =
    config.companies[opts.company]?.jwt ?? fail(`company "${opts.company}" has no "jwt" section in the config`);
  if (opts.role !== 'member' && opts.role !== 'admin') fail('--role: expected member or admin');
  const ttl = Number(opts.ttl);
  if (!Number.isInteger(ttl) || ttl <= 0) fail('--ttl: expected a positive number of seconds');
  const alg = jwt.algorithms[0]!;
  let key: Uint8Array | CryptoKey;
  if (jwt.secretEnv) {
    const secret =
      process.env[jwt.secretEnv] ??
      fail(`environment variable ${jwt.secretEnv} (the company's HMAC secret) is not set`);
    key = new TextEncoder().encode(secret);
  } else {
    const file =
      opts.privateKey ?? fail(`company "${opts.company}" verifies ${alg} tokens: pass --private-key <PKCS#8 PEM file>`);
    key = await importPKCS8(readFileSync(file, 'utf8'), alg);
  }
  let builder = new SignJWT({ company: opts.company, role: opts.role, ...(opts.session ? { sid: opts.session } : {}) })
    .setProtectedHeader({ alg, typ: 'JWT' })
    .setSubject(opts.user)
    .setIssuedAt()
    .setExpirationTime(`${ttl}s`);
  if (jwt.issuer) builder = builder.setIssuer(jwt.issuer);
  if (jwt.audience) builder = builder.setAudience(jwt.audience);
  process.stdout.write(`${await builder.sign(key)}\n`);
}
