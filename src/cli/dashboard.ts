import { ConfigError, configPath, loadConfig } from '../config/load.js';
import { DashboardSessions, sessionSecret, type SessionSubject } from '../dashboard/session.js';

/**
 * `tollgate dashboard link --company acme [--user alice] [--role admin]` (or `--operator ops`):
 * prints a one-time sign-in URL for the dashboard, valid for `dashboard.linkMinutes`. It is signed
 * with the secret in the env var `dashboard.sessionSecretEnv` names, which the running tollgate
 * must share; without it the command refuses (a random secret could not be verified by the server).
 * Exits 1 naming the problem.
 */
export async function dashboardLinkCommand(opts: {
  config?: string;
  company?: string;
  user?: string;
  role?: string;
  operator?: string;
  baseUrl?: string;
}): Promise<void> {
  const fail = (message: string): never => {
    process.stderr.write(`${message}\n`);
    process.exit(1);
  };
  const file = configPath(opts.config);
  let config;
  try {
    config = loadConfig(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return fail(err.message);
  }
  const { key, ephemeral } = sessionSecret(config);
  if (ephemeral) {
    const env = config.dashboard.sessionSecretEnv;
    fail(
      env
        ? `${env} is not set: export the same secret tollgate runs with (e.g. export ${env}=$(openssl rand -hex 32), then restart tollgate with it)`
        : `${file} names no dashboard.sessionSecretEnv: add "dashboard": { "sessionSecretEnv": "TOLLGATE_SESSION_SECRET" }, export that variable and start tollgate with it`,
    );
  }
  let subject: SessionSubject;
  if (opts.operator !== undefined) {
    if (opts.company !== undefined) fail('give either --company or --operator');
    if (!config.operators.some((o) => o.id === opts.operator && !o.revoked))
      fail(`no active operator "${opts.operator}" in ${file}`);
    subject = { kind: 'operator', operatorId: opts.operator! };
  } else {
    if (opts.company === undefined) return fail('give --company <id> (or --operator <id>)');
    if (!Object.hasOwn(config.companies, opts.company))
      fail(
        `no company "${opts.company}" in ${file} (companies: ${Object.keys(config.companies).join(', ') || 'none'})`,
      );
    const role = opts.role ?? (opts.user === undefined ? 'admin' : 'member');
    if (role !== 'member' && role !== 'admin') fail(`--role: expected member or admin, got "${role}"`);
    if (role === 'member' && opts.user === undefined)
      fail('a member link needs --user <id> (a member sees only its own usage)');
    subject = {
      kind: 'principal',
      companyId: opts.company,
      keyId: null,
      userId: opts.user ?? null,
      role: role as 'member' | 'admin',
      sessionId: null,
    };
  }
  const minutes = { session: config.dashboard.sessionMinutes, link: config.dashboard.linkMinutes };
  const { token, expiresAt } = await new DashboardSessions(key, () => minutes).link(subject, new Date());
  const host = config.listen.host.includes(':')
    ? `[${config.listen.host}]`
    : config.listen.host === '0.0.0.0'
      ? '127.0.0.1'
      : config.listen.host;
  const base = (opts.baseUrl ?? `http://${host}:${config.listen.port}`).replace(/\/+$/, '');
  process.stdout.write(`${base}/dashboard/link?token=${token}\n`);
  process.stderr.write(
    `one-time sign-in link, valid until ${expiresAt.toISOString()} (${config.dashboard.linkMinutes} min)\n`,
  );
}
