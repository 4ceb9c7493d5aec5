/**
 * `transfer watch`: the scheduler of the transfer module.
 *
 * States: idle (check the kill file; stop if it exists or the signal aborted) → pass (for each
 * stream: skip while its pause file exists, discover exposures over one ssh connection, hand
 * each unpublished exposure to the queue as `transfer:exposure`, then catch up and archive
 * yesterday's night once each when their hours have come) → sleep `intervalSeconds` (cut short
 * by the signal) → idle. A failed pass is logged and alerted, never fatal; the next pass is the
 * retry. Workers (this process's queue, or `custodian worker` on other machines) do the copying,
 * so stopping the scheduler at any moment loses nothing.
 */
import type { Daemon } from '../../core/lifecycle/daemon.js';
import { runLoop } from '../../core/lifecycle/loop.js';
import type { Logger } from '../../core/logger.js';
import type { AlertSink } from '../../core/alerts/alerts.types.js';
import type { ExposureDispatcher, TransferService } from './transfer.service.js';

const PASS_FAILED = 'TRANSFER_PASS_FAILED';

export interface TransferWatchOptions {
  service: TransferService;
  /** Queues one exposure; absent with --dry-run (nothing is queued then). */
  dispatch?: ExposureDispatcher;
  dryRun?: boolean;
  intervalSeconds: number;
  killFile?: string;
  alerts: AlertSink;
  logger: Logger;
}

export class TransferWatchDaemon implements Daemon {
  readonly name = 'transfer:watch';

  constructor(private readonly options: TransferWatchOptions) {}

  async start(signal: AbortSignal): Promise<void> {
    const { service, alerts, logger } = this.options;
    const result = await runLoop({
      name: this.name,
      signal,
      intervalMs: this.options.intervalSeconds * 1000,
      killFile: this.options.killFile,
      logger,
      failureAlert: {
        sink: alerts,
        code: PASS_FAILED,
        message: (error) => `a transfer pass failed: ${error.message}; the next pass retries`,
      },
      iteration: async (loopSignal) => {
        let pass;
        try {
          pass = await service.runPass({
            dryRun: this.options.dryRun,
            dispatch: this.options.dryRun ? undefined : this.options.dispatch,
            signal: loopSignal,
          });
        } catch (error) {
          // Stopped by SIGTERM or the kill file in the middle of a step: not a failure.
          if (loopSignal.aborted) {
            logger.info('transfer pass interrupted by the stop request; the next start resumes it');
            return 'interrupted';
          }
          throw error;
        }
        for (const stream of pass.streams) {
          logger.info(
            {
              stream: stream.stream,
              dryRun: pass.dryRun,
              paused: stream.paused,
              queued: stream.queued,
              published: stream.published,
              wouldTransfer: stream.exposures.filter((e) => e.action === 'would-transfer').length,
              catchup: stream.catchup?.action,
              archive: stream.archive?.action,
              error: stream.error,
            },
            `transfer pass of ${stream.stream}`,
          );
        }
      },
    });
    logger.info({ stoppedBy: result.stoppedBy, passes: result.iterations }, 'transfer watch stopped');
  }
}
