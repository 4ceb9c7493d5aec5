import fs from 'node:fs/promises';
import type { Logger } from '../logger.js';
import { coerceError } from '../errors.js';
import { sleep } from './abort.js';

export { sleep } from './abort.js';

export interface LoopOptions {
  /** Shown in logs. */
  name: string;
  /** Aborting stops the loop after the current iteration. */
  signal: AbortSignal;
  /** Pause between the end of one iteration and the start of the next, ms. */
  intervalMs: number;
  /** When this file exists the loop stops before its next iteration (an operator's off switch). */
  killFile?: string;
  logger: Logger;
  /** One idempotent step; receives the loop's signal so long steps can stop early. */
  iteration: (signal: AbortSignal) => Promise<void>;
  /** Called with the error of a failed iteration (raise an alert here); the loop goes on. */
  onError?: (error: Error) => void | Promise<void>;
}

export interface LoopResult {
  stoppedBy: 'signal' | 'kill-file';
  /** Iterations started, failed ones included. */
  iterations: number;
}

/**
 * A daemon loop. States: checking the kill file → running an iteration → sleeping `intervalMs`
 * → checking again. An iteration that throws is logged and handed to `onError`, and the loop
 * continues with the next one (the next run of an idempotent step is the retry). Abort ends the
 * sleep at once but never interrupts an iteration from outside; the loop resolves when the
 * current iteration has returned.
 */
export async function runLoop(options: LoopOptions): Promise<LoopResult> {
  const { name, signal, logger } = options;
  const log = logger.child({ loop: name });
  let iterations = 0;
  while (!signal.aborted) {
    if (options.killFile !== undefined && (await exists(options.killFile, log))) {
      log.warn(
        { killFile: options.killFile },
        `kill file ${options.killFile} exists: stopping ${name} (remove the file to let it run again)`,
      );
      return { stoppedBy: 'kill-file', iterations };
    }
    iterations += 1;
    try {
      await options.iteration(signal);
    } catch (thrown) {
      const error = coerceError(thrown);
      log.error({ err: error }, `${name}: iteration failed; continuing with the next one`);
      try {
        await options.onError?.(error);
      } catch (alertError) {
        log.error({ err: coerceError(alertError) }, `${name}: onError failed`);
      }
    }
    if (signal.aborted) break;
    await sleep(options.intervalMs, signal);
  }
  log.info(`${name} stopped`);
  return { stoppedBy: 'signal', iterations };
}

async function exists(file: string, log: Logger): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch (thrown) {
    const error = coerceError(thrown) as NodeJS.ErrnoException;
    if (error.code !== 'ENOENT')
      log.warn({ err: error, killFile: file }, 'cannot check the kill file; carrying on');
    return false;
  }
}
