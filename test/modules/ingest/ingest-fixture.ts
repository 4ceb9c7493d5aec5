/**
 * Shared pieces of the ingest tests: a workspace with a drop and a data directory on the real
 * filesystem, a service wired to a test database, and snapshots of trees by content hash.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { Database } from '../../../src/core/db/database.js';
import { migrateToLatest } from '../../../src/core/db/migrations.js';
import { silentLogger } from '../../../src/core/logger.js';
import { tables } from '../../../src/core/db/database.js';
import {
  IngestRepository,
  IngestService,
  MoveAdapter,
  ingestMigrations,
  type AlertSink,
  type FsOps,
  type IngestFileSystem,
  type IngestServiceConfig,
} from '../../../src/modules/ingest/index.js';

export const PROJECT_ROOT = path.resolve(import.meta.dirname, '../../..');
export const ROOT_FIXTURE = path.resolve(PROJECT_ROOT, '../shared/fixtures/root/uproot-histograms.root');

export interface Workspace {
  root: string;
  dropDir: string;
  dataDir: string;
  cleanup(): void;
}

export function makeWorkspace(options: { dropBase?: string; dataBase?: string } = {}): Workspace {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-ingest-'));
  const dropRoot = options.dropBase
    ? fs.mkdtempSync(path.join(options.dropBase, 'custodian-drop-'))
    : undefined;
  const dropDir = dropRoot ?? path.join(root, 'incoming');
  const dataDir = options.dataBase
    ? fs.mkdtempSync(path.join(options.dataBase, 'custodian-data-'))
    : path.join(root, 'data');
  fs.mkdirSync(dropDir, { recursive: true });
  fs.mkdirSync(dataDir, { recursive: true });
  return {
    root,
    dropDir,
    dataDir,
    cleanup: () => {
      fs.rmSync(root, { recursive: true, force: true });
      if (dropRoot) fs.rmSync(dropRoot, { recursive: true, force: true });
      if (options.dataBase) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Writes a file into the drop directory, by default modified an hour ago (settled). */
export function dropFile(ws: Workspace, name: string, content: string | Buffer, ageSeconds = 3600): string {
  const file = path.join(ws.dropDir, name);
  fs.writeFileSync(file, content);
  const when = (Date.now() - ageSeconds * 1000) / 1000;
  fs.utimesSync(file, when, when);
  return file;
}

export class RecordingAlerts implements AlertSink {
  readonly raised: Parameters<AlertSink['raise']>[0][] = [];
  raise(alert: Parameters<AlertSink['raise']>[0]): Promise<void> {
    this.raised.push(alert);
    return Promise.resolve();
  }
}

export function testConfig(overrides: Partial<IngestServiceConfig> = {}): IngestServiceConfig {
  return {
    subsystems: ['EMC', 'HLT', 'TPC'],
    timezone: 'Europe/Zurich',
    replayModes: ['E'],
    settleSeconds: 5,
    maxUploadBytes: 16 * 1024 * 1024,
    ...overrides,
  };
}

export interface Harness {
  service: IngestService;
  repository: IngestRepository;
  files: IngestFileSystem;
  alerts: RecordingAlerts;
}

export function buildService(
  database: Database,
  ws: Workspace,
  options: {
    config?: Partial<IngestServiceConfig>;
    ops?: Partial<FsOps>;
    files?: IngestFileSystem;
    clock?: () => number;
  } = {},
): Harness {
  const repository = new IngestRepository(database);
  const files =
    options.files ?? new MoveAdapter({ dropDir: ws.dropDir, dataDir: ws.dataDir, ops: options.ops });
  const alerts = new RecordingAlerts();
  const service = new IngestService({
    config: testConfig(options.config),
    repository,
    files,
    alerts,
    logger: silentLogger(),
    clock: options.clock,
  });
  return { service, repository, files, alerts };
}

/** Migrates (idempotent) and empties the module's tables, so each test starts clean. */
export async function resetTables(database: Database): Promise<void> {
  await migrateToLatest(database, [ingestMigrations]);
  const db = tables<{ ingest_files: object; ingest_runs: object }>(database);
  await db.deleteFrom('ingest_files').execute();
  await db.deleteFrom('ingest_runs').execute();
}

export function sha256(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** Every file under `dir` (dot-files included) → sha256 of its content; paths `/`-separated. */
export function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (current: string, rel: string): void => {
    if (!fs.existsSync(current)) return;
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      const relPath = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(full, relPath);
      else out[relPath] = sha256(fs.readFileSync(full));
    }
  };
  walk(dir, '');
  return out;
}
