import type { ZodType } from 'zod';

/**
 * The job queue port. Two adapters implement it with the same contract (tested by one suite):
 * - in-process (SQLite deployments): jobs persisted in the `jobs` table, run by this process;
 * - graphile-worker (PostgreSQL deployments): any number of `custodian worker` processes.
 *
 * Contract: a job is a name `module:action` and a JSON payload validated by the task's zod
 * schema before the handler runs. A handler must be idempotent: a job may run again after a crash.
 * A job that throws is retried with exponential backoff up to `maxAttempts`; a failing job never
 * blocks other jobs; a job is executed by exactly one worker at a time, even with several workers.
 */
export interface TaskDefinition<P> {
  name: string;
  schema: ZodType<P>;
  handler: (payload: P, context: JobContext) => Promise<void>;
}

export interface JobContext {
  jobId: string;
  /** 1 on the first run, 2 on the first retry, … */
  attempt: number;
  /**
   * Aborts when the queue is stopping (or the job's lock was lost). The queue still waits for the
   * handler; a handler may stop early by throwing, and the job is then retried.
   */
  signal: AbortSignal;
}

export interface EnqueueOptions {
  /** A job with the same key that is still pending is replaced instead of duplicated. */
  jobKey?: string;
  runAt?: Date;
  /** Default 5. */
  maxAttempts?: number;
}

export interface JobQueue {
  readonly kind: 'in-process' | 'graphile-worker';
  /** Registers a task handler. All tasks must be registered before `run`. */
  register<P>(task: TaskDefinition<P>): void;
  /**
   * Validates the payload against the registered task's schema, then stores the job. Throws
   * InputError `QUEUE_INVALID_PAYLOAD` for a bad payload, InternalError `QUEUE_UNKNOWN_TASK` for
   * a task that is not registered in this process.
   */
  enqueue<P>(name: string, payload: P, options?: EnqueueOptions): Promise<{ jobId: string }>;
  /** Executes jobs until the signal aborts; resolves once in-flight jobs finished. */
  run(signal: AbortSignal, options?: { concurrency?: number }): Promise<void>;
  /** Runs jobs until none is ready (tests, one-shot commands). */
  runUntilIdle(): Promise<void>;
  /** Counts for the dashboard and /metrics (pending includes jobs waiting for a retry or runAt). */
  stats(): Promise<{ pending: number; running: number; failed: number }>;
  close(): Promise<void>;
}

/** Helper so task modules can declare tasks with inferred payload types. */
export function defineTask<P>(task: TaskDefinition<P>): TaskDefinition<P> {
  return task;
}
