import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { describeEachDialect, type DialectContext } from '../helpers/database.js';
import { migrateAllDown, migrateToLatest } from '../../src/core/db/migrations.js';
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
