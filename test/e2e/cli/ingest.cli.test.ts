import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runCli, startCli, tempDir, writeConfig } from '../../helpers/cli.js';
import { createTestDatabase, dialectsUnderTest, isPostgresReachable } from '../../helpers/database.js';
import { requirement } from '../../helpers/environment.js';

function age(file: string, seconds: number): void {
  const then = new Date(Date.now() - seconds * 1000);
  fs.utimesSync(file, then, then);
}

describe('custodian ingest parse-name', () => {
  const cases: [string, Record<string, unknown>][] = [
    [
      'EMChistos_300005_C_2015_11_24_18_05_10.root',
      { kind: 'unprocessed', subsystem: 'EMC', run: 300005, mode: 'C', timestamp: 1448384710 },
    ],
    ['EMChists.2015_11_24_18_05_10.root', { kind: 'processed', subsystem: 'EMC', timestamp: 1448384710 }],
    ['hists.combined.1.1448388552.root', { kind: 'combined', timestamp: 1448388552 }],
    [
      'timeSlice.1448384710.1448388552.abc123.root',
      { kind: 'timeSlice', start: 1448384710, end: 1448388552, duration: 3842 },
    ],
  ];
  for (const [name, expected] of cases) {
    test(name, async () => {
      const result = await runCli(['ingest', 'parse-name', name, '--json', '--timezone', 'Europe/Zurich']);
      assert.equal(result.code, 0, result.stderr);
      const parsed = JSON.parse(result.stdout) as Record<string, unknown>;
      for (const [key, value] of Object.entries(expected))
        assert.deepEqual(parsed[key], value, `${key} of ${name}`);
    });
  }

  test('a name that does not parse exits 2 with a message naming the problem', async () => {
    const result = await runCli([
      'ingest',
      'parse-name',
      'EMChistos_abc_C_2015_11_24_18_05_10.root',
      '--json',
    ]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /run/i);
  });
});

for (const dialect of dialectsUnderTest()) {
  describe(`custodian ingest once / runs / rebuild / watch [${dialect}]`, async () => {
    if (dialect === 'postgres' && requirement(await isPostgresReachable(), 'PostgreSQL on 127.0.0.1:5432'))
      return;
    const dir = tempDir();
    const db = await createTestDatabase(dialect);
    const drop = path.join(dir, 'incoming');
    const data = path.join(dir, 'data');
    fs.mkdirSync(drop);
    writeConfig(
      dir,
      [
        `database: ${db.url}`,
        'logging: { level: warn }',
        'ingest:',
        '  dropDir: ./incoming',
        '  dataDir: ./data',
        '  subsystems: [EMC, HLT, TPC]',
        '  timezone: Europe/Zurich',
        '  settleSeconds: 5',
        '  intervalSeconds: 1',
        '  killFile: ./stop-ingest',
        '',
      ].join('\n'),
    );
    after(async () => {
      fs.rmSync(dir, { recursive: true, force: true });
      await db.drop();
    });

    function drop_(name: string, content = name, settled = true): string {
      const file = path.join(drop, name);
      fs.writeFileSync(file, content);
      if (settled) age(file, 60);
      return file;
    }

    test('once --json organizes settled files and reports the rest as skipped', async () => {
      drop_('EMChistos_300005_C_2015_11_24_18_05_10.root');
      drop_('HLThists_300005_C_2015_11_24_18_06_10.json');
      drop_('TPChistos_300006_E_2015_11_24_9_7_5.root');
      drop_('.EMChistos_300005_C_2015_11_24_18_05_11.root');
      drop_('EMChistos_300005_C_2015_11_24_18_05_12.root', 'fresh', false);
      drop_('XYZhistos_300005_C_2015_11_24_18_05_10.root');
      drop_('garbage.root');
      const result = await runCli(['ingest', 'once', '--json'], { cwd: dir });
      assert.equal(result.code, 0, result.stderr);
      const report = JSON.parse(result.stdout) as {
        moved: {
          source: string;
          target: string;
          run: number;
          subsystem: string;
          mode: string;
          timestamp: number;
        }[];
        skipped: { source: string; reason: string }[];
        errors: unknown[];
      };
      assert.deepEqual(report.errors, []);
      const moved = Object.fromEntries(report.moved.map((m) => [m.source, m]));
      assert.deepEqual(moved['EMChistos_300005_C_2015_11_24_18_05_10.root'], {
        source: 'EMChistos_300005_C_2015_11_24_18_05_10.root',
        target: 'Run300005/EMC/EMChists.2015_11_24_18_05_10.root',
        run: 300005,
        subsystem: 'EMC',
        mode: 'C',
        timestamp: 1448384710,
      });
      assert.equal(
        moved['TPChistos_300006_E_2015_11_24_9_7_5.root']?.target,
        'ReplayData/Run300006/TPC/TPChists.2015_11_24_09_07_05.root',
      );
      assert.equal(
        moved['HLThists_300005_C_2015_11_24_18_06_10.json']?.target,
        'Run300005/HLT/HLThists.2015_11_24_18_06_10.json',
      );
      const skipped = report.skipped.map((s) => s.source).sort();
      assert.deepEqual(skipped, [
        '.EMChistos_300005_C_2015_11_24_18_05_11.root',
        'EMChistos_300005_C_2015_11_24_18_05_12.root',
        'XYZhistos_300005_C_2015_11_24_18_05_10.root',
        'garbage.root',
      ]);
      for (const s of report.skipped) assert.ok(s.reason.length > 0);
      assert.equal(
        fs.readFileSync(path.join(data, 'Run300005/EMC/EMChists.2015_11_24_18_05_10.root'), 'utf8'),
        'EMChistos_300005_C_2015_11_24_18_05_10.root',
      );
      assert.match(fs.readFileSync(path.join(data, 'Run300005/runInfo.yaml'), 'utf8'), /hltMode: C/);
      assert.ok(
        fs.existsSync(path.join(drop, 'garbage.root')),
        'unparsable files stay in the drop directory',
      );
    });

    test('runs --json lists runs newest first with files per subsystem', async () => {
      const result = await runCli(['ingest', 'runs', '--json'], { cwd: dir });
      assert.equal(result.code, 0, result.stderr);
      const runs = JSON.parse(result.stdout) as {
        items: {
          run: number;
          mode: string;
          replay: boolean;
          lengthMinutes: number;
          files: Record<string, number>;
        }[];
      };
      assert.deepEqual(
        runs.items.map((r) => r.run),
        [300006, 300005],
      );
      const r5 = runs.items[1];
      assert.deepEqual(r5?.files, { EMC: 1, HLT: 1 });
      assert.equal(r5?.lengthMinutes, 2);
      assert.equal(runs.items[0]?.replay, true);
    });

    test('rebuild recreates the same runs from the tree', async () => {
      const before = JSON.parse((await runCli(['ingest', 'runs', '--json'], { cwd: dir })).stdout) as unknown;
      const rebuild = await runCli(['ingest', 'rebuild', '--json'], { cwd: dir });
      assert.equal(rebuild.code, 0, rebuild.stderr);
      const afterRebuild = JSON.parse(
        (await runCli(['ingest', 'runs', '--json'], { cwd: dir })).stdout,
      ) as unknown;
      assert.deepEqual(afterRebuild, before);
    });

    test('watch organizes new files and stops on SIGTERM', async () => {
      const watch = startCli(['ingest', 'watch'], { cwd: dir, env: { CUSTODIAN_LOG_LEVEL: 'info' } });
      const target = path.join(data, 'Run300007/EMC/EMChists.2015_11_24_18_10_00.root');
      drop_('EMChistos_300007_C_2015_11_24_18_10_00.root');
      const deadline = Date.now() + 30_000;
      while (!fs.existsSync(target) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      assert.ok(fs.existsSync(target), 'watch moved the file');
      watch.child.kill('SIGTERM');
      const result = await watch.exited;
      assert.equal(result.code, 0, result.stderr);
    });

    test('watch stops at the kill file', async () => {
      const watch = startCli(['ingest', 'watch'], { cwd: dir });
      await new Promise((r) => setTimeout(r, 1500));
      fs.writeFileSync(path.join(dir, 'stop-ingest'), '');
      const result = await watch.exited;
      assert.equal(result.code, 0, result.stderr);
      fs.rmSync(path.join(dir, 'stop-ingest'));
    });
  });
}
