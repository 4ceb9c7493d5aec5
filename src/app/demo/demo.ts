import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadAppConfig } from '../config.schema.js';
import { openApp } from '../app.js';
import { start } from '../runtime.js';
import type { CliContext } from '../cli-context.js';
import { OnlineSystemSimulator } from './online-system.simulator.js';
import { ObservatorySimulator } from './observatory.simulator.js';
import { StorageSitesSimulator } from './storage-sites.simulator.js';

/**
 * `custodian demo`: a self-contained workspace on SQLite with simulated sources, running the real
 * pipeline. Re-running it with the same --dir continues the same workspace.
 */
const demoConfig = (
  dir: string,
) => `# Custodian demo workspace (created by "custodian demo"). Paths are relative to this file.
database: sqlite:./custodian.db
server: { host: 127.0.0.1, port: 8080, publicRead: true }
logging: { level: info }
ingest:
  dropDir: ./incoming
  dataDir: ./data
  subsystems: [EMC, HLT, TPC]
  timezone: Europe/Zurich
  replayModes: [E]
  settleSeconds: 1
  intervalSeconds: 2
  killFile: ./stop-ingest
transfer:
  intervalSeconds: 3
  timezone: America/Phoenix
  # Hour 0 so yesterday's night is caught up and archived at once, whatever the time of day.
  catchupHour: 0
  archiveHour: 0
  killFile: ./stop-transfer
  streams:
    - name: desi_spectro_data
      source: ./observatory          # a local path here; ssh://user@host:port/path in production
      staging: ./staging
      destination: ./spectro/data
      archive: ./archive
      checksumFile: checksum-{exposure}.sha256sum
audit:
  ignoreAgeDays: 5
  ignorePatterns: [/store/unmerged/]
  maxMissing: 100
  maxOrphans: 100
  reportsDir: ./audit-reports
  intervalSeconds: 10           # one site per pass
  killFile: ./stop-audit
  sites:
    - name: T2_HEALTHY
      storage: ${JSON.stringify(`file://${path.join(path.resolve(dir), 'sites', 'T2_HEALTHY', 'store')}`)}
      directories: [mc, data]
      inventory: ./sites/T2_HEALTHY.inventory.tsv
    - name: T2_LOSSY
      storage: ${JSON.stringify(`file://${path.join(path.resolve(dir), 'sites', 'T2_LOSSY', 'store')}`)}
      directories: [mc, data]
      inventory: ./sites/T2_LOSSY.inventory.tsv
`;

export async function runDemo(options: { dir: string; port: number; context: CliContext }): Promise<void> {
  const { dir, port, context } = options;
  fs.mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'custodian.yaml');
  if (!fs.existsSync(configFile)) fs.writeFileSync(configFile, demoConfig(dir));
  const { config, source } = loadAppConfig({ file: configFile, port });
  const logger = context.logger();
  const app = await openApp({ config, source, logger });
  try {
    const passwordFile = path.join(dir, 'admin-password.txt');
    if ((await app.auth.listUsers()).length === 0) {
      const password = randomBytes(9).toString('base64url');
      await app.auth.addUser('admin', 'admin', password);
      fs.writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    }
    const password = fs.existsSync(passwordFile)
      ? fs.readFileSync(passwordFile, 'utf8').trim()
      : '(see your records)';
    const ingest = app.requireIngest();
    const lastRun = (await ingest.listRuns(1, 0)).items[0]?.run;
    const simulator = new OnlineSystemSimulator({
      dropDir: config.ingest?.dropDir ?? path.join(dir, 'incoming'),
      subsystems: config.ingest?.subsystems ?? ['EMC', 'HLT', 'TPC'],
      timezone: config.ingest?.timezone ?? 'Europe/Zurich',
      firstRun: (lastRun ?? 300000) + 1,
      tickMs: 3000,
      ticksPerRun: 12,
      logger,
    });
    const loops = [(signal: AbortSignal) => simulator.start(signal)];
    const stream = config.transfer?.streams[0];
    if (config.transfer && stream && !stream.source.includes('://')) {
      // Before the first pass, so the scheduler never finds the source missing.
      fs.mkdirSync(stream.source, { recursive: true });
      const observatory = new ObservatorySimulator({
        sourceDir: stream.source,
        workDir: path.join(dir, 'observatory-work'),
        timezone: config.transfer.timezone,
        tickMs: 4000,
        logger,
      });
      loops.push((signal) => observatory.start(signal));
    }
    if (config.audit) {
      const sites = new StorageSitesSimulator({ root: path.join(dir, 'sites'), tickMs: 60_000, logger });
      await sites.seed();
      loops.push((signal) => sites.start(signal));
    }
    await start(app, {
      extraLoops: loops,
      onListening: (origin) => {
        process.stdout.write(
          [
            '',
            `Custodian demo running in ${dir}`,
            `  dashboard:  ${origin}/`,
            `  API docs:   ${origin}/api/docs`,
            `  log in as:  admin / ${password}   (also in ${passwordFile})`,
            '  A simulated online system drops histogram files every few seconds; watch the Runs page.',
            '  A simulated observatory writes an exposure every few seconds (some with a bad checksum or',
            "  a late file); watch the Transfer page: yesterday's night is archived, tonight's flows in.",
            '  Two storage sites (T2_HEALTHY, and T2_LOSSY with lost files and dark data) are audited',
            '  in turn; see the Audit page.',
            '  Stop with Ctrl-C.',
            '',
          ].join('\n'),
        );
      },
    });
  } finally {
    await app.close();
  }
}
