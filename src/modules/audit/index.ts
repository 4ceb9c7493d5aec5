/**
 * The audit module's public surface: other code imports only from here.
 *
 * Wiring (composition root):
 *   migrateToLatest(database, [..., auditMigrations])
 *   const audit = createAuditModule({ config: config.audit, database, alerts, locks, logger, catalog });
 *   registerApiRoutes(server, auditRoutes, { service: audit.service, queueRun });
 *   for (const task of audit.tasks) queue.register(task);
 *   daemons.push(audit.watchDaemon({ dispatch }));
 */
import type { Database } from '../../core/db/database.js';
import type { LockManager } from '../../core/lifecycle/lock.js';
import type { Logger } from '../../core/logger.js';
import type { TaskDefinition } from '../../core/queue/job-queue.js';
import { AuditWatchDaemon } from './audit.daemon.js';
import { auditTasks } from './audit.jobs.js';
import type { CompareEngine, ListerFactory } from './audit.ports.js';
import { AuditRepository } from './audit.repository.js';
import type { AuditConfig, SitePayload } from './audit.schema.js';
import type { AlertSink } from '../../core/alerts/alerts.types.js';
import { AuditService, type CatalogDumper } from './audit.service.js';
import { DuckDbCompareEngine } from './compare.engine.js';
import { DefaultListerFactory } from './lister.factory.js';
import { LocalAuditFiles } from './report-files.adapter.js';

export { auditMigrations } from './audit.migrations.js';
export { auditRoutes, type AuditRoutesOptions } from './audit.routes.js';
export { registerAuditCommands, type AuditCommandDeps } from './audit.commands.js';
export { auditConfigSchema, type AuditConfig, type SiteConfig } from './audit.schema.js';
export { AuditService, AUDIT_ALERTS, type CatalogDumper } from './audit.service.js';
export { AuditRepository } from './audit.repository.js';
export { AuditWatchDaemon } from './audit.daemon.js';
export { AUDIT_SITE_TASK, siteJobKey, auditTasks } from './audit.jobs.js';
export { DuckDbCompareEngine } from './compare.engine.js';
export { DefaultListerFactory } from './lister.factory.js';
export type * from './audit.types.js';
export type * from './audit.ports.js';

export interface AuditModuleDeps {
  config: AuditConfig;
  database: Database;
  alerts: AlertSink;
  logger: Logger;
  locks?: LockManager;
  catalog?: CatalogDumper;
  /** Resolves relative inventory paths (the config file's folder). */
  resolvePath?: (file: string) => string;
  clock?: () => number;
  listers?: ListerFactory;
  engine?: CompareEngine;
}

export interface AuditModule {
  service: AuditService;
  repository: AuditRepository;
  tasks: TaskDefinition<SitePayload>[];
  /** The `audit watch` scheduler (name `audit:watch`); run it as a singleton. */
  watchDaemon(options: { dispatch?: (site: string) => Promise<void> }): AuditWatchDaemon;
}

export function createAuditModule(deps: AuditModuleDeps): AuditModule {
  const logger = deps.logger.child({ module: 'audit' });
  const repository = new AuditRepository(deps.database);
  const service = new AuditService({
    config: deps.config,
    repository,
    listers: deps.listers ?? new DefaultListerFactory(),
    engine: deps.engine ?? new DuckDbCompareEngine(),
    files: new LocalAuditFiles(),
    alerts: deps.alerts,
    logger,
    locks: deps.locks,
    catalog: deps.catalog,
    resolvePath: deps.resolvePath,
    clock: deps.clock,
  });
  return {
    service,
    repository,
    tasks: auditTasks(() => service),
    watchDaemon: (options) =>
      new AuditWatchDaemon({
        service,
        dispatch: options.dispatch,
        intervalSeconds: deps.config.intervalSeconds,
        killFile: deps.config.killFile,
        alerts: deps.alerts,
        logger,
      }),
  };
}
