// Scale-out on PostgreSQL: one `transfer watch --schedule-only` scheduler and two `custodian
// worker` processes transfer a night of 50 exposures. Each exposure is published exactly once,
// both workers take part, and a worker killed (with its rsync) in the middle of an exposure
// leaves nothing lost: the other worker resumes the staged copy and publishes it.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, tempDir, writeConfig } from '../../helpers/cli.js';
import { createTestDatabase, isPostgresReachable } from '../../helpers/database.js';
import { hasProgram, requirement } from '../../helpers/environment.js';
import { loadAppConfig } from '../../../src/app/config.schema.js';
import { openApp } from '../../../src/app/app.js';
import { silentLogger } from '../../../src/core/logger.js';
import { snapshotTree, writeExposure } from '../../modules/transfer/transfer-fixture.js';

const NIGHT = '20261121';
const EXPOSURES = 50;
const BIG = String(EXPOSURES).padStart(8, '0');

interface Proc {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** In its own process group, so a kill takes its rsync children down with it, as a crash would. */
function spawnCli(args: string[], cwd: string): Proc {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout?.on('data', () => undefined);
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}

function killGroup(proc: Proc, signal: NodeJS.Signals): void {
  try {
    if (proc.child.pid !== undefined) process.kill(-proc.child.pid, signal);
  } catch {
    // already gone
  }
}

/** `exposure` values of the JSON log lines whose message matches. */
function loggedExposures(stderr: string, message: RegExp): string[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg?: string; exposure?: string })
    .filter((entry) => entry.exposure !== undefined && message.test(entry.msg ?? ''))
    .map((entry) => entry.exposure as string);
}

async function until(what: string, condition: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('transfer on two workers [postgres]', async () => {
  if (requirement(await isPostgresReachable(), 'PostgreSQL on 127.0.0.1:5432')) return;
  if (requirement(hasProgram('rsync'), 'apt-get install -y rsync')) return;
  const dir = tempDir('custodian-workers-');
  const db = await createTestDatabase('postgres');
  const procs: Proc[] = [];
  after(async () => {
    for (const proc of procs) killGroup(proc, 'SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    spawnSync('chmod', ['-R', 'u+w', dir]);
    fs.rmSync(dir, { recursive: true, force: true });
    await db.drop();
  });

  test('50 exposures, each exactly once, both workers used, a killed worker loses nothing', async () => {
    const source = path.join(dir, 'source');
    for (let i = 1; i <= EXPOSURES; i++)
      writeExposure(source, { night: NIGHT, exposure: String(i).padStart(8, '0') });
    // The last exposure is big enough that a worker can be killed while copying it.
    const bigDir = path.join(source, NIGHT, BIG);
    const big = Buffer.alloc(64 << 20, 7);
    const files: Record<string, string> = {};
    for (let part = 0; part < 6; part++) {
      fs.writeFileSync(path.join(bigDir, `big-${part}.fits`), big);
    }
    for (const name of fs.readdirSync(bigDir)) if (name.startsWith('big-')) files[name] = '';
    const { createHash } = await import('node:crypto');
    const bigHash = createHash('sha256').update(big).digest('hex');
    fs.appendFileSync(
      path.join(bigDir, `checksum-${BIG}.sha256sum`),
      Object.keys(files)
        .map((name) => `${bigHash}  ${name}\n`)
        .join(''),
    );
    const sourceTree = snapshotTree(source).filter((e) => e.sha256 !== undefined);

    const configFile = writeConfig(
      dir,
      [
        `database: ${db.url}`,
        'logging: { level: info }',
        'transfer:',
        '  intervalSeconds: 1',
        '  catchupHour: 23',
        '  archiveHour: 23',
        '  streams:',
        '    - name: desi_spectro_data',
        '      source: ./source',
        '      staging: ./staging',
        '      destination: ./spectro',
        '      archive: ./archive',
        '',
      ].join('\n'),
    );

    const workerA = spawnCli(['worker', '--concurrency', '1', '--log-level', 'info'], dir);
    const workerB = spawnCli(['worker', '--concurrency', '1', '--log-level', 'info'], dir);
    procs.push(workerA, workerB);
    await until(
      'both workers to start',
      () =>
        /worker started/.test(workerA.stderr() + workerB.stderr()) && /worker started/.test(workerB.stderr()),
    );
    const scheduler = spawnCli(['transfer', 'watch', '--schedule-only', '--log-level', 'info'], dir);
    procs.push(scheduler);

    // Kill whichever worker starts copying the big exposure, rsync included.
    let killed: Proc | undefined;
    await until('a worker to start the big exposure', () => {
      killed = [workerA, workerB].find((w) => loggedExposures(w.stderr(), /copying from/).includes(BIG));
      return killed !== undefined;
    });
    assert.ok(killed);
    killGroup(killed, 'SIGKILL');
    await killed.exited;
    const survivor = killed === workerA ? workerB : workerA;
    assert.equal(
      loggedExposures(killed.stderr(), /transferred, verified and published/).includes(BIG),
      false,
      'the kill landed before the big exposure was published',
    );

    const destination = path.join(dir, 'spectro', NIGHT);
    await until('every exposure to be published', () => {
      return (
        fs.existsSync(destination) &&
        fs.readdirSync(destination).filter((n) => /^\d{8}$/.test(n)).length === EXPOSURES
      );
    });
    await until('the survivor to log the big exposure', () =>
      loggedExposures(survivor.stderr(), /transferred, verified and published/).includes(BIG),
    ).catch((error: unknown) => {
      throw new Error(
        `${String(error)}\nsurvivor:\n${survivor.stderr().slice(-3000)}\nscheduler:\n${scheduler.stderr().slice(-3000)}`,
      );
    });
    killGroup(scheduler, 'SIGTERM');
    killGroup(survivor, 'SIGTERM');
    await Promise.all([scheduler.exited, survivor.exited]);

    // Nothing lost or corrupted: the published tree equals the source, and staging is empty.
    const publishedTree = snapshotTree(path.join(dir, 'spectro')).filter((e) => e.sha256 !== undefined);
    assert.deepEqual(
      publishedTree.map((e) => [e.path, e.sha256]),
      sourceTree.map((e) => [e.path, e.sha256]),
    );
    const staged = fs.existsSync(path.join(dir, 'staging', NIGHT))
      ? fs.readdirSync(path.join(dir, 'staging', NIGHT))
      : [];
    assert.deepEqual(staged, [], 'nothing left in staging');

    // Each exposure published exactly once, by one worker; both workers took part.
    const doneA = loggedExposures(workerA.stderr(), /transferred, verified and published/);
    const doneB = loggedExposures(workerB.stderr(), /transferred, verified and published/);
    assert.ok(doneA.length > 0 && doneB.length > 0, `both workers used (${doneA.length} + ${doneB.length})`);
    const twice = [...doneA, ...doneB].filter((e, i, all) => all.indexOf(e) !== i);
    assert.deepEqual(twice, [], 'no exposure published twice');
    assert.equal(doneA.length + doneB.length, EXPOSURES);
    assert.equal(new Set([...doneA, ...doneB]).size, EXPOSURES);

    const { config, source: configSource } = loadAppConfig({ file: configFile });
    const app = await openApp({ config, source: configSource, logger: silentLogger() });
    try {
      const snapshot = await app.transfer?.repository.snapshot();
      assert.ok(snapshot);
      const publishes = snapshot.history.filter((h) => h.stage === 'publish');
      assert.equal(publishes.length, EXPOSURES, 'one publish attempt per exposure');
      assert.ok(publishes.every((p) => p.ok));
      const status = await app.requireTransfer().status();
      assert.equal(status.length, EXPOSURES);
      assert.ok(
        status.every((s) => s.rsync?.ok && s.checksum?.ok && s.publish?.ok),
        'every exposure verified',
      );
    } finally {
      await app.close();
    }
  });
});
