import fs from 'node:fs/promises';
import type { AlertSink } from '../alerts/alerts.types.js';
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
  /**
   * One idempotent step; receives the loop's signal so long steps can stop early. Resolves
   * 'interrupted' when the signal stopped it midway: neither a failure nor a good pass.
   */
  iteration: (signal: AbortSignal) => Promise<void | 'interrupted'>;
  /** Called with the error of a failed iteration; the loop goes on. */
  onError?: (error: Error) => void | Promise<void>;
  /**
   * Raised (critical, key `name`) when an iteration fails, with `message(error)`; resolved after
   * every good iteration, not only in the process that raised it, so a restarted daemon clears
   * the alert of the one before.
   */
  failureAlert?: { sink: AlertSink; code: string; message: (error: Error) => string };
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
    const alert = options.failureAlert;
    try {
      const ended = await options.iteration(signal);
      if (ended !== 'interrupted') await alert?.sink.resolve?.(alert.code, name);
    } catch (thrown) {
      const error = coerceError(thrown);
      log.error({ err: error }, `${name}: iteration failed; continuing with the next one`);
      try {
        if (alert) {
          await alert.sink.raise({
            code: alert.code,
            severity: 'critical',
            message: alert.message(error),
            key: name,
          });
        }
        await options.onError?.(error);
      } catch (alertError) {
        log.error({ err: coerceError(alertError) }, `${name}: its failure could not be reported`);
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
