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
  attempt: number;
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
  /** Validates the payload against the registered task's schema, then stores the job. */
  enqueue<P>(name: string, payload: P, options?: EnqueueOptions): Promise<{ jobId: string }>;
  /** Executes jobs until the signal aborts; resolves once in-flight jobs finished. */
  run(signal: AbortSignal, options?: { concurrency?: number }): Promise<void>;
  /** Runs jobs until none is ready (tests, one-shot commands). */
  runUntilIdle(): Promise<void>;
  /** Counts for the dashboard and /metrics. */
  stats(): Promise<{ pending: number; running: number; failed: number }>;
  close(): Promise<void>;
}

/** Helper so task modules can declare tasks with inferred payload types. */
export function defineTask<P>(task: TaskDefinition<P>): TaskDefinition<P> {
  return task;
}
