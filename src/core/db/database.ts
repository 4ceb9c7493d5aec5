import {
  Kysely,
  PostgresDialect,
  SqliteDialect,
  type Dialect as KyselyDialect,
  type SqliteDialectConfig,
} from 'kysely';
import SqliteDatabase from 'better-sqlite3';
import path from 'node:path';
import fs from 'node:fs';
import { InputError, UnavailableError, coerceError } from '../errors.js';
import { loadPg } from './pg.loader.js';

export type DialectName = 'sqlite' | 'postgres';

/**
 * The one handle on the database that services and repositories receive (through their
 * repositories). `db` is untyped here on purpose: each module types its own tables with
 * `tables<ModuleTables>(database)`, so core never imports a module.
 */
export interface Database {
  readonly dialect: DialectName;
  /** The URL with any password masked, for messages and logs. */
  readonly displayUrl: string;
  readonly db: Kysely<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  close(): Promise<void>;
}

/** Typed view of the database for one module's tables. */
export function tables<T>(database: Database): Kysely<T> {
  return database.db as Kysely<T>;
}

export function maskUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]+)@/, '//$1:***@');
}

/** Prepared statements kept per SQL text; past this many the oldest is dropped. */
const STATEMENT_CACHE = 256;

/**
 * better-sqlite3 as Kysely's SQLite driver sees it, with prepared statements reused: the driver
 * prepares every query it runs, which was the largest cost after hashing in a profile of a
 * transfer pass. Reuse is safe because the driver runs one query at a time on its one connection
 * (a mutex, held through a streamed select too), so a statement is never in use twice at once.
 */
function withStatementCache(sqlite: SqliteDatabase.Database): SqliteDialectConfig['database'] {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    prepare(sql: string) {
      let statement = statements.get(sql);
      if (statement === undefined) {
        statement = sqlite.prepare(sql);
        if (statements.size >= STATEMENT_CACHE) statements.delete(statements.keys().next().value as string);
        statements.set(sql, statement);
      }
      return statement;
    },
    close() {
      statements.clear();
      sqlite.close();
    },
  };
}

/**
 * Opens `sqlite:<path>` (better-sqlite3, WAL) or `postgres://…` (pg pool).
 * Relative SQLite paths are resolved against `baseDir` (the config file's folder).
 */
export async function openDatabase(
  url: string,
  options: { baseDir?: string; poolSize?: number } = {},
): Promise<Database> {
  const displayUrl = maskUrl(url);
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    if (file === '')
      throw new InputError('CONFIG_INVALID', 'database: sqlite URL needs a path, e.g. sqlite:./custodian.db');
    const resolved = file === ':memory:' ? file : path.resolve(options.baseDir ?? process.cwd(), file);
    if (resolved !== ':memory:') fs.mkdirSync(path.dirname(resolved), { recursive: true });
    let sqlite: SqliteDatabase.Database;
    try {
      sqlite = new SqliteDatabase(resolved);
    } catch (error) {
      throw new UnavailableError(
        'DB_UNAVAILABLE',
        `cannot open SQLite database ${resolved}: ${coerceError(error).message}`,
      );
    }
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 10000');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    const dialect: KyselyDialect = new SqliteDialect({ database: withStatementCache(sqlite) });
    const db = new Kysely<unknown>({ dialect });
    return {
      dialect: 'sqlite',
      displayUrl,
      db,
      close: () => db.destroy(),
    };
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const pg = await loadPg();
    const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 10 });
    // An idle client that loses its connection emits 'error' on the pool; without a listener
    // that would crash the process. The next query surfaces the outage instead.
    pool.on('error', () => undefined);
    try {
      const client = await pool.connect();
      client.release();
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new UnavailableError(
        'DB_UNAVAILABLE',
        `cannot connect to ${displayUrl}: ${coerceError(error).message} (is PostgreSQL running? check the database URL in the config)`,
      );
    }
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
    return {
      dialect: 'postgres',
      displayUrl,
      db,
      close: async () => {
        await db.destroy();
        // Kysely ends the pool only if it ever used it; the connection check above opened a
        // client that would otherwise keep the process alive for pg's idle timeout.
        if (!pool.ended) await pool.end();
      },
    };
  }
  throw new InputError(
    'CONFIG_INVALID',
    `database: unsupported URL "${displayUrl}"; use sqlite:<path> or postgres://user@host:5432/db`,
  );
}
