import type { Migration } from 'kysely';
import { dialectOf, withIdColumn } from '../../core/db/columns.js';
import type { MigrationSet } from '../../core/db/migrations.js';

const runsAndFiles: Migration = {
  async up(db) {
    await db.schema
      .createTable('ingest_runs')
      .addColumn('run', 'bigint', (col) => col.primaryKey())
      .addColumn('mode', 'text', (col) => col.notNull())
      .addColumn('replay', 'integer', (col) => col.notNull().defaultTo(0))
      .addColumn('first_file_at', 'bigint', (col) => col.notNull())
      .addColumn('last_file_at', 'bigint', (col) => col.notNull())
      .addColumn('length_minutes', 'integer', (col) => col.notNull())
      .addColumn('updated_at', 'bigint', (col) => col.notNull())
      .execute();
    await withIdColumn(db.schema.createTable('ingest_files'), dialectOf(db))
      .addColumn('run', 'bigint', (col) => col.notNull().references('ingest_runs.run').onDelete('cascade'))
      .addColumn('subsystem', 'text', (col) => col.notNull())
      .addColumn('timestamp', 'bigint', (col) => col.notNull())
      .addColumn('size', 'bigint', (col) => col.notNull())
      .addColumn('path', 'text', (col) => col.notNull().unique())
      .execute();
    await db.schema
      .createIndex('ingest_files_run_subsystem_timestamp')
      .on('ingest_files')
      .columns(['run', 'subsystem', 'timestamp'])
      .execute();
  },
  async down(db) {
    await db.schema.dropTable('ingest_files').execute();
    await db.schema.dropTable('ingest_runs').execute();
  },
};

/** Migrations of the ingest module (bookkeeping table `migrations_ingest`). */
export const ingestMigrations: MigrationSet = {
  name: 'ingest',
  migrations: {
    '0001_runs_and_files': runsAndFiles,
  },
};
