import { defineConfig } from 'drizzle-kit';

/** The Postgres ledger's migrations (`npm run db:generate:postgres`); the SQLite ones use drizzle.config.ts. */
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/ledger/postgres/schema.ts',
  out: './migrations/postgres',
});
