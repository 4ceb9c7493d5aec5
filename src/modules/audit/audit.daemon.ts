/**
 * `audit watch`: the audit scheduler.
 *
 * States: idle (check the kill file; stop if it exists or the signal aborted) → pick (recover
 * sites left running by a dead process, then take the ready site never audited or audited
 * longest ago) → dispatch (queue `audit:site` for a worker; without a queue, audit it here) →
 * sleep `intervalSeconds` → idle. A failed pass is logged and alerted; the next pass retries.
 */
import type { Daemon } from '../../core/lifecycle/daemon.js';
import { runLoop } from '../../core/lifecycle/loop.js';
import type { Logger } from '../../core/logger.js';
import type { AlertSink } from '../../core/alerts/alerts.types.js';
import type { AuditService } from './audit.service.js';

const PASS_FAILED = 'AUDIT_SCHEDULER_FAILED';

export interface AuditWatchOptions {
  service: AuditService;
  /** Queues one site's audit; absent: the scheduler audits in its own process. */
  dispatch?: (site: string) => Promise<void>;
  intervalSeconds: number;
  killFile?: string;
  alerts: AlertSink;
  logger: Logger;
}

export class AuditWatchDaemon implements Daemon {
  readonly name = 'audit:watch';

  constructor(private readonly options: AuditWatchOptions) {}

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
        message: (error) => `the audit scheduler failed: ${error.message}; the next pass retries`,
      },
      iteration: async (loopSignal) => {
        const site = await service.pickSite();
        if (site === undefined) logger.debug('no audit site is ready');
        else if (this.options.dispatch) {
          await this.options.dispatch(site);
          logger.info({ site }, `audit of ${site} queued`);
        } else await service.runSite(site, { signal: loopSignal });
      },
    });
    logger.info({ stoppedBy: result.stoppedBy, passes: result.iterations }, 'audit watch stopped');
  }
}
