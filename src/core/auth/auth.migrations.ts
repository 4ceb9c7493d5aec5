import { type Kysely } from 'kysely';
import type { MigrationSet } from '../db/migrations.js';
import { dialectOf, withIdColumn } from '../db/columns.js';

/** Users, API tokens and the settings table (which holds the cookie secret). */
export const authMigrations: MigrationSet = {
  name: 'auth',
  migrations: {
    '0001_users_tokens_settings': {
      async up(db: Kysely<unknown>) {
        const dialect = dialectOf(db);
        await withIdColumn(db.schema.createTable('users'), dialect)
          .addColumn('name', 'text', (col) => col.notNull().unique())
          .addColumn('role', 'text', (col) => col.notNull())
          .addColumn('password_hash', 'text', (col) => col.notNull())
          .addColumn('created_at', 'bigint', (col) => col.notNull())
          .execute();
        await withIdColumn(db.schema.createTable('api_tokens'), dialect)
          .addColumn('user_id', 'bigint', (col) => col.notNull().references('users.id').onDelete('cascade'))
          .addColumn('label', 'text', (col) => col.notNull().defaultTo(''))
          .addColumn('token_hash', 'text', (col) => col.notNull().unique())
          .addColumn('created_at', 'bigint', (col) => col.notNull())
          .addColumn('last_used_at', 'bigint')
          .execute();
        await db.schema.createIndex('api_tokens_user_id').on('api_tokens').column('user_id').execute();
        await db.schema
          .createTable('settings')
          .addColumn('key', 'text', (col) => col.primaryKey())
          .addColumn('value', 'text', (col) => col.notNull())
          .execute();
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropTable('settings').execute();
        await db.schema.dropTable('api_tokens').execute();
        await db.schema.dropTable('users').execute();
      },
    },
  },
};
