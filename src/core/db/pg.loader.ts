import type Pg from 'pg';

export type PgModule = typeof Pg;

let loaded: Promise<PgModule> | undefined;

/**
 * The pg driver, loaded on first use rather than at import: only PostgreSQL deployments need it,
 * and every CLI command (SQLite ones included) would otherwise pay its start-up time. Everything
 * of ours that talks to PostgreSQL (database, queue, locks) gets pg from here, so the type
 * parsers below are in place before any of their pools or clients exists.
 */
export function loadPg(): Promise<PgModule> {
  loaded ??= import('pg').then(({ default: pg }) => {
    // PostgreSQL returns int8 (bigint) and numeric as strings by default; our timestamps (unix ms)
    // and sizes fit in a double, so parse them as numbers to match SQLite.
    pg.types.setTypeParser(20, (value) => Number(value));
    pg.types.setTypeParser(1700, (value) => Number(value));
    return pg;
  });
  return loaded;
}
