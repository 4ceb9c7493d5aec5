import type { LockManager } from './lock.js';
import { AdvisoryLockManager } from './lock.postgres.js';
import { LeaseLockManager } from './lock.sqlite.js';
import type { Database } from '../db/database.js';
import { InternalError } from '../errors.js';
import type { Logger } from '../logger.js';

export interface LockManagerOptions {
  logger: Logger;
  /** The postgres:// URL of `database` (with its password); required on PostgreSQL. */
  connectionString?: string;
  /** SQLite leases: lifetime without renewal, ms. Default 30 000. */
  leaseTtlMs?: number;
  /** SQLite leases: renewal interval, ms. Default a third of the TTL. */
  renewIntervalMs?: number;
  /** PostgreSQL: liveness check of a held lock's connection, ms. Default 10 000. */
  checkIntervalMs?: number;
}

/**
 * Advisory locks on PostgreSQL, lease rows on SQLite (which need the `locks` MigrationSet).
 */
export function createLockManager(database: Database, options: LockManagerOptions): LockManager {
  if (database.dialect === 'postgres') {
    if (!options.connectionString) {
      throw new InternalError(
        'LOCK_NO_CONNECTION_STRING',
        'the PostgreSQL lock manager needs connectionString (the database URL from the config) to hold locks on their own connections',
      );
    }
    return new AdvisoryLockManager({
      connectionString: options.connectionString,
      logger: options.logger,
      ...(options.checkIntervalMs === undefined ? {} : { checkIntervalMs: options.checkIntervalMs }),
    });
  }
  return new LeaseLockManager(database, {
    logger: options.logger,
    ...(options.leaseTtlMs === undefined ? {} : { ttlMs: options.leaseTtlMs }),
    ...(options.renewIntervalMs === undefined ? {} : { renewIntervalMs: options.renewIntervalMs }),
  });
}
