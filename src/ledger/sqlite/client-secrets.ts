import type Database from 'better-sqlite3';
import type { ClientSecretRecord, ClientSecretRefusal, ClientSecretStore } from '../port.js';
import type { LedgerQueue } from './queue.js';

const COLUMNS = `hash, company_id AS companyId, key_id AS keyId, user_id AS userId, role, jwt_session_id AS jwtSessionId,
                 model, session, created_at AS createdAt, expires_at AS expiresAt`;

/**
 * `ClientSecretStore` on the ledger's SQLite file (table `realtime_client_secrets`). One process
 * owns the file and every call runs on the ledger's `LedgerQueue`, so a redeem's read and its
 * `used_at` write are one step no other redeem can interleave with.
 */
export class SqliteClientSecrets implements ClientSecretStore {
  private readonly insert: Database.Statement;
  private readonly select: Database.Statement;
  private readonly use: Database.Statement;
  private readonly expired: Database.Statement;

  constructor(
    sqlite: Database.Database,
    private readonly queue: LedgerQueue,
  ) {
    this.insert = sqlite.prepare(
      `INSERT INTO realtime_client_secrets (hash, company_id, key_id, user_id, role, jwt_session_id, model, session, created_at, expires_at)
       VALUES (@hash, @companyId, @keyId, @userId, @role, @jwtSessionId, @model, @session, @createdAt, @expiresAt)`,
    );
    this.select = sqlite.prepare(`SELECT ${COLUMNS}, used_at AS usedAt FROM realtime_client_secrets WHERE hash = ?`);
    this.use = sqlite.prepare('UPDATE realtime_client_secrets SET used_at = ? WHERE hash = ? AND used_at IS NULL');
    this.expired = sqlite.prepare('DELETE FROM realtime_client_secrets WHERE expires_at < ?');
  }

  add(secret: ClientSecretRecord): Promise<void> {
    return this.queue.run(() => {
      this.insert.run(secret);
    });
  }

  redeem(hash: string, now: Date): Promise<ClientSecretRecord | ClientSecretRefusal> {
    const at = now.toISOString();
    return this.queue.run(() => {
      const row = this.select.get(hash) as (ClientSecretRecord & { usedAt: string | null }) | undefined;
      if (!row) return 'unknown';
      if (row.usedAt !== null) return 'used';
      if (row.expiresAt <= at) return 'expired';
      this.use.run(at, hash);
      const { usedAt: _, ...secret } = row;
      return secret;
    });
  }

  purge(before: Date): Promise<number> {
    return this.queue.run(() => this.expired.run(before.toISOString()).changes);
  }
}
