// kill -9 at random moments of `custodian transfer once` (the process and its rsync, as a crash
// would), 15 times, then a clean pass: every exposure is published exactly once with the content
// of the source, nothing is left in staging, and every exposure's stages are recorded ok.
import { it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describeEachDialect } from '../../helpers/database.js';
import { hasProgram, requirement } from '../../helpers/environment.js';
import { BIN, runCli, tempDir, writeConfig } from '../../helpers/cli.js';
import { TransferRepository } from '../../../src/modules/transfer/index.js';
import { snapshotTree, writeExposure } from './transfer-fixture.js';

const NIGHT = '20261121';
const EXPOSURES = 30;
const KILLS = 15;

function runAndKill(args: string[], cwd: string, afterMs: number): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, detached: true, stdio: 'ignore' });
    const timer = setTimeout(() => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // it finished first
      }
    }, afterMs);
    child.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describeEachDialect('transfer once under kill -9', (ctx) => {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) {
      spawnSync('chmod', ['-R', 'u+w', dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it(
    `loses nothing over ${KILLS} kills`,
    { skip: requirement(hasProgram('rsync'), 'apt-get install -y rsync') },
    async () => {
      const dir = tempDir('custodian-transfer-crash-');
      dirs.push(dir);
      const source = path.join(dir, 'source');
      for (let i = 1; i <= EXPOSURES; i++) {
        const exposure = String(i).padStart(8, '0');
        writeExposure(source, {
          night: NIGHT,
          exposure,
          files: {
            [`desi-${exposure}.fits.fz`]: `${exposure} `.repeat(150_000 + i * 1000),
            [`guide ${exposure}.fits`]: `guide ${exposure}\n`,
            [`sub/request-${exposure}.json`]: JSON.stringify({ exposure }),
          },
        });
      }
      const sourceTree = snapshotTree(source)
        .filter((e) => e.sha256 !== undefined)
        .map((e) => [e.path, e.sha256]);
      writeConfig(
        dir,
        [
          `database: ${ctx.url}`,
          'logging: { level: warn }',
          'transfer:',
          '  catchupHour: 23',
          '  archiveHour: 23',
          '  streams:',
          '    - { name: crash, source: ./source, staging: ./staging, destination: ./spectro, archive: ./archive }',
          '',
        ].join('\n'),
      );

      let seed = 20261122;
      const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      for (let kill = 0; kill < KILLS; kill++) {
        await runAndKill(['transfer', 'once', '--json'], dir, 150 + Math.floor(random() * 900));
        // Between crashes: whatever is published is complete and correct.
        const published = path.join(dir, 'spectro', NIGHT);
        for (const exposure of fs.existsSync(published) ? fs.readdirSync(published) : []) {
          if (!/^\d{8}$/.test(exposure)) continue;
          const tree = snapshotTree(path.join(published, exposure))
            .filter((e) => e.sha256 !== undefined)
            .map((e) => [e.path, e.sha256]);
          const expected = snapshotTree(path.join(source, NIGHT, exposure))
            .filter((e) => e.sha256 !== undefined)
            .map((e) => [e.path, e.sha256]);
          assert.deepEqual(tree, expected, `published ${exposure} is complete after kill ${kill + 1}`);
        }
      }

      // A killed process may still hold an exposure's lock: a PostgreSQL advisory lock goes with
      // its connection, a SQLite lease expires (30 s). Until then that exposure is reported busy.
      const deadline = Date.now() + 90_000;
      for (;;) {
        const final = await runCli(['transfer', 'once', '--json'], { cwd: dir });
        assert.equal(final.code, 0, final.stderr + final.stdout);
        const result = JSON.parse(final.stdout) as { streams: { exposures: { action: string }[] }[] };
        const busy = result.streams.flatMap((s) => s.exposures).filter((e) => e.action === 'busy');
        if (busy.length === 0) break;
        assert.ok(Date.now() < deadline, 'locks of killed processes are released in time');
        await new Promise((r) => setTimeout(r, 2000));
      }

      const publishedTree = snapshotTree(path.join(dir, 'spectro'))
        .filter((e) => e.sha256 !== undefined)
        .map((e) => [e.path, e.sha256]);
      assert.deepEqual(publishedTree, sourceTree, 'every exposure published with its source content');
      const staged = path.join(dir, 'staging', NIGHT);
      assert.deepEqual(fs.existsSync(staged) ? fs.readdirSync(staged) : [], [], 'nothing left in staging');

      const status = await new TransferRepository(ctx.database).listStatus({ stream: 'crash' });
      assert.equal(status.length, EXPOSURES);
      for (const s of status) {
        assert.ok(s.rsync?.ok && s.checksum?.ok && s.publish?.ok, `${s.exposure}: ${JSON.stringify(s)}`);
      }
      const history = (await new TransferRepository(ctx.database).snapshot()).history;
      const publishes = history.filter((h) => h.stage === 'publish' && h.ok);
      assert.equal(new Set(publishes.map((p) => p.exposure)).size, EXPOSURES);
      assert.equal(publishes.length, EXPOSURES, 'each exposure published exactly once');
    },
  );
});
