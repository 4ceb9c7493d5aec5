// The one place the browser tests get a dashboard from: the real `custodian serve` (the built
// binary) over a SQLite workspace seeded through the real services — users added, alerts raised,
// files dropped and organized by an ingest pass, transfer attempts recorded by the transfer
// module's repository — exactly what a user's dashboard would show.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  defaultSeed,
  dropFileName,
  REPLAY_MODES,
  SUBSYSTEMS,
  TIMEZONE,
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
  /** New files reach the dashboard the way the online system's files do (dropped, then organized). */
  addFiles(files: SeedFile[]): Promise<void>;
  close(): Promise<void>;
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
