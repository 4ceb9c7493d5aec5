import path from 'node:path';
import fs from 'node:fs';
import type { ConfigSource } from '../core/config/config.loader.js';
import type { Logger } from '../core/logger.js';
import { openDatabase, type Database } from '../core/db/database.js';
import { migrateToLatest, type MigrationSet } from '../core/db/migrations.js';
import { createJobQueue } from '../core/queue/queue.factory.js';
import type { JobQueue } from '../core/queue/job-queue.js';
import { queueMigrations } from '../core/queue/queue.migrations.js';
import { createLockManager } from '../core/lifecycle/lock.factory.js';
import { lockMigrations } from '../core/lifecycle/lock.migrations.js';
import type { LockManager } from '../core/lifecycle/lock.js';
import type { Daemon } from '../core/lifecycle/daemon.js';
import { runAsSingleton } from '../core/lifecycle/singleton.js';
import { AuthRepository } from '../core/auth/auth.repository.js';
import { AuthService } from '../core/auth/auth.service.js';
import { authMigrations } from '../core/auth/auth.migrations.js';
import { AlertsRepository } from '../core/alerts/alerts.repository.js';
import { AlertsService } from '../core/alerts/alerts.service.js';
import { alertsMigrations } from '../core/alerts/alerts.migrations.js';
import { createAlertChannels } from '../core/alerts/alert-channels.js';
import { InputError, NotFoundError } from '../core/errors.js';
import {
  createIngestModule,
  ingestMigrations,
  type IngestModule,
  type IngestService,
} from '../modules/ingest/index.js';
import {
  createTransferModule,
  exposureJobKey,
  transferMigrations,
  TRANSFER_EXPOSURE_TASK,
  type SourceConnector,
  type TransferModule,
  type TransferService,
} from '../modules/transfer/index.js';
import {
  AUDIT_SITE_TASK,
  auditMigrations,
  createAuditModule,
  siteJobKey,
  type AuditModule,
  type AuditService,
  type CatalogDumper,
} from '../modules/audit/index.js';
import { enabledModules, type Config, type ModuleName } from './config.schema.js';

/**
 * The composition root: the only place that constructs adapters and services. Every role (a
 * one-shot command, serve, start, worker) opens the same App; what runs is decided by the role.
 */
export interface App {
  readonly config: Config;
  readonly source: ConfigSource;
  readonly logger: Logger;
  readonly database: Database;
  /** Migrations applied when this App opened the database (empty when up to date). */
  readonly migrations: { set: string; migration: string }[];
  readonly modules: ModuleName[];
  readonly queue: JobQueue;
  readonly locks: LockManager;
  readonly auth: AuthService;
  readonly alerts: AlertsService;
  readonly ingest?: IngestModule;
  readonly transfer?: TransferModule;
  readonly audit?: AuditModule;
  /** The ingest service, or an InputError saying the config has no ingest section. */
  requireIngest(): IngestService;
  /** The transfer service, or an InputError saying the config has no transfer section. */
  requireTransfer(): TransferService;
  /** The audit service, or an InputError saying the config has no audit section. */
  requireAudit(): AuditService;
  /** Queues an audit of `site` (or of the next site by the picking rule); returns the site. */
  queueAudit(site?: string): Promise<string>;
  /** Runs `audit watch` (the scheduler under its lock, with this process's workers). */
  runAuditWatch(signal: AbortSignal): Promise<void>;
  /** Runs `ingest watch` until the signal aborts or the kill file appears. */
  runIngestWatch(signal: AbortSignal): Promise<void>;
  /**
   * Runs `transfer watch`: the scheduler under its lock and, unless `scheduleOnly` or `dryRun`,
   * this process's queue workers, until the signal aborts or the kill file appears.
   */
  runTransferWatch(signal: AbortSignal, options: { dryRun: boolean; scheduleOnly: boolean }): Promise<void>;
  /** Singleton loops `custodian start` runs (each under a lock). */
  daemons(): Daemon[];
  close(): Promise<void>;
}

/** Every schema part, core first. Each set has its own bookkeeping table, so order only matters for foreign keys. */
export const ALL_MIGRATIONS: readonly MigrationSet[] = [
  authMigrations,
  alertsMigrations,
  queueMigrations,
  lockMigrations,
  ingestMigrations,
  transferMigrations,
  auditMigrations,
];

export async function openApp(options: {
  config: Config;
  source: ConfigSource;
  logger: Logger;
  /** The transfer module's sources, when the CLI started connecting before the app opened. */
  transferConnector?: SourceConnector;
}): Promise<App> {
  const { config, source, logger } = options;
  const database = await openDatabase(config.database, { baseDir: source.baseDir });
  try {
    const reports = await migrateToLatest(database, ALL_MIGRATIONS);
    const migrations = reports.flatMap((r) =>
      r.results
        .filter((m) => m.status === 'Success')
        .map((m) => ({ set: r.set, migration: m.migrationName })),
    );
    const connectionString = database.dialect === 'postgres' ? config.database : undefined;
    const queue = createJobQueue(database, {
      logger: logger.child({ component: 'queue' }),
      connectionString,
    });
    const locks = createLockManager(database, {
      logger: logger.child({ component: 'locks' }),
      connectionString,
    });
    const auth = new AuthService({ repository: new AuthRepository(database) });
    const alerts = new AlertsService({
      repository: new AlertsRepository(database),
      channels: createAlertChannels(config.alerts, logger),
      logger: logger.child({ component: 'alerts' }),
      reminderMinutes: config.alerts.reminderMinutes,
    });
    const ingest = config.ingest
      ? createIngestModule({ config: config.ingest, database, alerts, logger })
      : undefined;
    for (const task of ingest?.tasks ?? []) queue.register(task);
    const transfer = config.transfer
      ? createTransferModule({
          config: config.transfer,
          database,
          alerts,
          locks,
          logger,
          connector: options.transferConnector,
        })
      : undefined;
    for (const task of transfer?.tasks ?? []) queue.register(task);
    const audit = config.audit
      ? createAuditModule({
          config: config.audit,
          database,
          alerts,
          locks,
          logger,
          catalog: ingest && config.ingest ? ingestCatalog(ingest, config.ingest.dataDir) : undefined,
          resolvePath: (file) => path.resolve(source.baseDir, file),
        })
      : undefined;
    for (const task of audit?.tasks ?? []) queue.register(task);
    const dispatchAudit = async (site: string) => {
      await queue.enqueue(AUDIT_SITE_TASK, { site }, { jobKey: siteJobKey({ site }) });
    };
    const dispatch = async (payload: { stream: string; night: string; exposure: string }) => {
      await queue.enqueue(TRANSFER_EXPOSURE_TASK, payload, { jobKey: exposureJobKey(payload) });
    };

    /**
     * A scheduler under its lock plus, when `withWorkers`, this process's queue workers, on one
     * signal: the kill file ends the scheduler, and the workers stop too; a job in progress sees
     * the abort and stops between steps (an exposure resumes from staging, an audit starts over).
     */
    const runWithWorkers = async (daemon: Daemon, signal: AbortSignal, withWorkers: boolean) => {
      const inner = new AbortController();
      const stop = () => inner.abort();
      signal.addEventListener('abort', stop, { once: true });
      const workers = withWorkers ? queue.run(inner.signal) : Promise.resolve();
      try {
        await runAsSingleton(locks, `daemon:${daemon.name}`, inner.signal, (s) => daemon.start(s), {
          logger,
        });
      } finally {
        stop();
        signal.removeEventListener('abort', stop);
        await workers;
      }
    };
    const requireIngest = (): IngestService => {
      if (!ingest) {
        throw new InputError(
          'INGEST_NOT_CONFIGURED',
          `the configuration ${source.file} has no ingest: section; add one (see custodian init)`,
        );
      }
      return ingest.service;
    };
    const requireAudit = (): AuditService => {
      if (!audit) {
        throw new InputError(
          'AUDIT_NOT_CONFIGURED',
          `the configuration ${source.file} has no audit: section; add one (see custodian init and the README)`,
        );
      }
      return audit.service;
    };
    const requireTransfer = (): TransferService => {
      if (!transfer) {
        throw new InputError(
          'TRANSFER_NOT_CONFIGURED',
          `the configuration ${source.file} has no transfer: section; add one (see custodian init and the README)`,
        );
      }
      return transfer.service;
    };

    return {
      config,
      source,
      logger,
      database,
      migrations,
      modules: enabledModules(config),
      queue,
      locks,
      auth,
      alerts,
      ingest,
      transfer,
      audit,
      requireIngest,
      requireTransfer,
      requireAudit,
      queueAudit: async (site) => {
        const service = requireAudit();
        if (site !== undefined) await service.assertReady(site);
        const name = site ?? (await service.pickSite());
        if (name === undefined)
          throw new NotFoundError(
            'AUDIT_NO_SITE_READY',
            'no audit site is ready (all running, halted or disabled)',
          );
        await dispatchAudit(name);
        return name;
      },
      runAuditWatch: async (signal) => {
        requireAudit();
        if (!audit) return;
        const daemon = audit.watchDaemon({ dispatch: dispatchAudit });
        await runWithWorkers(daemon, signal, true);
      },
      runIngestWatch: async (signal) => {
        requireIngest();
        await ingest?.watchDaemon.start(signal);
      },
      runTransferWatch: async (signal, options) => {
        requireTransfer();
        if (!transfer) return;
        const daemon = transfer.watchDaemon({ dispatch, dryRun: options.dryRun });
        await runWithWorkers(daemon, signal, !options.dryRun && !options.scheduleOnly);
      },
      daemons: () => [
        ...(ingest ? [ingest.watchDaemon] : []),
        ...(transfer ? [transfer.watchDaemon({ dispatch })] : []),
        ...(audit ? [audit.watchDaemon({ dispatch: dispatchAudit })] : []),
      ],
      close: async () => {
        await transfer?.close();
        await queue.close();
        await database.close();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}

/**
 * `inventory: catalog`: the files the ingest module has recorded, as a dump in the site namespace
 * (`/<last component of dataDir>/Run…/…`), so a site serving the ingest tree can be audited
 * against Custodian's own records.
 */
function ingestCatalog(ingest: IngestModule, dataDir: string): CatalogDumper {
  return async (_site, file) => {
    const snapshot = await ingest.repository.snapshot();
    const top = `/${path.basename(dataDir)}`;
    const lines = snapshot.files.map(
      (f) => `${top}/${f.path}\t${f.size}\t${Math.floor(f.timestamp / 1000)}\n`,
    );
    await fs.promises.writeFile(file, lines.join(''));
  };
}
