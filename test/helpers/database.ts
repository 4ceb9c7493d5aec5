import { describe, before, after } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database, type DialectName } from '../../src/core/db/database.js';
import { isCI, requirement } from './environment.js';

/**
 * Database tests are written once and run on every dialect in TEST_DIALECTS (default: sqlite and
 * postgres). Each suite gets a fresh database of its own: a temp SQLite file, or a PostgreSQL
 * database created for it and dropped afterwards.
 */
export const POSTGRES_ADMIN_URL =
  process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function dialectsUnderTest(): DialectName[] {
  const raw = process.env.TEST_DIALECTS ?? 'sqlite,postgres';
  return raw
    .split(',')
    .map((d) => d.trim())
    .filter((d): d is DialectName => d === 'sqlite' || d === 'postgres');
}

let postgresReachable: boolean | undefined;
export async function isPostgresReachable(): Promise<boolean> {
  if (postgresReachable !== undefined) return postgresReachable;
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.end();
    postgresReachable = true;
  } catch {
    postgresReachable = false;
  }
  return postgresReachable;
}

export interface TestDatabase {
  dialect: DialectName;
  url: string;
  /** Opens another handle on the same database (a second process's view). */
  open(): Promise<Database>;
  drop(): Promise<void>;
}

/** Creates an empty database of the dialect and returns its URL. */
export async function createTestDatabase(dialect: DialectName): Promise<TestDatabase> {
  if (dialect === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-db-'));
    const url = `sqlite:${path.join(dir, 'test.db')}`;
    return {
      dialect,
      url,
      open: () => openDatabase(url),
      drop: () => {
        fs.rmSync(dir, { recursive: true, force: true });
        return Promise.resolve();
      },
    };
  }
  const name = `custodian_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = POSTGRES_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
  return {
    dialect,
    url,
    open: () => openDatabase(url),
    drop: async () => {
      const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export interface DialectContext {
  dialect: DialectName;
  /** The suite's database handle (opened in `before`). */
  readonly database: Database;
  readonly url: string;
}

/**
 * `describe` once per dialect. The body registers tests that use `ctx.database`; a fresh
 * database is created before the suite and dropped after it.
 */
export function describeEachDialect(title: string, body: (ctx: DialectContext) => void): void {
  for (const dialect of dialectsUnderTest()) {
    describe(`${title} [${dialect}]`, async () => {
      let skip: string | false = false;
      if (dialect === 'postgres') {
        skip = requirement(
          await isPostgresReachable(),
          `PostgreSQL is not reachable at ${POSTGRES_ADMIN_URL} (start it, or set TEST_DIALECTS=sqlite)`,
        );
      }
      if (skip) {
        if (isCI) throw new Error(skip);
        return;
      }
      let testDb: TestDatabase | undefined;
      let database: Database | undefined;
      const ctx: DialectContext = {
        dialect,
        get database() {
          if (!database) throw new Error('database not opened yet');
          return database;
        },
        get url() {
          if (!testDb) throw new Error('database not created yet');
          return testDb.url;
        },
      };
      before(async () => {
        testDb = await createTestDatabase(dialect);
        database = await testDb.open();
      });
      after(async () => {
        await database?.close();
        await testDb?.drop();
      });
      body(ctx);
    });
  }
}
