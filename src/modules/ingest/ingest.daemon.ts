/**
 * `ingest watch`: the organizer as a daemon.
 *
 * States: idle (check the kill file; stop if it exists or the signal aborted) → pass (one
 * organize pass over the drop directory; a failed pass is logged and alerted, never fatal, and
 * the alert is resolved by every pass that succeeds, also one raised by an earlier process) →
 * sleep `intervalSeconds` (cut short by the signal) → idle. A pass is idempotent and finishes
 * what an interrupted pass left, so stopping at any point, even with kill -9, loses nothing.
 * SIGINT/SIGTERM abort the signal: the current pass completes, then the daemon returns.
 */
import type { Daemon } from '../../core/lifecycle/daemon.js';
import { runLoop as coreRunLoop, type LoopOptions, type LoopResult } from '../../core/lifecycle/loop.js';
import type { Logger } from '../../core/logger.js';
import type { AlertSink, PassResult } from './ingest.types.js';

const PASS_FAILED = 'INGEST_PASS_FAILED';

export interface IngestWatchOptions {
  service: { runPass(): Promise<PassResult> };
  /** Pause between passes (ingest.intervalSeconds). */
  intervalSeconds: number;
  /** ingest.killFile: the daemon stops before its next pass while this file exists. */
  killFile?: string;
  alerts: AlertSink;
  logger: Logger;
  /** The loop runner; default core/lifecycle runLoop (tests may pass their own). */
  runLoop?: (options: LoopOptions) => Promise<LoopResult>;
}

export class IngestWatchDaemon implements Daemon {
  readonly name = 'ingest:watch';

  constructor(private readonly options: IngestWatchOptions) {}

  async start(signal: AbortSignal): Promise<void> {
    const { service, alerts, logger } = this.options;
    const runLoop = this.options.runLoop ?? coreRunLoop;
    const result = await runLoop({
      name: this.name,
      signal,
      intervalMs: this.options.intervalSeconds * 1000,
      killFile: this.options.killFile,
      logger,
      failureAlert: {
        sink: alerts,
        code: PASS_FAILED,
        message: (error) =>
          `an ingest pass failed: ${error.message}; files stay in the drop directory and the next pass retries`,
      },
      iteration: async () => {
        await service.runPass();
      },
    });
    logger.info({ stoppedBy: result.stoppedBy, passes: result.iterations }, 'ingest watch stopped');
  }
}
