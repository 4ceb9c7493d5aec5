import type { Logger } from '../logger.js';

/** Exit code of a forced stop (as after Ctrl-C). */
export const FORCED_EXIT_CODE = 130;

export interface StopSignalOptions {
  logger: Logger;
  /** Called on the second signal, just before the process exits (last-chance cleanup; keep it synchronous). */
  onForce?: (signal: NodeJS.Signals) => void;
  /** Default SIGINT and SIGTERM. */
  signals?: readonly NodeJS.Signals[];
}

/**
 * The first SIGINT/SIGTERM aborts `controller`: daemons finish (or roll back) their current step
 * and return. A second one means the operator will not wait: the process exits at once with
 * code 130. Returns a disposer that removes the handlers (call it once stopped, so a later signal
 * gets Node's default behaviour again).
 */
export function installStopSignals(controller: AbortController, options: StopSignalOptions): () => void {
  const signals = options.signals ?? ['SIGINT', 'SIGTERM'];
  let received = 0;
  const handler = (signal: NodeJS.Signals) => {
    received += 1;
    if (received === 1) {
      options.logger.info(
        { signal },
        'stopping gracefully after the current step; send the signal again to force',
      );
      controller.abort(new Error(`stopped by ${signal}`));
      return;
    }
    options.logger.warn({ signal }, `second ${signal}: forcing exit`);
    try {
      options.onForce?.(signal);
    } finally {
      process.exit(FORCED_EXIT_CODE);
    }
  };
  for (const signal of signals) process.on(signal, handler);
  return () => {
    for (const signal of signals) process.off(signal, handler);
  };
}
