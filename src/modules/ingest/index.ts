/**
 * The ingest module's public surface: other code imports only from here.
 *
 * Wiring (composition root):
 *   migrateToLatest(database, [..., ingestMigrations])
 *   const ingest = createIngestModule({ config: config.ingest, database, alerts, logger });
 *   registerApiRoutes(server, ingestRoutes, { service: ingest.service });
 *   for (const task of ingest.tasks) queue.register(task);
 *   daemons.push(ingest.watchDaemon);
 *   registerIngestCommands(program, { service, watch, output, timezone, logger });
 */
import type { Database } from '../../core/db/database.js';
import type { Logger } from '../../core/logger.js';
import type { TaskDefinition } from '../../core/queue/job-queue.js';
import { IngestWatchDaemon } from './ingest.daemon.js';
import { ingestTasks } from './ingest.jobs.js';
import type { IngestFileSystem } from './ingest.ports.js';
import { IngestRepository } from './ingest.repository.js';
import type { IngestConfig, IngestPassPayload } from './ingest.schema.js';
import { IngestService } from './ingest.service.js';
import type { AlertSink, Clock } from './ingest.types.js';
import { MoveAdapter } from './move.adapter.js';

export { ingestMigrations } from './ingest.migrations.js';
export { ingestRoutes, type IngestRoutesOptions } from './ingest.routes.js';
export { registerIngestCommands, type IngestCommandDeps } from './ingest.commands.js';
export { ingestConfigSchema, type IngestConfig } from './ingest.schema.js';
export {
  IngestService,
  type IngestServiceDeps,
  type IngestServiceConfig,
  type PassOptions,
} from './ingest.service.js';
export { IngestRepository, type IngestSnapshot } from './ingest.repository.js';
export { IngestWatchDaemon, type IngestWatchOptions } from './ingest.daemon.js';
export { INGEST_PASS_TASK, ingestPassTask, ingestTasks } from './ingest.jobs.js';
export { MoveAdapter, type MoveAdapterOptions, type FsOps } from './move.adapter.js';
export { parseName, parseDropName, parseProcessedName, uploadFileName } from './name.parser.js';
export { validateRootFile } from './root-file.validator.js';
export type * from './ingest.types.js';
export { SKIP_REASONS } from './ingest.types.js';
export type { IngestFileSystem } from './ingest.ports.js';

export interface IngestModuleDeps {
  config: IngestConfig;
  database: Database;
  alerts: AlertSink;
  logger: Logger;
  /** Unix ms; default Date.now. */
  clock?: Clock;
  /** Default: the real filesystem (MoveAdapter over config.dropDir / config.dataDir). */
  files?: IngestFileSystem;
}

export interface IngestModule {
  service: IngestService;
  repository: IngestRepository;
  /** The `ingest watch` daemon (name `ingest:watch`); run it as a singleton. */
  watchDaemon: IngestWatchDaemon;
  /** Queue tasks (`ingest:pass`). */
  tasks: TaskDefinition<IngestPassPayload>[];
}

/** Builds the module's service, daemon and tasks from the config section and shared handles. */
export function createIngestModule(deps: IngestModuleDeps): IngestModule {
  const logger = deps.logger.child({ module: 'ingest' });
  const repository = new IngestRepository(deps.database);
  const files = deps.files ?? new MoveAdapter({ dropDir: deps.config.dropDir, dataDir: deps.config.dataDir });
  const service = new IngestService({
    config: deps.config,
    repository,
    files,
    alerts: deps.alerts,
    logger,
    clock: deps.clock,
  });
  const watchDaemon = new IngestWatchDaemon({
    service,
    intervalSeconds: deps.config.intervalSeconds,
    killFile: deps.config.killFile,
    alerts: deps.alerts,
    logger,
  });
  return { service, repository, watchDaemon, tasks: ingestTasks(() => service) };
}
