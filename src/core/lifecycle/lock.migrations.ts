import type { Kysely } from 'kysely';
import type { MigrationSet } from '../db/migrations.js';

/** Lease rows of the lease lock manager (lock.sqlite.ts). Portable; harmless on PostgreSQL. */
export interface LocksTable {
  name: string;
  /** Token of the acquisition holding the lease (host, pid and a random part). */
  holder: string;
  /** Unix ms after which anyone may take the lease over. */
  expires_at: number;
}

export interface LockTables {
  locks: LocksTable;
}

export const lockMigrations: MigrationSet = {
  name: 'locks',
  migrations: {
    '0001_locks': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('locks')
          .addColumn('name', 'text', (col) => col.primaryKey())
          .addColumn('holder', 'text', (col) => col.notNull())
          .addColumn('expires_at', 'bigint', (col) => col.notNull())
          .execute();
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropTable('locks').execute();
      },
    },
  },
};
