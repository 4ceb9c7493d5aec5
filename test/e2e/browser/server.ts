// The one place the browser tests get a dashboard from: the real `custodian serve` (the built
// binary) over a SQLite workspace seeded through the real services — users added, alerts raised,
// files dropped and organized by an ingest pass, transfer attempts recorded by the transfer
// module's repository, storage sites audited by the audit service — exactly what a user's dashboard
// would show.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AUDIT_AGE_DAYS,
  AUDIT_IGNORE_AGE_DAYS,
  AUDIT_MAX_MISSING,
  AUDIT_MAX_ORPHANS,
  AUDIT_NAMESPACE,
  defaultSeed,
  dropFileName,
  REPLAY_MODES,
  SUBSYSTEMS,
  TIMEZONE,
  type AuditSeed,
  type Seed,
  type SeedFile,
  type SeedUser,
  type TransferSeed,
} from './seed.js';
import { freePort, startCli, tempDir } from '../../helpers/cli.js';
import { loadAppConfig } from '../../../src/app/config.schema.js';
import { openApp, type App } from '../../../src/app/app.js';
import { silentLogger } from '../../../src/core/logger.js';
import { TransferRepository } from '../../../src/modules/transfer/transfer.repository.js';

export interface Credentials {
  username: string;
  password: string;
}

export interface Dashboard {
  /** e.g. http://127.0.0.1:43121 — the dashboard at /, the API under /api/v1. */
  baseUrl: string;
  /** What the dashboard was seeded with. */
  seed: Seed;
  users: { admin: Credentials; operator: Credentials; viewer: Credentials };
  /** Per transfer stream (when seeded): its folders, e.g. `destination/<NIGHT>/<EXPOSURE>`. */
  transferDirs: Record<string, TransferDirs>;
  /** Per audit site (when seeded): where its storage root and inventory dump are. */
  auditDirs: Record<string, AuditDirs>;
  /** New files reach the dashboard the way the online system's files do (dropped, then organized). */
  addFiles(files: SeedFile[]): Promise<void>;
  close(): Promise<void>;
}

export interface AuditDirs {
  /** The storage root, `file://` + this in the config; its last component is the namespace. */
  storage: string;
  inventory: string;
}

export interface TransferDirs {
  source: string;
  staging: string;
  destination: string;
  archive: string;
}

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const WEB_ROOT = path.join(repoRoot, 'dist', 'web');

function credentials(seed: Seed, role: SeedUser['role']): Credentials {
  const user = seed.users.find((u) => u.role === role);
  if (!user) throw new Error(`the seed has no ${role} user`);
  return { username: user.name, password: user.password };
}

function dropFiles(dropDir: string, files: SeedFile[]): void {
  const old = new Date(Date.now() - 3600_000);
  for (const file of files) {
    const target = path.join(dropDir, dropFileName(file));
    fs.writeFileSync(target, Buffer.alloc(file.size, file.run % 251));
    fs.utimesSync(target, old, old);
  }
}

function transferFolders(dir: string, transfer: TransferSeed | undefined): Record<string, TransferDirs> {
  const dirs: Record<string, TransferDirs> = {};
  for (const stream of transfer?.streams ?? []) {
    const base = path.join(dir, 'transfer', stream);
    const folders: TransferDirs = {
      source: path.join(base, 'source'),
      staging: path.join(base, 'staging'),
      destination: path.join(base, 'destination'),
      archive: path.join(base, 'archive'),
    };
    for (const folder of [folders.source, folders.staging, folders.destination, folders.archive]) {
      fs.mkdirSync(folder, { recursive: true });
    }
    dirs[stream] = folders;
  }
  return dirs;
}

function transferConfig(dirs: Record<string, TransferDirs>): string[] {
  const streams = Object.entries(dirs);
  if (streams.length === 0) return [];
  return [
    'transfer:',
    '  timezone: America/Phoenix',
    '  streams:',
    ...streams.flatMap(([name, d]) => [
      `    - name: ${name}`,
      `      source: ${d.source}`,
      `      staging: ${d.staging}`,
      `      destination: ${d.destination}`,
      `      archive: ${d.archive}`,
    ]),
  ];
}

/**
 * Writes each published exposure as the transfer daemon leaves it: its files and a sha256sum
 * manifest under the destination, and the same files at the source it came from, plus the late
 * files that arrived at the source since.
 */
function writePublished(transfer: TransferSeed, dirs: Record<string, TransferDirs>): void {
  for (const exposure of transfer.published) {
    const streamDirs = dirs[exposure.stream];
    if (!streamDirs) throw new Error(`published exposure of unknown stream ${exposure.stream}`);
    const manifest = exposure.files
      .map((file) => `${createHash('sha256').update(file.content).digest('hex')}  ${file.name}\n`)
      .join('');
    for (const root of [streamDirs.destination, streamDirs.source]) {
      const folder = path.join(root, exposure.night, exposure.exposure);
      for (const file of exposure.files) {
        fs.mkdirSync(path.dirname(path.join(folder, file.name)), { recursive: true });
        fs.writeFileSync(path.join(folder, file.name), file.content);
      }
      fs.writeFileSync(path.join(folder, `checksum-${exposure.exposure}.sha256sum`), manifest);
    }
    const sourceFolder = path.join(streamDirs.source, exposure.night, exposure.exposure);
    for (const file of exposure.late) fs.writeFileSync(path.join(sourceFolder, file.name), file.content);
  }
}

/** Sets a tree's times, deepest first (so setting a file's time does not touch its parent's again). */
function ageTree(root: string, at: Date): void {
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    const full = path.join(root, entry.name);
    if (entry.isDirectory()) ageTree(full, at);
    else fs.utimesSync(full, at, at);
  }
  fs.utimesSync(root, at, at);
}

/**
 * Writes each audit site as a real tree under its storage root, and its inventory dump, with every
 * time AUDIT_AGE_DAYS old so that the age rule reports every difference.
 */
function writeAuditSites(dir: string, audit: AuditSeed | undefined): Record<string, AuditDirs> {
  const dirs: Record<string, AuditDirs> = {};
  const old = new Date(Date.now() - AUDIT_AGE_DAYS * 86_400_000);
  for (const site of audit?.sites ?? []) {
    const base = path.join(dir, 'audit', site.name);
    const storage = path.join(base, AUDIT_NAMESPACE.slice(1));
    const local = (sitePath: string) => path.join(storage, sitePath.slice(AUDIT_NAMESPACE.length));
    fs.mkdirSync(storage, { recursive: true });
    for (const file of site.files) {
      fs.mkdirSync(path.dirname(local(file.path)), { recursive: true });
      fs.writeFileSync(local(file.path), Buffer.alloc(file.size, 0x61));
    }
    for (const empty of site.emptyDirs) fs.mkdirSync(local(empty), { recursive: true });
    ageTree(storage, old);
    const inventory = path.join(base, 'inventory.tsv');
    const mtime = Math.floor(old.getTime() / 1000);
    fs.writeFileSync(inventory, site.inventory.map((f) => `${f.path}\t${f.size}\t${mtime}\n`).join(''));
    dirs[site.name] = { storage, inventory };
  }
  return dirs;
}

function auditConfig(audit: AuditSeed | undefined, dirs: Record<string, AuditDirs>): string[] {
  if (!audit) return [];
  return [
    'audit:',
    `  ignoreAgeDays: ${AUDIT_IGNORE_AGE_DAYS}`,
    '  ignorePatterns: []',
    `  maxMissing: ${AUDIT_MAX_MISSING}`,
    `  maxOrphans: ${AUDIT_MAX_ORPHANS}`,
    '  reportsDir: ./audit-reports',
    '  sites:',
    ...audit.sites.flatMap((site) => {
      const d = dirs[site.name];
      if (!d) throw new Error(`no folders for audit site ${site.name}`);
      return [
        `    - name: ${site.name}`,
        `      storage: file://${d.storage}`,
        `      directories: [${site.directories.join(', ')}]`,
        '      concurrency: 2',
        '      retries: 0',
        `      inventory: ${d.inventory}`,
      ];
    }),
  ];
}

/** Audits each site as `custodian audit run --site` would, as often as the seed says. */
async function seedAudit(app: App, audit: AuditSeed): Promise<void> {
  const service = app.requireAudit();
  for (const site of audit.sites) {
    for (let i = 0; i < site.runs; i++) {
      const run = await service.runSite(site.name);
      if (run.outcome === 'failed') throw new Error(`seed audit of ${site.name} failed: ${run.message}`);
    }
    if (site.after) await service.setStatus(site.name, site.after);
  }
}

async function seedTransfer(app: App, transfer: TransferSeed): Promise<void> {
  const repository = new TransferRepository(app.database);
  for (const attempt of transfer.attempts) await repository.recordStage(attempt);
  for (const night of transfer.nights) {
    await repository.markCatchup(night.stream, night.night, night.catchupAt);
    await repository.markArchive(night.stream, night.night, night.archiveAt, true, '');
  }
}

export async function startDashboard(seed: Seed = defaultSeed()): Promise<Dashboard> {
  if (!fs.existsSync(path.join(WEB_ROOT, 'index.html'))) {
    throw new Error(`no web build in ${WEB_ROOT}: run npm run build`);
  }
  const dir = tempDir('custodian-browser-');
  const dropDir = path.join(dir, 'incoming');
  fs.mkdirSync(dropDir);
  const transferDirs = transferFolders(dir, seed.transfer);
  if (seed.transfer) writePublished(seed.transfer, transferDirs);
  const auditDirs = writeAuditSites(dir, seed.audit);
  const configFile = path.join(dir, 'custodian.yaml');
  fs.writeFileSync(
    configFile,
    [
      'database: sqlite:./custodian.db',
      'logging: { level: warn }',
      'ingest:',
      '  dropDir: ./incoming',
      '  dataDir: ./data',
      `  subsystems: [${SUBSYSTEMS.join(', ')}]`,
      `  timezone: ${TIMEZONE}`,
      `  replayModes: [${REPLAY_MODES.join(', ')}]`,
      '  settleSeconds: 0',
      ...transferConfig(transferDirs),
      ...auditConfig(seed.audit, auditDirs),
      '',
    ].join('\n'),
  );

  const { config, source } = loadAppConfig({ file: configFile });
  const app = await openApp({ config, source, logger: silentLogger() });
  let token: string;
  try {
    for (const user of seed.users) await app.auth.addUser(user.name, user.role, user.password);
    token = (await app.auth.createToken(credentials(seed, 'operator').username, 'browser tests')).token;
    for (const alert of seed.alerts) {
      await app.alerts.raise({ code: alert.code, severity: alert.severity, message: alert.message });
      if (alert.resolved) await app.alerts.resolve(alert.code);
    }
    dropFiles(dropDir, seed.files);
    await app.requireIngest().runPass();
    if (seed.transfer) await seedTransfer(app, seed.transfer);
    if (seed.audit) await seedAudit(app, seed.audit);
  } finally {
    await app.close();
  }

  const port = await freePort();
  const server = startCli(['serve', '--port', String(port), '--log-level', 'info'], {
    cwd: dir,
    readyWhen: /dashboard and API on/,
  });
  await server.ready;
  const baseUrl = `http://127.0.0.1:${port}`;
  return {
    baseUrl,
    seed,
    users: {
      admin: credentials(seed, 'admin'),
      operator: credentials(seed, 'operator'),
      viewer: credentials(seed, 'viewer'),
    },
    transferDirs,
    auditDirs,
    addFiles: async (files) => {
      dropFiles(dropDir, files);
      const response = await fetch(`${baseUrl}/api/v1/ingest/passes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      if (!response.ok) throw new Error(`ingest pass failed: ${response.status} ${await response.text()}`);
    },
    close: async () => {
      server.child.kill('SIGTERM');
      await server.exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
