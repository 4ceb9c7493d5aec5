import type { Migration } from 'kysely';
import { dialectOf, withIdColumn } from '../../core/db/columns.js';
import type { MigrationSet } from '../../core/db/migrations.js';

const stagesAndNights: Migration = {
  async up(db) {
    await db.schema
      .createTable('transfer_stages')
      .addColumn('stream', 'text', (col) => col.notNull())
      .addColumn('night', 'text', (col) => col.notNull())
      .addColumn('exposure', 'text', (col) => col.notNull())
      .addColumn('stage', 'text', (col) => col.notNull())
      .addColumn('ok', 'integer', (col) => col.notNull())
      .addColumn('at', 'bigint', (col) => col.notNull())
      .addColumn('message', 'text', (col) => col.notNull())
      .addPrimaryKeyConstraint('transfer_stages_pk', ['stream', 'night', 'exposure', 'stage'])
      .execute();
    await withIdColumn(db.schema.createTable('transfer_stage_history'), dialectOf(db))
      .addColumn('stream', 'text', (col) => col.notNull())
      .addColumn('night', 'text', (col) => col.notNull())
      .addColumn('exposure', 'text', (col) => col.notNull())
      .addColumn('stage', 'text', (col) => col.notNull())
      .addColumn('ok', 'integer', (col) => col.notNull())
      .addColumn('at', 'bigint', (col) => col.notNull())
      .addColumn('message', 'text', (col) => col.notNull())
      .execute();
    await db.schema
      .createIndex('transfer_stage_history_exposure')
      .on('transfer_stage_history')
      .columns(['stream', 'night', 'exposure'])
      .execute();
    await db.schema
      .createTable('transfer_nights')
      .addColumn('stream', 'text', (col) => col.notNull())
      .addColumn('night', 'text', (col) => col.notNull())
      .addColumn('catchup_at', 'bigint')
      .addColumn('archive_at', 'bigint')
      .addColumn('archive_ok', 'integer')
      .addColumn('archive_message', 'text')
      .addPrimaryKeyConstraint('transfer_nights_pk', ['stream', 'night'])
      .execute();
  },
  async down(db) {
    await db.schema.dropTable('transfer_nights').execute();
    await db.schema.dropTable('transfer_stage_history').execute();
    await db.schema.dropTable('transfer_stages').execute();
  },
};

/** Migrations of the transfer module (bookkeeping table `migrations_transfer`). */
export const transferMigrations: MigrationSet = {
  name: 'transfer',
  migrations: {
    '0001_stages_and_nights': stagesAndNights,
  },
};
