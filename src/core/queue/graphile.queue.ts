import { EventEmitter } from 'node:events';
import type pg from 'pg';
import type * as Graphile from 'graphile-worker';
import type {
  Logger as GraphileLogger,
  JobHelpers,
  LogLevel,
  LogFunctionFactory,
  RunnerOptions,
  TaskList,
  WorkerEvents,
  WorkerUtils,
} from 'graphile-worker';
import type { EnqueueOptions, JobQueue, TaskDefinition } from './job-queue.js';
import { checkMaxAttempts, TaskRegistry, type RegisteredTask } from './task-registry.js';
import { RunTracker } from './run-tracker.js';
import { coerceError, InputError, InternalError, UnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import { linkSignals } from '../lifecycle/abort.js';
import { loadPg, type PgModule } from '../db/pg.loader.js';

/**
 * The job queue of PostgreSQL deployments: graphile-worker on the application database, so any
 * number of `custodian worker` processes on any machine share the work.
 *
 * graphile-worker owns the job states (in its own schema, installed and upgraded by its own
 * migrations the first time this queue touches the database): a job is pending until a worker
 * locks it, deleted on success, and on failure unlocked with `run_at` pushed back by
 * exp(min(attempts, 10)) seconds (about 2.7 s, 7.4 s, 20 s, … — graphile's fixed backoff, not
 * configurable) until `attempts` reaches `max_attempts`, after which it stays as permanently
 * failed. Locks of crashed workers are released by graphile after 4 hours.
 *
 * What this adapter adds: payloads are validated by the task's zod schema at enqueue and again
 * before the handler (a payload that fails there fails the job permanently, since retrying cannot
 * help); handlers get an AbortSignal that aborts as soon as `run` is asked to stop; graphile's
 * log lines go to our pino logger (its chatter at debug) instead of the console.
 *
 * graphile-worker and pg are loaded, and the pool made, on first use (`connection`), not at
 * import: the queue factory imports this module wherever the app is composed, SQLite deployments
 * included, and the two libraries would add to the start-up time of every CLI command.
 */
export interface GraphileQueueOptions {
  /** postgres:// URL of the database that holds the queue. */
  connectionString: string;
  logger: Logger;
  /** Schema of graphile-worker's tables. Default `graphile_worker`. */
  schema?: string;
  /** Jobs one `run` executes at the same time. Default 1. */
  concurrency?: number;
  /** How often idle workers look for jobs that became due, ms (new jobs arrive by NOTIFY). Default 2000. */
  pollIntervalMs?: number;
  /** `maxAttempts` of jobs enqueued without one. Default 5 (graphile's own default is 25). */
  defaultMaxAttempts?: number;
  /** Connections of this queue's own pool. Default 10. */
  maxPoolSize?: number;
}

// Serializes the first installation of graphile's schema by several processes at once
// (graphile's migrate takes no lock of its own). An arbitrary constant of this application.
const SCHEMA_INSTALL_LOCK = 7_301_995_202_604_001n;

/** The libraries and this queue's own pool, made together on first use. */
interface Connection {
  pg: PgModule;
  graphile: typeof Graphile;
  pool: pg.Pool;
  /** graphile's log lines, routed to our logger. */
  logger: GraphileLogger;
}

export class GraphileJobQueue implements JobQueue {
  readonly kind = 'graphile-worker' as const;

  private readonly registry = new TaskRegistry();
  private readonly connectionString: string;
  private readonly maxPoolSize: number;
  private readonly logger: Logger;
  private readonly schema: string;
  private readonly concurrency: number;
  private readonly pollIntervalMs: number;
  private readonly defaultMaxAttempts: number;
  private readonly runs = new RunTracker();
  private connecting: Promise<Connection> | undefined;
  private migrated: Promise<void> | undefined;
  private utils: Promise<WorkerUtils> | undefined;
  private closed = false;

  constructor(options: GraphileQueueOptions) {
    this.logger = options.logger.child({ component: 'job-queue' });
    this.connectionString = options.connectionString;
    this.maxPoolSize = options.maxPoolSize ?? 10;
    this.schema = options.schema ?? 'graphile_worker';
    this.concurrency = options.concurrency ?? 1;
    this.pollIntervalMs = options.pollIntervalMs ?? 2000;
    this.defaultMaxAttempts = checkMaxAttempts(options.defaultMaxAttempts ?? 5);
  }

  register<P>(task: TaskDefinition<P>): void {
    this.registry.register(task);
  }

  /**
   * Installs or upgrades graphile-worker's schema (done on first use anyway; call it at start-up
   * to fail early when the database is unreachable).
   */
  migrate(): Promise<void> {
    this.migrated ??= this.installSchema().catch((error: unknown) => {
      this.migrated = undefined;
      throw new UnavailableError(
        'QUEUE_UNAVAILABLE',
        `cannot prepare the job queue in PostgreSQL: ${coerceError(error).message} (is the database reachable and may this user create schemas?)`,
        { cause: error },
      );
    });
    return this.migrated;
  }

  async enqueue<P>(name: string, payload: P, options: EnqueueOptions = {}): Promise<{ jobId: string }> {
    this.registry.validate(name, payload);
    const maxAttempts = checkMaxAttempts(options.maxAttempts ?? this.defaultMaxAttempts);
    if (options.runAt && !Number.isFinite(options.runAt.getTime())) {
      throw new InputError('QUEUE_INVALID_OPTIONS', `runAt of ${name} is not a valid date`);
    }
    const utils = await this.workerUtils();
    const job = await utils.addJob(name, payload ?? null, {
      maxAttempts,
      ...(options.jobKey === undefined ? {} : { jobKey: options.jobKey }),
      ...(options.runAt === undefined ? {} : { runAt: options.runAt }),
    });
    return { jobId: String(job.id) };
  }

  async run(signal: AbortSignal, options: { concurrency?: number } = {}): Promise<void> {
    await this.runs.track(signal, (linked) =>
      this.runUntilAborted(linked, options.concurrency ?? this.concurrency),
    );
  }

  async runUntilIdle(): Promise<void> {
    if (this.registry.names().length === 0) return;
    await this.migrate();
    const connection = await this.connection();
    await this.runs.track(undefined, (signal) =>
      connection.graphile.runOnce(this.runnerOptions(connection, signal, 1)),
    );
  }

  async stats(): Promise<{ pending: number; running: number; failed: number }> {
    await this.migrate();
    const { pg, pool } = await this.connection();
    // The public `jobs` view of graphile-worker 0.16 (its tables are `_private_*`).
    const { rows } = await pool.query<{ pending: number; running: number; failed: number }>(
      `select
         count(*) filter (where locked_at is null and attempts < max_attempts)::int as pending,
         count(*) filter (where locked_at is not null)::int as running,
         count(*) filter (where locked_at is null and attempts >= max_attempts)::int as failed
       from ${pg.escapeIdentifier(this.schema)}.jobs`,
    );
    const row = rows[0];
    return { pending: row?.pending ?? 0, running: row?.running ?? 0, failed: row?.failed ?? 0 };
  }

  /** Stops running workers (in-flight jobs finish first) and closes this queue's connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.runs.close();
    if (this.utils) {
      const utils = await this.utils.catch(() => undefined);
      await utils?.release();
    }
    // A queue that was never used never made its pool.
    const connection = await this.connecting?.catch(() => undefined);
    await connection?.pool.end();
  }

  private connection(): Promise<Connection> {
    // A pool made after close would never be ended.
    if (this.closed) return Promise.reject(new InternalError('QUEUE_CLOSED', 'the job queue is closed'));
    this.connecting ??= Promise.all([loadPg(), import('graphile-worker')]).then(([pg, graphile]) => {
      const pool = new pg.Pool({ connectionString: this.connectionString, max: this.maxPoolSize });
      // Idle clients that lose their connection emit 'error' on the pool; the next query reports it.
      pool.on('error', (error) => this.logger.warn({ err: error }, 'an idle queue connection failed'));
      return { pg, graphile, pool, logger: toGraphileLogger(graphile, this.logger) };
    });
    return this.connecting;
  }

  private async runUntilAborted(signal: AbortSignal, concurrency: number): Promise<void> {
    if (signal.aborted) return;
    if (this.registry.names().length === 0) {
      // Nothing to execute here, but honour the contract: run until stopped.
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      return;
    }
    await this.migrate();
    const connection = await this.connection();
    const runner = await connection.graphile.run(this.runnerOptions(connection, signal, concurrency));
    let stopping: Promise<void> | undefined;
    const stop = () => {
      stopping ??= runner.stop().catch((error: unknown) => {
        this.logger.warn({ err: coerceError(error) }, 'job workers did not stop cleanly');
      });
    };
    signal.addEventListener('abort', stop, { once: true });
    if (signal.aborted) stop();
    try {
      // Resolves once the workers stopped, which graphile does after in-flight jobs finished.
      await runner.promise;
    } finally {
      signal.removeEventListener('abort', stop);
      await stopping;
    }
  }

  private runnerOptions(connection: Connection, stopSignal: AbortSignal, concurrency: number): RunnerOptions {
    const events = new EventEmitter() as WorkerEvents;
    // graphile logs every failure alike (we map it to warn); the final one deserves an error.
    events.on('job:failed', ({ job, error }) => {
      this.logger.error(
        { err: coerceError(error), jobId: String(job.id), task: job.task_identifier },
        `job failed permanently after ${job.attempts} attempts`,
      );
    });
    return {
      events,
      pgPool: connection.pool,
      schema: this.schema,
      logger: connection.logger,
      taskList: this.taskList(connection, stopSignal),
      concurrency,
      pollInterval: this.pollIntervalMs,
      // Our daemons handle signals themselves (core/lifecycle/signals.ts).
      noHandleSignals: true,
      // No crontab: scheduled work is enqueued by our own loops. An empty list also stops
      // graphile from reading a `crontab` file in the working directory.
      parsedCronItems: [],
    };
  }

  private taskList(connection: Connection, stopSignal: AbortSignal): TaskList {
    const list: TaskList = {};
    for (const task of this.registry.all()) {
      list[task.name] = (payload: unknown, helpers: JobHelpers) =>
        this.runTask(connection.pg, task, payload, helpers, stopSignal);
    }
    return list;
  }

  private async runTask(
    pg: PgModule,
    task: RegisteredTask,
    payload: unknown,
    helpers: JobHelpers,
    stopSignal: AbortSignal,
  ): Promise<void> {
    const parsed = task.parse(payload);
    if (!parsed.ok) {
      // Graphile has no "do not retry" error; using up the attempts makes this failure final.
      await helpers.withPgClient((client) =>
        client.query(
          `update ${pg.escapeIdentifier(this.schema)}._private_jobs set max_attempts = attempts where id = $1`,
          [helpers.job.id],
        ),
      );
      const message = `${parsed.message}; not retried: fix the producer and enqueue the job again`;
      this.logger.error(
        { jobId: String(helpers.job.id), task: task.name },
        `job failed permanently: ${message}`,
      );
      throw new Error(message);
    }
    const link = linkSignals(stopSignal, helpers.abortSignal);
    try {
      await task.run(parsed.value, {
        jobId: String(helpers.job.id),
        attempt: helpers.job.attempts,
        signal: link.signal,
      });
    } finally {
      link.dispose();
    }
  }

  private workerUtils(): Promise<WorkerUtils> {
    if (!this.utils) {
      const created = this.migrate()
        .then(() => this.connection())
        .then(({ graphile, pool, logger }) =>
          graphile.makeWorkerUtils({ pgPool: pool, schema: this.schema, logger }),
        );
      this.utils = created;
      // A failed start is not remembered: the next call tries again.
      created.catch(() => {
        if (this.utils === created) this.utils = undefined;
      });
    }
    return this.utils;
  }

  private async installSchema(): Promise<void> {
    const { graphile, pool, logger } = await this.connection();
    const client = await pool.connect();
    try {
      await client.query('select pg_advisory_lock($1::bigint)', [SCHEMA_INSTALL_LOCK.toString()]);
      try {
        await graphile.runMigrations({ pgPool: pool, schema: this.schema, logger });
      } finally {
        await client.query('select pg_advisory_unlock($1::bigint)', [SCHEMA_INSTALL_LOCK.toString()]);
      }
    } finally {
      client.release();
    }
  }
}

/**
 * graphile-worker logs through its own Logger; route it to pino. Its `info` lines (worker
 * connected, job completed) are routine for us and go to debug; a job failure that will be
 * retried is a warning, not an error.
 */
function toGraphileLogger(graphile: typeof Graphile, logger: Logger): GraphileLogger {
  return new graphile.Logger((scope: Parameters<LogFunctionFactory>[0]) => {
    const child = logger.child({
      ...(scope.workerId ? { workerId: scope.workerId } : {}),
      ...(scope.taskIdentifier ? { task: scope.taskIdentifier } : {}),
      ...(scope.jobId ? { jobId: scope.jobId } : {}),
    });
    return (level: LogLevel, message: string, meta?: Record<string, unknown>) => {
      // Only the error travels: meta can hold the whole job, payload included.
      const fields = meta?.error === undefined ? {} : { err: coerceError(meta.error) };
      // Failure lines embed the stack, which `err` already carries.
      if (meta?.error !== undefined) message = message.split('\n', 1)[0] ?? message;
      switch (level as string) {
        case 'error':
          if (meta?.failure === true) child.warn(fields, message);
          else child.error(fields, message);
          break;
        case 'warning':
          child.warn(fields, message);
          break;
        case 'info':
          child.debug(fields, message);
          break;
        default:
          child.trace(fields, message);
      }
    };
  });
}
