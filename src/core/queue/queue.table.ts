import type { Generated } from 'kysely';

/**
 * The `jobs` table of the in-process queue. A job is `pending` (waiting for `run_at`), `running`
 * (claimed: `locked_by`/`locked_at` set and refreshed while it runs) or `failed` (attempts used
 * up, or a payload that can never be valid). Completed jobs are deleted, so the table only holds
 * work still to do and failures to look at.
 */
export type JobState = 'pending' | 'running' | 'failed';

export interface JobsTable {
  id: Generated<number>;
  /** Task name, `module:action`. */
  name: string;
  /** JSON text. */
  payload: string;
  /** At most one pending job per key (partial unique index). */
  job_key: string | null;
  /** Unix ms; the job is not started before. */
  run_at: number;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  locked_by: string | null;
  /** Unix ms of the claim or of the last heartbeat of the worker running it. */
  locked_at: number | null;
  state: JobState;
  created_at: number;
}

export interface QueueTables {
  jobs: JobsTable;
}
