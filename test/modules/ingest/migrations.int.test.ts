import { it } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachDialect } from '../../helpers/database.js';
import { migrateAllDown, migrateToLatest } from '../../../src/core/db/migrations.js';
import { ingestMigrations } from '../../../src/modules/ingest/index.js';

async function tableNames(ctx: {
  database: { db: { introspection: { getTables(): Promise<{ name: string }[]> } } };
}) {
  return (await ctx.database.db.introspection.getTables())
    .map((t) => t.name)
    .filter((n) => n.startsWith('ingest_'))
    .sort();
}

describeEachDialect('ingest migrations', (ctx) => {
  it('go up and down and up again', async () => {
    await migrateToLatest(ctx.database, [ingestMigrations]);
    assert.deepEqual(await tableNames(ctx), ['ingest_files', 'ingest_runs']);
    await migrateAllDown(ctx.database, [ingestMigrations]);
    assert.deepEqual(await tableNames(ctx), []);
    const [report] = await migrateToLatest(ctx.database, [ingestMigrations]);
    assert.equal(report?.set, 'ingest');
    assert.deepEqual(
      report?.results.map((r) => [r.migrationName, r.status]),
      [['0001_runs_and_files', 'Success']],
    );
    assert.deepEqual(await tableNames(ctx), ['ingest_files', 'ingest_runs']);
  });
});
