import type { JobQueue } from './job-queue.js';
import { InProcessJobQueue, type InProcessQueueOptions } from './in-process.queue.js';
import { GraphileJobQueue, type GraphileQueueOptions } from './graphile.queue.js';
import type { Database } from '../db/database.js';
import { InternalError } from '../errors.js';
import type { Logger } from '../logger.js';

export interface JobQueueOptions {
  logger: Logger;
  /**
   * The postgres:// URL of `database` (with its password): graphile-worker opens its own pool.
   * Required when the graphile-worker adapter is used.
   */
  connectionString?: string;
  /** Default: `in-process` on SQLite, `graphile-worker` on PostgreSQL. */
  adapter?: JobQueue['kind'];
  /** Jobs one `run` executes at the same time. Default 1. */
  concurrency?: number;
  /** Idle workers look for due jobs this often, ms. Default 1000 (in-process), 2000 (graphile). */
  pollIntervalMs?: number;
  /** `maxAttempts` of jobs enqueued without one. Default 5. */
  defaultMaxAttempts?: number;
  /** In-process only: first retry delay, ms, doubled per attempt. Default 2000. */
  retryBaseMs?: InProcessQueueOptions['retryBaseMs'];
  /** In-process only: largest retry delay, ms. Default one hour. */
  maxRetryDelayMs?: InProcessQueueOptions['maxRetryDelayMs'];
  /** In-process only: a running job's lock older than this is released, ms. Default 5 minutes. */
  lockTimeoutMs?: InProcessQueueOptions['lockTimeoutMs'];
  /** Graphile only: schema of its tables. Default `graphile_worker`. */
  graphileSchema?: GraphileQueueOptions['schema'];
  /** Graphile only: size of its connection pool. Default 10. */
  maxPoolSize?: GraphileQueueOptions['maxPoolSize'];
}

/**
 * Picks the queue adapter for the database: the in-process queue (its `jobs` table needs the
 * `queue` MigrationSet) on SQLite, graphile-worker (installs its own schema) on PostgreSQL.
 */
export function createJobQueue(database: Database, options: JobQueueOptions): JobQueue {
  const adapter = options.adapter ?? (database.dialect === 'postgres' ? 'graphile-worker' : 'in-process');
  switch (adapter) {
    case 'in-process':
      return new InProcessJobQueue(database, {
        logger: options.logger,
        ...defined({
          concurrency: options.concurrency,
          pollIntervalMs: options.pollIntervalMs,
          defaultMaxAttempts: options.defaultMaxAttempts,
          retryBaseMs: options.retryBaseMs,
          maxRetryDelayMs: options.maxRetryDelayMs,
          lockTimeoutMs: options.lockTimeoutMs,
        }),
      });
    case 'graphile-worker': {
      if (database.dialect !== 'postgres') {
        throw new InternalError(
          'QUEUE_WRONG_DIALECT',
          'the graphile-worker queue needs PostgreSQL; use the in-process queue on SQLite',
        );
      }
      if (!options.connectionString) {
        throw new InternalError(
          'QUEUE_NO_CONNECTION_STRING',
          'the graphile-worker queue needs connectionString (the database URL from the config) to open its own pool',
        );
      }
      return new GraphileJobQueue({
        connectionString: options.connectionString,
        logger: options.logger,
        ...defined({
          concurrency: options.concurrency,
          pollIntervalMs: options.pollIntervalMs,
          defaultMaxAttempts: options.defaultMaxAttempts,
          schema: options.graphileSchema,
          maxPoolSize: options.maxPoolSize,
        }),
      });
    }
  }
}

/** Drops undefined values so adapter defaults apply (`exactOptionalPropertyTypes`-proof). */
function defined<T extends Record<string, unknown>>(
  values: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}
