/**
 * The transfer module's public surface: other code imports only from here.
 *
 * Wiring (composition root):
 *   migrateToLatest(database, [..., transferMigrations])
 *   const transfer = createTransferModule({ config: config.transfer, database, alerts, locks, logger });
 *   registerApiRoutes(server, transferRoutes, { service: transfer.service });
 *   for (const task of transfer.tasks) queue.register(task);
 *   daemons.push(transfer.watchDaemon({ dispatch }));
 */
import type { Database } from '../../core/db/database.js';
import type { LockManager } from '../../core/lifecycle/lock.js';
import type { Logger } from '../../core/logger.js';
import type { TaskDefinition } from '../../core/queue/job-queue.js';
import { TarArchiver } from './archive.adapter.js';
import { NodeFileHasher, type FileHasher } from './checksum.adapter.js';
import { LocalExposureFiles } from './publish.adapter.js';
import { transferSourceConnector } from './rsync.adapter.js';
import { TransferWatchDaemon } from './transfer.daemon.js';
import { transferTasks } from './transfer.jobs.js';
import type { Archiver, ExposureFiles, SourceConnector } from './transfer.ports.js';
import { TransferRepository } from './transfer.repository.js';
import type { ExposurePayload, TransferConfig } from './transfer.schema.js';
import type { AlertSink } from '../../core/alerts/alerts.types.js';
import { TransferService, type ExposureDispatcher } from './transfer.service.js';

export {
  parseManifest,
  formatManifestLine,
  normalizeManifestPath,
  type ManifestEntry,
  type MalformedLine,
  type ParsedManifest,
} from './manifest.parser.js';
export { NodeFileHasher, type FileHasher, type NodeFileHasherOptions } from './checksum.adapter.js';
export { verifyDirectory, type VerifyResult, type VerifyOptions, type VerifyDeps } from './verify.service.js';
export { registerTransferCommands, renderVerify, type TransferCommandDeps } from './transfer.commands.js';
export { transferMigrations } from './transfer.migrations.js';
export { transferRoutes, type TransferRoutesOptions } from './transfer.routes.js';
export { transferConfigSchema, type TransferConfig, type StreamConfig } from './transfer.schema.js';
export { TransferService, TRANSFER_ALERTS, summarizeVerify, type PassOptions } from './transfer.service.js';
export { TransferRepository, type StageRecord, type TransferSnapshot } from './transfer.repository.js';
export { TransferWatchDaemon } from './transfer.daemon.js';
export { TRANSFER_EXPOSURE_TASK, exposureJobKey, transferTasks } from './transfer.jobs.js';
export { nightOf, yesterdayOf } from './night.calendar.js';
export { TarArchiver } from './archive.adapter.js';
export { RsyncConnector } from './rsync.adapter.js';
export { LocalExposureFiles } from './publish.adapter.js';
export type * from './transfer.types.js';
export type * from './transfer.ports.js';

export interface TransferModuleDeps {
  config: TransferConfig;
  database: Database;
  alerts: AlertSink;
  logger: Logger;
  locks?: LockManager;
  clock?: () => number;
  connector?: SourceConnector;
  files?: ExposureFiles;
  hasher?: FileHasher;
  archiver?: Archiver;
}

export interface TransferModule {
  service: TransferService;
  repository: TransferRepository;
  tasks: TaskDefinition<ExposurePayload>[];
  /** The `transfer watch` scheduler (name `transfer:watch`); run it as a singleton. */
  watchDaemon(options: { dispatch?: ExposureDispatcher; dryRun?: boolean }): TransferWatchDaemon;
  close(): Promise<void>;
}

/** Builds the module's service, scheduler and tasks from the config section and shared handles. */
export function createTransferModule(deps: TransferModuleDeps): TransferModule {
  const logger = deps.logger.child({ module: 'transfer' });
  const repository = new TransferRepository(deps.database);
  const service = new TransferService({
    config: deps.config,
    repository,
    connector: deps.connector ?? transferSourceConnector(deps.logger),
    files: deps.files ?? new LocalExposureFiles(),
    hasher: deps.hasher ?? new NodeFileHasher(),
    archiver: deps.archiver ?? new TarArchiver(),
    alerts: deps.alerts,
    logger,
    locks: deps.locks,
    clock: deps.clock,
  });
  return {
    service,
    repository,
    tasks: transferTasks(() => service),
    watchDaemon: (options) =>
      new TransferWatchDaemon({
        service,
        dispatch: options.dispatch,
        dryRun: options.dryRun,
        intervalSeconds: deps.config.intervalSeconds,
        killFile: deps.config.killFile,
        alerts: deps.alerts,
        logger,
      }),
    close: () => service.close(),
  };
}
