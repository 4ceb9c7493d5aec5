import { Migrator, sql, type Migration, type MigrationResult } from 'kysely';
import type { Database } from './database.js';
import { InternalError, coerceError } from '../errors.js';

/**
 * Each part of Custodian (core auth, alerts, queue, and each module) owns a set of migrations
 * with its own bookkeeping table, so a module can add migrations without ordering against the
 * others. Migrations must be portable: use Kysely's schema builder and the column helpers below.
 */
export interface MigrationSet {
  /** Short name, used in the bookkeeping table name `migrations_<name>`. */
  name: string;
  migrations: Record<string, Migration>;
}

export interface MigrationReport {
  set: string;
  results: MigrationResult[];
}

function migratorFor(database: Database, set: MigrationSet): Migrator {
  return new Migrator({
    db: database.db,
    provider: { getMigrations: () => Promise.resolve(set.migrations) },
    migrationTableName: `migrations_${set.name}`,
    migrationLockTableName: `migrations_${set.name}_lock`,
  });
}

/**
 * Whether the set's bookkeeping table names exactly its migrations. The migrator itself finds that
 * out only after introspecting every table of the database (for each set: ~20 ms of every
 * command's start-up on SQLite); one query per set settles the common case, and anything else (no
 * table yet, a migration to run, a name the code does not know) goes to the migrator.
 */
async function isUpToDate(database: Database, set: MigrationSet): Promise<boolean> {
  try {
    const { rows } = await sql<{
      name: string;
    }>`select name from ${sql.table(`migrations_${set.name}`)}`.execute(database.db);
    const known = Object.keys(set.migrations);
    const applied = new Set(rows.map((row) => row.name));
    return applied.size === known.length && known.every((name) => applied.has(name));
  } catch {
    return false;
  }
}

export async function migrateToLatest(
  database: Database,
  sets: readonly MigrationSet[],
): Promise<MigrationReport[]> {
  const reports: MigrationReport[] = [];
  for (const set of sets) {
    if (await isUpToDate(database, set)) {
      reports.push({ set: set.name, results: [] });
      continue;
    }
    const { error, results } = await migratorFor(database, set).migrateToLatest();
    if (error)
      throw new InternalError(
        'DB_MIGRATION_FAILED',
        `migration of ${set.name} failed: ${coerceError(error).message}`,
        { cause: error },
      );
    reports.push({ set: set.name, results: results ?? [] });
  }
  return reports;
}

/** Rolls every set back to nothing, last set first (used by the migration tests). */
export async function migrateAllDown(database: Database, sets: readonly MigrationSet[]): Promise<void> {
  for (const set of [...sets].reverse()) {
    const migrator = migratorFor(database, set);
    for (;;) {
      const { error, results } = await migrator.migrateDown();
      if (error)
        throw new InternalError(
          'DB_MIGRATION_FAILED',
          `rollback of ${set.name} failed: ${coerceError(error).message}`,
          { cause: error },
        );
      if (!results || results.length === 0) break;
    }
  }
}
