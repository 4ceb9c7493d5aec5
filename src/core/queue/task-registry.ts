import type { JobContext, TaskDefinition } from './job-queue.js';
import { InputError, InternalError } from '../errors.js';

/**
 * The registered tasks of one queue, shared by both adapters so that enqueue-time validation and
 * run-time validation behave the same. Handlers are stored behind `unknown` so tasks with
 * different payload types can live in one map; the schema is what makes the cast safe.
 */
export interface RegisteredTask {
  readonly name: string;
  /** Parses a stored payload; `ok: false` carries a message fit for `last_error`. */
  parse(payload: unknown): { ok: true; value: unknown } | { ok: false; message: string };
  run(payload: unknown, context: JobContext): Promise<void>;
}

const TASK_NAME = /^[a-z][a-z0-9-]*:[A-Za-z0-9][A-Za-z0-9:_-]*$/;

export class TaskRegistry {
  private readonly tasks = new Map<string, RegisteredTask>();

  register<P>(task: TaskDefinition<P>): void {
    if (!TASK_NAME.test(task.name)) {
      throw new InternalError(
        'QUEUE_BAD_TASK_NAME',
        `task name "${task.name}" must look like module:action (e.g. transfer:sync)`,
      );
    }
    if (this.tasks.has(task.name)) {
      throw new InternalError(
        'QUEUE_DUPLICATE_TASK',
        `task ${task.name} is registered twice; register each task once`,
      );
    }
    this.tasks.set(task.name, {
      name: task.name,
      parse: (payload) => {
        const result = task.schema.safeParse(payload);
        if (result.success) return { ok: true, value: result.data };
        return {
          ok: false,
          message: `invalid payload for task ${task.name}: ${describeIssues(result.error.issues)}`,
        };
      },
      run: (payload, context) => task.handler(payload as P, context),
    });
  }

  find(name: string): RegisteredTask | undefined {
    return this.tasks.get(name);
  }

  names(): string[] {
    return [...this.tasks.keys()];
  }

  all(): RegisteredTask[] {
    return [...this.tasks.values()];
  }

  /** Throws unless `payload` is valid for the registered task `name` (enqueue side). */
  validate(name: string, payload: unknown): void {
    const task = this.tasks.get(name);
    if (!task) {
      throw new InternalError(
        'QUEUE_UNKNOWN_TASK',
        `cannot enqueue ${name}: no such task is registered (register it before enqueueing; known: ${this.names().join(', ') || 'none'})`,
      );
    }
    const parsed = task.parse(payload);
    if (!parsed.ok) throw new InputError('QUEUE_INVALID_PAYLOAD', parsed.message);
  }
}

function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues
    .map((issue) => `${issue.path.length ? issue.path.map(String).join('.') : '(payload)'}: ${issue.message}`)
    .join('; ');
}

/** Checks the common enqueue options; both adapters store max_attempts in a small integer. */
export function checkMaxAttempts(value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 32767) {
    throw new InputError(
      'QUEUE_INVALID_OPTIONS',
      `maxAttempts must be an integer from 1 to 32767, got ${value}`,
    );
  }
  return value;
}
