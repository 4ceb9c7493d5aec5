import { sql, type Kysely } from 'kysely';
import type { MigrationSet } from '../db/migrations.js';
import { dialectOf, withIdColumn } from '../db/columns.js';

export const alertsMigrations: MigrationSet = {
  name: 'alerts',
  migrations: {
    '0001_alerts': {
      async up(db: Kysely<unknown>) {
        await withIdColumn(db.schema.createTable('alerts'), dialectOf(db))
          .addColumn('code', 'text', (col) => col.notNull())
          .addColumn('dedup_key', 'text', (col) => col.notNull().defaultTo(''))
          .addColumn('severity', 'text', (col) => col.notNull())
          .addColumn('message', 'text', (col) => col.notNull())
          .addColumn('details', 'text')
          .addColumn('count', 'integer', (col) => col.notNull().defaultTo(1))
          .addColumn('first_at', 'bigint', (col) => col.notNull())
          .addColumn('last_at', 'bigint', (col) => col.notNull())
          .addColumn('notified_at', 'bigint')
          .addColumn('reminder_at', 'bigint')
          .addColumn('resolved_at', 'bigint')
          .addColumn('state', 'text', (col) => col.notNull().defaultTo('active'))
          .execute();
        // At most one active alert per code and key, even with several processes raising at once.
        await db.schema
          .createIndex('alerts_active_unique')
          .unique()
          .on('alerts')
          .columns(['code', 'dedup_key'])
          .where(sql.ref('state'), '=', 'active')
          .execute();
        await db.schema
          .createIndex('alerts_state_last_at')
          .on('alerts')
          .columns(['state', 'last_at'])
          .execute();
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropTable('alerts').execute();
      },
    },
  },
};
