import { sql, type Kysely } from 'kysely';
import type { MigrationSet } from '../db/migrations.js';
import { dialectOf, withIdColumn } from '../db/columns.js';

/** The `jobs` table of the in-process queue (portable: runs on SQLite and PostgreSQL). */
export const queueMigrations: MigrationSet = {
  name: 'queue',
  migrations: {
    '0001_jobs': {
      async up(db: Kysely<unknown>) {
        await withIdColumn(db.schema.createTable('jobs'), dialectOf(db))
          .addColumn('name', 'text', (col) => col.notNull())
          .addColumn('payload', 'text', (col) => col.notNull())
          .addColumn('job_key', 'text')
          .addColumn('run_at', 'bigint', (col) => col.notNull())
          .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
          .addColumn('max_attempts', 'integer', (col) => col.notNull())
          .addColumn('last_error', 'text')
          .addColumn('locked_by', 'text')
          .addColumn('locked_at', 'bigint')
          .addColumn('state', 'text', (col) =>
            col.notNull().check(sql`state in ('pending', 'running', 'failed')`),
          )
          .addColumn('created_at', 'bigint', (col) => col.notNull())
          .execute();
        // A key identifies "the next run of this work": unique among pending jobs only, so a
        // job with the same key may be enqueued while the previous one runs or after it failed.
        await db.schema
          .createIndex('jobs_job_key_pending')
          .on('jobs')
          .column('job_key')
          .unique()
          .where(sql.ref('state'), '=', 'pending')
          .execute();
        await db.schema.createIndex('jobs_state_run_at').on('jobs').columns(['state', 'run_at']).execute();
      },
      async down(db: Kysely<unknown>) {
        await db.schema.dropTable('jobs').execute();
      },
    },
  },
};
