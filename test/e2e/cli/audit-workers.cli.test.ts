// Site audits spread over workers on PostgreSQL: two `custodian worker` processes, three file://
// sites, one `audit:site` job per site queued through app.queueAudit (what the scheduler and
// POST /api/v1/audit/runs do). Each site is audited exactly once, with the right answers, both
// workers take part, and every site is ready again afterwards.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BIN, tempDir, writeConfig } from '../../helpers/cli.js';
import { createTestDatabase, isPostgresReachable } from '../../helpers/database.js';
import { requirement } from '../../helpers/environment.js';
import { loadAppConfig } from '../../../src/app/config.schema.js';
import { openApp } from '../../../src/app/app.js';
import { silentLogger } from '../../../src/core/logger.js';

const SITES = ['T2_A', 'T2_B', 'T2_C'];
const NOW = Math.floor(Date.now() / 1000);
const OLD = NOW - 30 * 86_400;

interface Proc {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

function spawnCli(args: string[], cwd: string): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout?.on('data', () => undefined);
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}

interface LogLine {
  msg?: string;
  pid?: number;
  site?: string;
  run?: number;
}

/** The pino JSON lines of a process's stderr whose message matches. */
function logged(stderr: string, message: RegExp): LogLine[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine)
    .filter((entry) => message.test(entry.msg ?? ''));
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A site with one missing file (20 B) and one orphan (40 B); directories old too. */
function writeSite(root: string, name: string): void {
  const store = path.join(root, name, 'store');
  const put = (rel: string, size: number) => {
    const file = path.join(store, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, Buffer.alloc(size, 2));
  };
  // Some bulk, so that one audit lasts long enough for the other worker to take the next job.
  for (let i = 0; i < 40; i++) for (let j = 0; j < 25; j++) put(`mc/d${i}/f${j}.root`, 10);
  put('mc/x/orphan.root', 40);
  const setAge = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const child = path.join(dir, entry.name);
      if (entry.isDirectory()) setAge(child);
      else fs.utimesSync(child, OLD, OLD);
    }
    fs.utimesSync(dir, OLD, OLD);
  };
  setAge(store);
  const lines = [`/store/mc/x/lost.root\t20\t${OLD}`];
  for (let i = 0; i < 40; i++)
    for (let j = 0; j < 25; j++) lines.push(`/store/mc/d${i}/f${j}.root\t10\t${OLD}`);
  fs.writeFileSync(path.join(root, `${name}.tsv`), `${lines.join('\n')}\n`);
}

describe('audit on two workers [postgres]', async () => {
  if (requirement(await isPostgresReachable(), 'PostgreSQL on 127.0.0.1:5432')) return;
  const dir = tempDir('custodian-audit-workers-');
  const db = await createTestDatabase('postgres');
  const procs: Proc[] = [];
  after(async () => {
    for (const proc of procs) if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    fs.rmSync(dir, { recursive: true, force: true });
    await db.drop();
  });

  test('three sites, each audited exactly once, both workers used, every site ready again', async () => {
    for (const name of SITES) writeSite(dir, name);
    const configFile = writeConfig(
      dir,
      [
        `database: ${db.url}`,
        'logging: { level: info }',
        'audit:',
        '  reportsDir: ./reports',
        '  sites:',
        ...SITES.map(
          (name) =>
            `    - { name: ${name}, storage: "file://${path.join(dir, name, 'store')}", directories: [mc], concurrency: 1, inventory: ./${name}.tsv }`,
        ),
        '',
      ].join('\n'),
    );

    const { config, source } = loadAppConfig({ file: configFile });
    // Opening the app first migrates the database, so the workers do not race to do it.
    const app = await openApp({ config, source, logger: silentLogger() });
    try {
      const workerA = spawnCli(['worker', '--concurrency', '1', '--log-level', 'debug'], dir);
      const workerB = spawnCli(['worker', '--concurrency', '1', '--log-level', 'debug'], dir);
      procs.push(workerA, workerB);
      // graphile-worker says (at debug) when its runner listens for jobs.
      const listening = (w: Proc) =>
        /worker started/.test(w.stderr()) && /looking for jobs/i.test(w.stderr());
      await until('both workers to listen for jobs', () => listening(workerA) && listening(workerB)).catch(
        (error: unknown) => {
          throw new Error(`${String(error)}\nA:\n${workerA.stderr()}\nB:\n${workerB.stderr()}`);
        },
      );

      const queued = await Promise.all(SITES.map((site) => app.queueAudit(site)));
      assert.deepEqual(queued, SITES);

      const service = app.requireAudit();
      await until('every site to have a finished run', async () => {
        const sites = await service.sites();
        return sites.every((s) => s.lastRun?.finishedAt != null && s.status === 'ready');
      }).catch((error: unknown) => {
        throw new Error(`${String(error)}\nA:\n${workerA.stderr()}\nB:\n${workerB.stderr()}`);
      });

      // Each site: one run, ok, with its answers; ready again.
      for (const site of SITES) {
        const report = await service.report(site);
        assert.equal(report.status, 'ready', site);
        assert.equal(report.haltRequested, false, site);
        assert.deepEqual(
          report.runs.map((r) => [r.outcome, r.files, r.missing, r.missingBytes, r.orphans, r.orphanBytes]),
          [['ok', 1001, 1, 20, 1, 40]],
          `${site}: exactly one run`,
        );
      }

      // Each audit ran in exactly one worker, and both workers took part.
      const pids = { a: workerA.child.pid, b: workerB.child.pid };
      const doneA = logged(workerA.stderr(), /^audit of \S+ done$/);
      const doneB = logged(workerB.stderr(), /^audit of \S+ done$/);
      assert.ok(doneA.every((l) => l.pid === pids.a) && doneB.every((l) => l.pid === pids.b));
      const sitesDone = [...doneA, ...doneB].map((l) => l.site).sort();
      assert.deepEqual(sitesDone, SITES, 'each site audited once across the workers');
      assert.ok(
        doneA.length > 0 && doneB.length > 0,
        `both workers used (${doneA.length} + ${doneB.length})\nA:\n${workerA.stderr()}\nB:\n${workerB.stderr()}`,
      );
      assert.equal((await app.queue.stats()).pending, 0, 'no job left');

      for (const worker of [workerA, workerB]) worker.child.kill('SIGTERM');
      assert.deepEqual(await Promise.all([workerA.exited, workerB.exited]), [0, 0]);
    } finally {
      await app.close();
    }
  });
});
