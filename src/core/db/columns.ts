import { PostgresAdapter, sql, type CreateTableBuilder, type Kysely } from 'kysely';
import type { DialectName } from './database.js';

/**
 * The few places where SQLite and PostgreSQL differ in DDL. Conventions for every table:
 * times are `bigint` unix milliseconds (UTC), booleans are `integer` 0/1, text is `text`,
 * primary keys come from `withIdColumn`.
 */
export function withIdColumn<T extends string>(
  table: CreateTableBuilder<T, never>,
  dialect: DialectName,
  name = 'id',
): CreateTableBuilder<T, never> {
  return dialect === 'postgres'
    ? table.addColumn(name, 'bigserial', (col) => col.primaryKey())
    : table.addColumn(name, 'integer', (col) => col.primaryKey().autoIncrement());
}

/** Migrations receive a bare Kysely instance; its adapter tells which dialect's DDL to emit. */
export function dialectOf(db: Kysely<unknown>): DialectName {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/** The database's current time in unix ms, for SQL that must not trust a client clock. */
export function nowMs(dialect: DialectName) {
  return dialect === 'postgres'
    ? sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`
    : sql<number>`cast((julianday('now') - 2440587.5) * 86400000 as integer)`;
}
