// The one place the browser tests get a dashboard from: the real `custodian serve` (the built
// binary) over a SQLite workspace seeded through the real services — users added, alerts raised,
// files dropped and organized by an ingest pass — exactly what a user's dashboard would show.
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
} from './seed.js';
import { freePort, startCli, tempDir } from '../../helpers/cli.js';
import { loadAppConfig } from '../../../src/app/config.schema.js';
import { openApp } from '../../../src/app/app.js';
import { silentLogger } from '../../../src/core/logger.js';

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
  /** New files reach the dashboard the way the online system's files do (dropped, then organized). */
  addFiles(files: SeedFile[]): Promise<void>;
  close(): Promise<void>;
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

export async function startDashboard(seed: Seed = defaultSeed()): Promise<Dashboard> {
  if (!fs.existsSync(path.join(WEB_ROOT, 'index.html'))) {
    throw new Error(`no web build in ${WEB_ROOT}: run npm run build`);
  }
  const dir = tempDir('custodian-browser-');
  const dropDir = path.join(dir, 'incoming');
  fs.mkdirSync(dropDir);
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
