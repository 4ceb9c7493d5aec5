import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { describeEachDialect, type DialectContext } from '../helpers/database.js';
import type { Migration } from 'kysely';
import { migrateAllDown, migrateToLatest, type MigrationSet } from '../../src/core/db/migrations.js';
import { ALL_MIGRATIONS } from '../../src/app/app.js';

async function tableNames(ctx: DialectContext): Promise<string[]> {
  const query =
    ctx.dialect === 'sqlite'
      ? sql<{
          name: string;
        }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like 'migrations_%' order by name`
      : sql<{
          name: string;
        }>`select table_name as name from information_schema.tables where table_schema = 'public' and table_name not like 'migrations_%' order by table_name`;
  return (await query.execute(ctx.database.db)).rows.map((r) => r.name);
}

describeEachDialect('every migration set', (ctx) => {
  test('goes up, down to nothing, and up again', async () => {
    const first = await migrateToLatest(ctx.database, ALL_MIGRATIONS);
    assert.ok(first.every((r) => r.results.every((m) => m.status === 'Success')));
    const tables = await tableNames(ctx);
    for (const expected of [
      'users',
      'api_tokens',
      'alerts',
      'jobs',
      'locks',
      'ingest_runs',
      'ingest_files',
      'transfer_stages',
      'transfer_stage_history',
      'transfer_nights',
      'audit_sites',
      'audit_runs',
      'audit_entries',
    ]) {
      assert.ok(tables.includes(expected), `${expected} in ${tables.join(', ')}`);
    }
    const again = await migrateToLatest(ctx.database, ALL_MIGRATIONS);
    assert.ok(
      again.every((r) => r.results.length === 0),
      'a second run applies nothing',
    );

    await migrateAllDown(ctx.database, ALL_MIGRATIONS);
    assert.deepEqual(await tableNames(ctx), []);

    await migrateToLatest(ctx.database, ALL_MIGRATIONS);
    assert.deepEqual(await tableNames(ctx), tables);
  });
});

describeEachDialect('migrateToLatest on an up-to-date database', (ctx) => {
  const createTable = (name: string): Migration => ({
    up: async (db) => {
      await db.schema.createTable(name).addColumn('id', 'integer').execute();
    },
    down: async (db) => {
      await db.schema.dropTable(name).execute();
    },
  });

  test('still runs a migration added to a set, and still refuses a database that is newer than the code', async () => {
    const v1: MigrationSet = { name: 'probe', migrations: { '001_one': createTable('probe_one') } };
    const [first] = await migrateToLatest(ctx.database, [v1]);
    assert.deepEqual(
      first?.results.map((r) => [r.migrationName, r.status]),
      [['001_one', 'Success']],
    );
    const [again] = await migrateToLatest(ctx.database, [v1]);
    assert.deepEqual(again?.results, []);

    const v2: MigrationSet = {
      name: 'probe',
      migrations: { ...v1.migrations, '002_two': createTable('probe_two') },
    };
    const [second] = await migrateToLatest(ctx.database, [v2]);
    assert.deepEqual(
      second?.results.map((r) => [r.migrationName, r.status]),
      [['002_two', 'Success']],
    );
    assert.ok((await tableNames(ctx)).includes('probe_two'));

    // The code went back to v1 while the database has 002_two: the migrator's error, as before.
    await assert.rejects(migrateToLatest(ctx.database, [v1]), /migration of probe failed/);
    await migrateAllDown(ctx.database, [v2]);
    assert.ok(!(await tableNames(ctx)).includes('probe_one'));
  });
});
