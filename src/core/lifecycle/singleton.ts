import type { LockHandle, LockManager } from './lock.js';
import type { Logger } from '../logger.js';
import { coerceError } from '../errors.js';
import { linkSignals, sleep } from './abort.js';

export interface SingletonOptions {
  /** How often to try again while another process holds the lock, ms. Default 5000. */
  retryMs?: number;
  logger?: Logger;
}

/**
 * Runs `fn` in at most one process at a time across all processes sharing the database.
 *
 * States: waiting (another process holds `name`; try again every `retryMs`) → holding (`fn` runs
 * with a signal that aborts on the outer abort or when the lock is lost) → released. If the lock
 * is lost while the outer signal is still live, `fn` is expected to return early and we go back
 * to waiting, since the other holder may die too. Resolves when `fn` returned while holding the
 * lock or when `signal` aborts; an error thrown by `fn` is passed on after the lock is released.
 */
export async function runAsSingleton(
  locks: LockManager,
  name: string,
  signal: AbortSignal,
  fn: (signal: AbortSignal) => Promise<void>,
  options: SingletonOptions = {},
): Promise<void> {
  const retryMs = options.retryMs ?? 5000;
  const log = options.logger?.child({ lock: name });
  let waitingLogged = false;
  while (!signal.aborted) {
    let handle: LockHandle | undefined;
    try {
      handle = await locks.tryAcquire(name);
      if (!handle && !waitingLogged) log?.info(`${name} runs in another process; waiting for its lock`);
      waitingLogged = handle === undefined;
    } catch (error) {
      log?.warn({ err: coerceError(error) }, `cannot try lock ${name}; trying again in ${retryMs} ms`);
    }
    if (!handle) {
      await sleep(retryMs, signal);
      continue;
    }
    log?.debug(`acquired lock ${name}`);
    const link = linkSignals(signal, handle.lost);
    try {
      await fn(link.signal);
    } finally {
      link.dispose();
      await handle
        .release()
        .catch((error: unknown) => log?.warn({ err: coerceError(error) }, `cannot release lock ${name}`));
    }
    if (!handle.lost.aborted || signal.aborted) return;
    log?.warn(`lost lock ${name}; waiting to take it again`);
  }
}
