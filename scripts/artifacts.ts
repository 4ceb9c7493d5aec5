/**
 * Generated artifacts that are committed so reviewers see schema and API changes in diffs:
 * the OpenAPI document and the database schema of each dialect. `npm run artifacts` rewrites
 * them; test/app/artifacts.int.test.ts fails when they drift from the code.
 */
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import type { Database } from '../src/core/db/database.js';
import { migrateToLatest } from '../src/core/db/migrations.js';
import { ALL_MIGRATIONS, openApp } from '../src/app/app.js';
import { buildHttpServer } from '../src/app/server.js';
import { configSchema } from '../src/app/config.schema.js';
import { silentLogger } from '../src/core/logger.js';
import { PACKAGE_ROOT } from '../src/app/version.js';

export const ARTIFACTS = {
  openapi: path.join(PACKAGE_ROOT, 'docs', 'openapi.json'),
  sqlite: path.join(PACKAGE_ROOT, 'docs', 'schema.sqlite.sql'),
  postgres: path.join(PACKAGE_ROOT, 'docs', 'schema.postgres.txt'),
};

/** The OpenAPI document of a server with every module enabled. */
export async function generateOpenApi(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(fs.realpathSync(process.env.TMPDIR ?? '/tmp'), 'custodian-openapi-'));
  try {
    const config = configSchema.parse({
      database: `sqlite:${path.join(dir, 'c.db')}`,
      ingest: { dropDir: path.join(dir, 'in'), dataDir: path.join(dir, 'data'), subsystems: ['EMC'] },
      transfer: {
        streams: [
          {
            name: 's',
            source: path.join(dir, 'src'),
            staging: path.join(dir, 'st'),
            destination: path.join(dir, 'dst'),
            archive: path.join(dir, 'ar'),
          },
        ],
      },
      audit: {
        sites: [
          {
            name: 'S',
            storage: `file://${path.join(dir, 'store')}`,
            directories: ['mc'],
            inventory: 'inv.tsv',
          },
        ],
      },
    });
    const app = await openApp({
      config,
      source: { file: path.join(dir, 'custodian.yaml'), baseDir: dir },
      logger: silentLogger(),
    });
    try {
      const server = await buildHttpServer(app);
      const response = await server.inject({ method: 'GET', url: '/api/openapi.json' });
      await server.close();
      const doc = JSON.parse(response.body) as { info?: { version?: string } };
      // The version changes with every release; the contract does not.
      if (doc.info) doc.info.version = '(package version)';
      return `${JSON.stringify(doc, null, 2)}\n`;
    } finally {
      await app.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A deterministic text dump of the schema after all migrations. */
export async function dumpSchema(database: Database): Promise<string> {
  await migrateToLatest(database, ALL_MIGRATIONS);
  if (database.dialect === 'sqlite') {
    const rows = await sql<{ sql: string | null }>`
      select sql from sqlite_master where sql is not null and name not like 'sqlite_%' order by type desc, name`.execute(
      database.db,
    );
    return `${rows.rows.map((r) => `${r.sql};`).join('\n')}\n`;
  }
  const columns = await sql<{
    table_name: string;
    column_name: string;
    data_type: string;
    is_nullable: string;
    column_default: string | null;
  }>`
    select table_name, column_name, data_type, is_nullable, column_default
    from information_schema.columns where table_schema = 'public'
    order by table_name, ordinal_position`.execute(database.db);
  const indexes = await sql<{ indexdef: string }>`
    select indexdef from pg_indexes where schemaname = 'public' order by tablename, indexname`.execute(
    database.db,
  );
  return `${[
    ...columns.rows.map(
      (c) =>
        `${c.table_name}.${c.column_name} ${c.data_type}${c.is_nullable === 'NO' ? ' not null' : ''}${
          c.column_default ? ` default ${c.column_default}` : ''
        }`,
    ),
    '',
    ...indexes.rows.map((i) => `${i.indexdef};`),
  ].join('\n')}\n`;
}
