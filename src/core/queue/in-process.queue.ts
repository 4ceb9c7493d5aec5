import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { EnqueueOptions, JobQueue, TaskDefinition } from './job-queue.js';
import type { JobsTable, JobState, QueueTables } from './queue.table.js';
import { checkMaxAttempts, TaskRegistry } from './task-registry.js';
import { RunTracker } from './run-tracker.js';
import { tables, type Database } from '../db/database.js';
import { coerceError, InputError } from '../errors.js';
import type { Logger } from '../logger.js';
import { linkSignals } from '../lifecycle/abort.js';

export { queueMigrations } from './queue.migrations.js';

/**
 * The job queue of SQLite deployments; its table is portable, so it also runs on PostgreSQL.
 *
 * A job moves pending → running → deleted (success), back to pending with a later `run_at`
 * (failure with attempts left, exponential backoff), or failed (attempts used up, or a payload
 * that can never be valid; kept with `last_error` for the operator).
 *
 * Each worker loop: release stale locks (at most every few seconds) → claim the oldest due job in
 * one UPDATE → run it while refreshing its lock → record the outcome → again. With nothing due it
 * idles for `pollIntervalMs` or until this instance enqueues. A lock that was not refreshed for
 * `lockTimeoutMs` belongs to a worker that died: its job becomes pending again (or failed when no
 * attempts are left), so a crash never loses a job and never blocks it forever.
 *
 * The claim is a single `UPDATE … WHERE id = (SELECT … LIMIT 1) AND state = 'pending'`: SQLite
 * serializes writers, and on PostgreSQL the sub-select takes `FOR UPDATE SKIP LOCKED`, so two
 * queue instances on one database never run the same job at the same time.
 */
export interface InProcessQueueOptions {
  logger: Logger;
  /** Jobs one `run` executes at the same time. Default 1. */
  concurrency?: number;
  /** How long an idle worker waits before looking for due jobs again, ms. Default 1000. */
  pollIntervalMs?: number;
  /** Delay before the first retry, ms; doubles with each further attempt. Default 2000. */
  retryBaseMs?: number;
  /** Upper bound of the retry delay, ms. Default 3 600 000 (one hour). */
  maxRetryDelayMs?: number;
  /**
   * A running job whose lock was not refreshed for this long is taken to be abandoned by a
   * crashed worker and is retried, ms. Locks are refreshed every third of it. Default 300 000.
   */
  lockTimeoutMs?: number;
  /** `maxAttempts` of jobs enqueued without one. Default 5. */
  defaultMaxAttempts?: number;
  /** Recorded in `locked_by`. Default `<host>:<pid>:<random>`. */
  workerId?: string;
}

type JobRow = Omit<JobsTable, 'id'> & { id: number };

const MAX_ERROR_LENGTH = 4000;

export class InProcessJobQueue implements JobQueue {
  readonly kind = 'in-process' as const;

  private readonly registry = new TaskRegistry();
  private readonly db: Kysely<QueueTables>;
  private readonly logger: Logger;
  private readonly concurrency: number;
  private readonly pollIntervalMs: number;
  private readonly retryBaseMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly lockTimeoutMs: number;
  private readonly defaultMaxAttempts: number;
  private readonly workerId: string;
  private readonly runs = new RunTracker();
  private readonly idleWaiters = new Set<() => void>();
  private claimSequence = 0;
  private lastReclaimAt = 0;

  constructor(
    private readonly database: Database,
    options: InProcessQueueOptions,
  ) {
    this.db = tables<QueueTables>(database);
    this.logger = options.logger.child({ component: 'job-queue' });
    this.concurrency = positiveInteger('concurrency', options.concurrency ?? 1);
    this.pollIntervalMs = positive('pollIntervalMs', options.pollIntervalMs ?? 1000);
    this.retryBaseMs = positive('retryBaseMs', options.retryBaseMs ?? 2000);
    this.maxRetryDelayMs = positive('maxRetryDelayMs', options.maxRetryDelayMs ?? 3_600_000);
    this.lockTimeoutMs = positive('lockTimeoutMs', options.lockTimeoutMs ?? 300_000);
    this.defaultMaxAttempts = checkMaxAttempts(options.defaultMaxAttempts ?? 5);
    this.workerId = options.workerId ?? `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  }

  register<P>(task: TaskDefinition<P>): void {
    this.registry.register(task);
  }

  async enqueue<P>(name: string, payload: P, options: EnqueueOptions = {}): Promise<{ jobId: string }> {
    this.registry.validate(name, payload);
    const maxAttempts = checkMaxAttempts(options.maxAttempts ?? this.defaultMaxAttempts);
    const now = Date.now();
    const runAt = options.runAt ? options.runAt.getTime() : now;
    if (!Number.isFinite(runAt))
      throw new InputError('QUEUE_INVALID_OPTIONS', `runAt of ${name} is not a valid date`);
    const insert = this.db.insertInto('jobs').values({
      name,
      payload: JSON.stringify(payload ?? null),
      job_key: options.jobKey ?? null,
      run_at: runAt,
      attempts: 0,
      max_attempts: maxAttempts,
      last_error: null,
      locked_by: null,
      locked_at: null,
      state: 'pending',
      created_at: now,
    });
    const query =
      options.jobKey === undefined
        ? insert
        : insert.onConflict((oc) =>
            oc
              .column('job_key')
              // A literal, not a parameter: PostgreSQL must match it to the partial index.
              .where(sql.ref('state'), '=', sql.lit('pending'))
              .doUpdateSet((eb) => ({
                name: eb.ref('excluded.name'),
                payload: eb.ref('excluded.payload'),
                run_at: eb.ref('excluded.run_at'),
                max_attempts: eb.ref('excluded.max_attempts'),
                attempts: 0,
                last_error: null,
              })),
          );
    const row = await query.returning('id').executeTakeFirstOrThrow();
    this.wake();
    return { jobId: String(row.id) };
  }

  async run(signal: AbortSignal, options: { concurrency?: number } = {}): Promise<void> {
    const concurrency = positiveInteger('concurrency', options.concurrency ?? this.concurrency);
    await this.runs.track(signal, async (linked) => {
      await Promise.all(Array.from({ length: concurrency }, () => this.workLoop(linked)));
    });
  }

  async runUntilIdle(): Promise<void> {
    await this.runs.track(undefined, async (signal) => {
      let more = true;
      while (more && !signal.aborted) more = await this.runNext(signal);
    });
  }

  async stats(): Promise<{ pending: number; running: number; failed: number }> {
    const rows = await this.db
      .selectFrom('jobs')
      .select((eb) => ['state', eb.fn.countAll<number | string>().as('count')])
      .groupBy('state')
      .execute();
    const counts = { pending: 0, running: 0, failed: 0 };
    for (const row of rows) counts[row.state] = Number(row.count);
    return counts;
  }

  /** Stops running loops (in-flight jobs finish first). The database handle stays open. */
  async close(): Promise<void> {
    await this.runs.close();
  }

  private async workLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let worked = false;
      try {
        worked = await this.runNext(signal);
      } catch (error) {
        this.logger.error(
          { err: coerceError(error) },
          'cannot fetch or record a job; trying again after the poll interval',
        );
      }
      if (!worked) await this.idle(signal);
    }
  }

  /** Claims and runs one due job; false when none is due. */
  private async runNext(signal: AbortSignal): Promise<boolean> {
    const names = this.registry.names();
    if (names.length === 0) return false;
    await this.releaseStaleLocks();
    const job = await this.claim(names);
    if (!job) return false;
    await this.execute(job, signal);
    return true;
  }

  private async claim(names: string[]): Promise<JobRow | undefined> {
    const now = Date.now();
    const lockedBy = `${this.workerId}#${++this.claimSequence}`;
    const next = this.db
      .selectFrom('jobs')
      .select('id')
      .where('state', '=', 'pending')
      .where('run_at', '<=', now)
      .where('name', 'in', names)
      .orderBy('run_at')
      .orderBy('id')
      .limit(1)
      .$if(this.database.dialect === 'postgres', (qb) => qb.forUpdate().skipLocked());
    return this.db
      .updateTable('jobs')
      .set((eb) => ({
        state: 'running',
        locked_by: lockedBy,
        locked_at: now,
        attempts: eb('attempts', '+', 1),
      }))
      .where('id', '=', next)
      .where('state', '=', 'pending')
      .returningAll()
      .executeTakeFirst();
  }

  private async execute(job: JobRow, runSignal: AbortSignal): Promise<void> {
    const lockedBy = job.locked_by ?? '';
    const log = this.logger.child({ jobId: String(job.id), task: job.name, attempt: job.attempts });
    const task = this.registry.find(job.name);
    let payload: unknown;
    try {
      payload = JSON.parse(job.payload);
    } catch (error) {
      await this.failPermanently(job, lockedBy, `payload is not JSON: ${coerceError(error).message}`, log);
      return;
    }
    const parsed = task?.parse(payload) ?? { ok: false as const, message: `no handler for task ${job.name}` };
    if (!parsed.ok) {
      await this.failPermanently(
        job,
        lockedBy,
        `${parsed.message}; not retried: fix the producer and enqueue the job again`,
        log,
      );
      return;
    }
    const lost = new AbortController();
    const link = linkSignals(runSignal, lost.signal);
    const heartbeat = setInterval(
      () => void this.refreshLock(job.id, lockedBy, lost, log),
      Math.max(1, this.lockTimeoutMs / 3),
    );
    let failure: Error | undefined;
    try {
      await task?.run(parsed.value, { jobId: String(job.id), attempt: job.attempts, signal: link.signal });
    } catch (error) {
      failure = coerceError(error);
    } finally {
      clearInterval(heartbeat);
      link.dispose();
    }
    if (failure) await this.recordFailure(job, lockedBy, failure, log);
    else await this.recordSuccess(job, lockedBy, log);
  }

  private async recordSuccess(job: JobRow, lockedBy: string, log: Logger): Promise<void> {
    const result = await this.db
      .deleteFrom('jobs')
      .where('id', '=', job.id)
      .where('locked_by', '=', lockedBy)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) {
      log.warn(
        'job finished after its lock had expired and was released; it may run again (handlers are idempotent)',
      );
    } else {
      log.debug('job done');
    }
  }

  private async recordFailure(job: JobRow, lockedBy: string, failure: Error, log: Logger): Promise<void> {
    if (job.attempts >= job.max_attempts) {
      await this.markFailed(job, lockedBy, failure.message);
      log.error({ err: failure }, `job failed permanently after ${job.attempts} attempts`);
      return;
    }
    const delay = Math.min(this.maxRetryDelayMs, this.retryBaseMs * 2 ** (job.attempts - 1));
    await this.db
      .updateTable('jobs')
      .set({
        state: 'pending',
        run_at: Date.now() + delay,
        last_error: truncate(failure.message),
        locked_by: null,
        locked_at: null,
      })
      .where('id', '=', job.id)
      .where('locked_by', '=', lockedBy)
      .where('state', '=', 'running')
      .execute();
    log.warn(
      { err: failure, retryInMs: delay },
      `job failed (attempt ${job.attempts} of ${job.max_attempts}); will retry`,
    );
  }

  private async failPermanently(job: JobRow, lockedBy: string, message: string, log: Logger): Promise<void> {
    await this.markFailed(job, lockedBy, message);
    log.error(`job failed permanently: ${message}`);
  }

  private async markFailed(job: JobRow, lockedBy: string, message: string): Promise<void> {
    await this.db
      .updateTable('jobs')
      .set({ state: 'failed', last_error: truncate(message), locked_by: null, locked_at: null })
      .where('id', '=', job.id)
      .where('locked_by', '=', lockedBy)
      .where('state', '=', 'running')
      .execute();
  }

  private async refreshLock(id: number, lockedBy: string, lost: AbortController, log: Logger): Promise<void> {
    try {
      const result = await this.db
        .updateTable('jobs')
        .set({ locked_at: Date.now() })
        .where('id', '=', id)
        .where('locked_by', '=', lockedBy)
        .where('state', '=', 'running')
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0 && !lost.signal.aborted) {
        log.warn('the lock of this running job expired and was released; asking the handler to stop');
        lost.abort(new Error('job lock lost'));
      }
    } catch (error) {
      log.warn({ err: coerceError(error) }, 'cannot refresh the lock of a running job; will try again');
    }
  }

  private async releaseStaleLocks(): Promise<void> {
    const now = Date.now();
    if (now - this.lastReclaimAt < Math.min(this.lockTimeoutMs / 2, 10_000)) return;
    this.lastReclaimAt = now;
    const result = await this.db
      .updateTable('jobs')
      .set({
        state: sql<JobState>`case when attempts >= max_attempts then 'failed' else 'pending' end`,
        last_error: 'the worker running this job stopped refreshing its lock (it crashed or was killed)',
        locked_by: null,
        locked_at: null,
      })
      .where('state', '=', 'running')
      .where('locked_at', '<', now - this.lockTimeoutMs)
      .executeTakeFirst();
    const released = Number(result.numUpdatedRows);
    if (released > 0)
      this.logger.warn({ released }, 'released jobs whose worker stopped refreshing their locks');
  }

  private idle(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        this.idleWaiters.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, this.pollIntervalMs);
      signal.addEventListener('abort', finish, { once: true });
      this.idleWaiters.add(finish);
    });
  }

  private wake(): void {
    for (const waiter of [...this.idleWaiters]) waiter();
  }
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new InputError(
      'QUEUE_INVALID_OPTIONS',
      `job queue option ${name} must be a positive number, got ${value}`,
    );
  }
  return value;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value))
    throw new InputError(
      'QUEUE_INVALID_OPTIONS',
      `job queue option ${name} must be an integer, got ${value}`,
    );
  return positive(name, value);
}

function truncate(message: string): string {
  return message.length > MAX_ERROR_LENGTH ? `${message.slice(0, MAX_ERROR_LENGTH)}…` : message;
}
