import type { ClientSecretRecord, ClientSecretRefusal, ClientSecretStore } from '../port.js';
import type { Queryable } from './db.js';

const COLUMNS = `hash, company_id AS "companyId", key_id AS "keyId", user_id AS "userId", role,
                 jwt_session_id AS "jwtSessionId", model, session, created_at AS "createdAt", expires_at AS "expiresAt"`;

/**
 * `ClientSecretStore` on the Postgres ledger (table `realtime_client_secrets`), shared by every
 * replica. A redeem is one conditional `UPDATE … WHERE used_at IS NULL AND expires_at > now
 * RETURNING`: the row lock makes exactly one of any concurrent redeems (on any replica) see the row
 * unused and mark it; the others match nothing, and a read then says why.
 */
export class PgClientSecrets implements ClientSecretStore {
  constructor(private readonly pool: Queryable) {}

  async add(s: ClientSecretRecord): Promise<void> {
    await this.pool.query(
      `INSERT INTO realtime_client_secrets (hash, company_id, key_id, user_id, role, jwt_session_id, model, session, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [s.hash, s.companyId, s.keyId, s.userId, s.role, s.jwtSessionId, s.model, s.session, s.createdAt, s.expiresAt],
    );
  }

  async redeem(hash: string, now: Date): Promise<ClientSecretRecord | ClientSecretRefusal> {
    const at = now.toISOString();
    const { rows } = await this.pool.query<ClientSecretRecord>(
      `UPDATE realtime_client_secrets SET used_at = $2
        WHERE hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING ${COLUMNS}`,
      [hash, at],
    );
    if (rows[0]) return rows[0];
    const why = await this.pool.query<{ used: boolean }>(
      'SELECT used_at IS NOT NULL AS used FROM realtime_client_secrets WHERE hash = $1',
      [hash],
    );
    const row = why.rows[0];
    return !row ? 'unknown' : row.used ? 'used' : 'expired';
  }

  async purge(before: Date): Promise<number> {
    const { rowCount } = await this.pool.query('DELETE FROM realtime_client_secrets WHERE expires_at < $1', [
      before.toISOString(),
    ]);
    return rowCount ?? 0;
  }
}
