import type { Migration } from 'kysely';
import { dialectOf, withIdColumn } from '../../core/db/columns.js';
import type { MigrationSet } from '../../core/db/migrations.js';

const sitesRunsEntries: Migration = {
  async up(db) {
    await db.schema
      .createTable('audit_sites')
      .addColumn('name', 'text', (col) => col.primaryKey())
      .addColumn('status', 'text', (col) => col.notNull())
      .addColumn('mode', 'text', (col) => col.notNull())
      .addColumn('halt_requested', 'integer', (col) => col.notNull().defaultTo(0))
      .addColumn('updated_at', 'bigint', (col) => col.notNull())
      .execute();
    await withIdColumn(db.schema.createTable('audit_runs'), dialectOf(db))
      .addColumn('site', 'text', (col) => col.notNull())
      .addColumn('started_at', 'bigint', (col) => col.notNull())
      .addColumn('finished_at', 'bigint')
      .addColumn('files', 'bigint', (col) => col.notNull().defaultTo(0))
      .addColumn('directories', 'bigint', (col) => col.notNull().defaultTo(0))
      .addColumn('missing', 'bigint', (col) => col.notNull().defaultTo(0))
      .addColumn('missing_bytes', 'bigint', (col) => col.notNull().defaultTo(0))
      .addColumn('orphans', 'bigint', (col) => col.notNull().defaultTo(0))
      .addColumn('orphan_bytes', 'bigint', (col) => col.notNull().defaultTo(0))
      .addColumn('size_mismatches', 'bigint', (col) => col.notNull().defaultTo(0))
      .addColumn('empty_dirs', 'bigint', (col) => col.notNull().defaultTo(0))
      .addColumn('unlisted', 'bigint', (col) => col.notNull().defaultTo(0))
      .addColumn('outcome', 'text', (col) => col.notNull())
      .addColumn('message', 'text')
      .addColumn('unlisted_json', 'text', (col) => col.notNull().defaultTo('[]'))
      .execute();
    await db.schema
      .createIndex('audit_runs_site_started')
      .on('audit_runs')
      .columns(['site', 'started_at'])
      .execute();
    await db.schema
      .createTable('audit_entries')
      .addColumn('site', 'text', (col) => col.notNull())
      .addColumn('kind', 'text', (col) => col.notNull())
      .addColumn('path', 'text', (col) => col.notNull())
      .addColumn('first_run', 'bigint', (col) => col.notNull())
      .addColumn('first_seen', 'bigint', (col) => col.notNull())
      .addColumn('last_run', 'bigint', (col) => col.notNull())
      .addColumn('last_seen', 'bigint', (col) => col.notNull())
      .addColumn('previous_run', 'bigint')
      .addColumn('acted_at', 'bigint')
      .addPrimaryKeyConstraint('audit_entries_pk', ['site', 'kind', 'path'])
      .execute();
    await db.schema
      .createIndex('audit_entries_site_kind_last_run')
      .on('audit_entries')
      .columns(['site', 'kind', 'last_run'])
      .execute();
  },
  async down(db) {
    await db.schema.dropTable('audit_entries').execute();
    await db.schema.dropTable('audit_runs').execute();
    await db.schema.dropTable('audit_sites').execute();
  },
};

/** Migrations of the audit module (bookkeeping table `migrations_audit`). */
export const auditMigrations: MigrationSet = {
  name: 'audit',
  migrations: { '0001_sites_runs_entries': sitesRunsEntries },
};
