import { it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeEachDialect } from '../../helpers/database.js';
import { InputError, NotFoundError } from '../../../src/core/errors.js';
import { MoveAdapter } from '../../../src/modules/ingest/index.js';
import {
  buildService,
  dropFile,
  makeWorkspace,
  resetTables,
  sha256,
  tree,
  type Workspace,
} from './ingest-fixture.js';

const T0 = 1448384710; // EMChistos_300005_C_2015_11_24_18_05_10 in Europe/Zurich

function exdev(): NodeJS.ErrnoException {
  return Object.assign(new Error('EXDEV: cross-device link not permitted'), { code: 'EXDEV' });
}

describeEachDialect('ingest service', (ctx) => {
  let ws: Workspace;
  beforeEach(async () => {
    await resetTables(ctx.database);
    ws = makeWorkspace();
  });
  afterEach(() => ws.cleanup());

  it('moves a drop file into Run<run>/<SYS>/ and records run and file', async () => {
    const { service } = buildService(ctx.database, ws);
    dropFile(ws, 'EMChistos_300005_C_2015_11_24_18_05_10.root', 'histogram-1');
    const result = await service.runPass();
    assert.deepEqual(result, {
      moved: [
        {
          source: 'EMChistos_300005_C_2015_11_24_18_05_10.root',
          target: 'Run300005/EMC/EMChists.2015_11_24_18_05_10.root',
          run: 300005,
          subsystem: 'EMC',
          mode: 'C',
          timestamp: T0,
        },
      ],
      skipped: [],
      errors: [],
    });
    assert.deepEqual(tree(ws.dropDir), {});
    assert.deepEqual(tree(ws.dataDir), {
      'Run300005/EMC/EMChists.2015_11_24_18_05_10.root': sha256('histogram-1'),
      'Run300005/runInfo.yaml': sha256('hltMode: C\n'),
    });
    assert.deepEqual(await service.listRuns(), {
      items: [
        {
          run: 300005,
          mode: 'C',
          replay: false,
          firstFileAt: '2015-11-24T17:05:10.000Z',
          lastFileAt: '2015-11-24T17:05:10.000Z',
          lengthMinutes: 1,
          files: { EMC: 1 },
        },
      ],
      total: 1,
    });
    assert.deepEqual((await service.getRun(300005)).subsystems, {
      EMC: [{ timestamp: T0, size: 11, path: 'Run300005/EMC/EMChists.2015_11_24_18_05_10.root' }],
    });
  });

  it('zero-pads date fields, accepts hists_ and json, and files several subsystems', async () => {
    const { service } = buildService(ctx.database, ws);
    dropFile(ws, 'HLThists_294832_B_2018_10_22_9_53_55.root', 'a');
    dropFile(ws, 'TPChistos_294832_B_2018_10_22_9_54_5.json', 'b');
    const result = await service.runPass();
    assert.deepEqual(
      result.moved.map((m) => m.target),
      ['Run294832/HLT/HLThists.2018_10_22_09_53_55.root', 'Run294832/TPC/TPChists.2018_10_22_09_54_05.json'],
    );
    const run = await service.getRun(294832);
    assert.deepEqual(run.files, { HLT: 1, TPC: 1 });
    assert.equal(run.lengthMinutes, 1); // 10 s apart
  });

  it('puts replay-mode runs under ReplayData/', async () => {
    const { service } = buildService(ctx.database, ws);
    dropFile(ws, 'EMChistos_300006_E_2015_11_24_18_05_10.root', 'replayed');
    const result = await service.runPass();
    assert.equal(result.moved[0]?.target, 'ReplayData/Run300006/EMC/EMChists.2015_11_24_18_05_10.root');
    assert.equal(
      fs.readFileSync(path.join(ws.dataDir, 'ReplayData/Run300006/runInfo.yaml'), 'utf8'),
      'hltMode: E\n',
    );
    const run = await service.getRun(300006);
    assert.equal(run.replay, true);
    assert.equal(run.mode, 'E');
  });

  it('writes runInfo.yaml once and never overwrites it', async () => {
    const { service } = buildService(ctx.database, ws);
    fs.mkdirSync(path.join(ws.dataDir, 'Run7'), { recursive: true });
    fs.writeFileSync(path.join(ws.dataDir, 'Run7/runInfo.yaml'), 'hltMode: B\n# written by hand\n');
    dropFile(ws, 'EMChistos_7_C_2015_11_24_18_05_10.root', 'x');
    await service.runPass();
    assert.equal(
      fs.readFileSync(path.join(ws.dataDir, 'Run7/runInfo.yaml'), 'utf8'),
      'hltMode: B\n# written by hand\n',
    );
    assert.equal((await service.getRun(7)).mode, 'B');

    dropFile(ws, 'EMChistos_8_C_2015_11_24_18_05_10.root', 'y');
    await service.runPass();
    dropFile(ws, 'EMChistos_8_D_2015_11_24_18_06_10.root', 'z');
    await service.runPass();
    assert.equal(fs.readFileSync(path.join(ws.dataDir, 'Run8/runInfo.yaml'), 'utf8'), 'hltMode: C\n');
    assert.equal((await service.getRun(8)).mode, 'C');
  });

  it('leaves dot-files, unsettled files, unknown subsystems and bad names where they are', async () => {
    const now = Date.now();
    const { service } = buildService(ctx.database, ws, { clock: () => now });
    dropFile(ws, '.EMChistos_1_C_2015_11_24_18_05_10.root', 'temporary');
    dropFile(ws, 'EMChistos_2_C_2015_11_24_18_05_10.root', 'being written', 1);
    dropFile(ws, 'XYZhistos_3_C_2015_11_24_18_05_10.root', 'other detector');
    dropFile(ws, 'EMChistos_4_C_2015_13_24_18_05_10.root', 'bad month');
    dropFile(ws, 'EMChistos_5_C_2015_11_24.root', 'too few fields');
    dropFile(ws, 'EMChistos_x6_C_2015_11_24_18_05_10.root', 'bad run');
    fs.mkdirSync(path.join(ws.dropDir, 'EMChistos_7_C_2015_11_24_18_05_10.root'));
    fs.symlinkSync('/etc/hostname', path.join(ws.dropDir, 'EMChistos_8_C_2015_11_24_18_05_10.root'));
    const before = fs.readdirSync(ws.dropDir).sort();
    const result = await service.runPass();
    assert.deepEqual(result.moved, []);
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.skipped, [
      { source: '.EMChistos_1_C_2015_11_24_18_05_10.root', reason: 'dot-file' },
      { source: 'EMChistos_2_C_2015_11_24_18_05_10.root', reason: 'not-settled' },
      { source: 'EMChistos_4_C_2015_13_24_18_05_10.root', reason: 'unparsable-name' },
      { source: 'EMChistos_5_C_2015_11_24.root', reason: 'unparsable-name' },
      { source: 'EMChistos_7_C_2015_11_24_18_05_10.root', reason: 'not-a-regular-file' },
      { source: 'EMChistos_8_C_2015_11_24_18_05_10.root', reason: 'not-a-regular-file' },
      { source: 'EMChistos_x6_C_2015_11_24_18_05_10.root', reason: 'unparsable-name' },
      { source: 'XYZhistos_3_C_2015_11_24_18_05_10.root', reason: 'unknown-subsystem' },
    ]);
    assert.deepEqual(fs.readdirSync(ws.dropDir).sort(), before);
    assert.deepEqual(tree(ws.dataDir), {});
    assert.equal((await service.listRuns()).total, 0);

    // once settled, the file moves
    const later = buildService(ctx.database, ws, { clock: () => now + 10_000 });
    const next = await later.service.runPass();
    assert.deepEqual(
      next.moved.map((m) => m.source),
      ['EMChistos_2_C_2015_11_24_18_05_10.root'],
    );
  });

  it('completes a move onto an identical file and keeps a different one as .dup-<n> with an alert', async () => {
    const { service, alerts } = buildService(ctx.database, ws);
    dropFile(ws, 'EMChistos_9_C_2015_11_24_18_05_10.root', 'original');
    await service.runPass();

    // identical content under the unpadded name: same target, the source is removed
    dropFile(ws, 'EMChistos_9_C_2015_11_24_18_5_10.root', 'original');
    const same = await service.runPass();
    assert.deepEqual(
      same.moved.map((m) => m.target),
      ['Run9/EMC/EMChists.2015_11_24_18_05_10.root'],
    );
    assert.deepEqual(tree(ws.dropDir), {});
    assert.equal(alerts.raised.length, 0);

    dropFile(ws, 'EMChistos_9_C_2015_11_24_18_05_10.root', 'resent, different');
    const dup = await service.runPass();
    assert.deepEqual(
      dup.moved.map((m) => m.target),
      ['Run9/EMC/EMChists.2015_11_24_18_05_10.root.dup-1'],
    );
    dropFile(ws, 'EMChists_9_C_2015_11_24_18_05_10.root', 'third version');
    await service.runPass();
    assert.deepEqual(tree(path.join(ws.dataDir, 'Run9/EMC')), {
      'EMChists.2015_11_24_18_05_10.root': sha256('original'),
      'EMChists.2015_11_24_18_05_10.root.dup-1': sha256('resent, different'),
      'EMChists.2015_11_24_18_05_10.root.dup-2': sha256('third version'),
    });
    assert.deepEqual(
      alerts.raised.map((a) => [a.code, a.severity, a.key]),
      [
        ['INGEST_NAME_COLLISION', 'warning', 'Run9/EMC/EMChists.2015_11_24_18_05_10.root'],
        ['INGEST_NAME_COLLISION', 'warning', 'Run9/EMC/EMChists.2015_11_24_18_05_10.root'],
      ],
    );
    assert.match(
      alerts.raised[0]?.message ?? '',
      /both are kept, the newcomer as Run9\/EMC\/EMChists\.2015_11_24_18_05_10\.root\.dup-1/,
    );
    // the tables list the canonical file only
    const run = await service.getRun(9);
    assert.deepEqual(run.files, { EMC: 1 });
    assert.equal(run.subsystems.EMC?.[0]?.size, 'original'.length);
  });

  it('copies, verifies and then unlinks across filesystems (EXDEV)', async () => {
    let crossings = 0;
    const link = (a: string, b: string) => {
      if (a.startsWith(ws.dropDir)) {
        crossings++;
        throw exdev();
      }
      fs.linkSync(a, b);
    };
    const { service } = buildService(ctx.database, ws, { ops: { link } });
    const content = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    dropFile(ws, 'TPChistos_10_C_2015_11_24_18_05_10.root', content);
    dropFile(ws, 'TPChistos_10_C_2015_11_24_18_06_10.root', 'small');
    const result = await service.runPass();
    assert.equal(result.moved.length, 2);
    assert.equal(crossings, 2);
    assert.deepEqual(tree(ws.dropDir), {});
    assert.deepEqual(tree(ws.dataDir), {
      'Run10/TPC/TPChists.2015_11_24_18_05_10.root': sha256(content),
      'Run10/TPC/TPChists.2015_11_24_18_06_10.root': sha256('small'),
      'Run10/runInfo.yaml': sha256('hltMode: C\n'),
    });
    assert.equal((await service.getRun(10)).subsystems.TPC?.[0]?.size, content.length);

    // across filesystems too: identical → source removed; different → .dup-1
    dropFile(ws, 'TPChistos_10_C_2015_11_24_18_06_10.root', 'small');
    dropFile(ws, 'TPChistos_10_C_2015_11_24_18_05_10.root', 'not the same');
    const again = await service.runPass();
    assert.deepEqual(
      again.moved.map((m) => m.target),
      ['Run10/TPC/TPChists.2015_11_24_18_05_10.root.dup-1', 'Run10/TPC/TPChists.2015_11_24_18_06_10.root'],
    );
    assert.deepEqual(tree(ws.dropDir), {});
  });

  it('keeps the source when the copy across filesystems does not verify', async () => {
    const link = (a: string, b: string) => {
      if (a.startsWith(ws.dropDir)) throw exdev();
      fs.linkSync(a, b);
    };
    const copyFile = (a: string, b: string) => fs.writeFileSync(b, 'corrupted in flight', { flag: 'wx' });
    const { service } = buildService(ctx.database, ws, { ops: { link, copyFile } });
    dropFile(ws, 'EMChistos_11_C_2015_11_24_18_05_10.root', 'precious');
    const result = await service.runPass();
    assert.equal(result.moved.length, 0);
    assert.equal(result.errors.length, 1);
    assert.match(result.errors[0]?.message ?? '', /copy of .* differs from the original; the source is kept/);
    assert.deepEqual(tree(ws.dropDir), { 'EMChistos_11_C_2015_11_24_18_05_10.root': sha256('precious') });
    assert.deepEqual(Object.keys(tree(ws.dataDir)), ['Run11/runInfo.yaml']); // no temp file left
  });

  it('moves across a real filesystem boundary when /dev/shm is one', async (t) => {
    const shm = '/dev/shm';
    if (!fs.existsSync(shm) || fs.statSync(shm).dev === fs.statSync(os.tmpdir()).dev) {
      t.skip('/dev/shm is not a separate filesystem here');
      return;
    }
    const cross = makeWorkspace({ dropBase: shm });
    try {
      const { service } = buildService(ctx.database, cross);
      dropFile(cross, 'HLThistos_12_C_2015_11_24_18_05_10.root', 'from tmpfs');
      const result = await service.runPass();
      assert.equal(result.moved.length, 1);
      assert.deepEqual(tree(cross.dropDir), {});
      assert.equal(
        fs.readFileSync(path.join(cross.dataDir, 'Run12/HLT/HLThists.2015_11_24_18_05_10.root'), 'utf8'),
        'from tmpfs',
      );
    } finally {
      cross.cleanup();
    }
  });

  it('computes run length as (last − first + 60) div 60 minutes and counts files per subsystem', async () => {
    const { service } = buildService(ctx.database, ws);
    dropFile(ws, 'EMChistos_13_C_2015_11_24_18_00_00.root', '1');
    dropFile(ws, 'EMChistos_13_C_2015_11_24_18_00_59.root', '2');
    dropFile(ws, 'HLThistos_13_C_2015_11_24_18_00_30.root', '3');
    await service.runPass();
    assert.equal((await service.getRun(13)).lengthMinutes, 1); // 59 s
    dropFile(ws, 'TPChistos_13_C_2015_11_24_18_01_00.root', '4');
    await service.runPass();
    assert.equal((await service.getRun(13)).lengthMinutes, 2); // 60 s
    dropFile(ws, 'TPChistos_13_C_2015_11_24_19_00_59.root', '5');
    await service.runPass();
    const run = await service.getRun(13);
    assert.equal(run.lengthMinutes, 61); // 3659 s → (3659 + 60) div 60
    assert.deepEqual(run.files, { EMC: 2, HLT: 1, TPC: 2 });
    assert.equal(run.firstFileAt, '2015-11-24T17:00:00.000Z');
    assert.equal(run.lastFileAt, '2015-11-24T18:00:59.000Z');
  });

  it('lists runs newest first with a total, and says when a run does not exist', async () => {
    const { service } = buildService(ctx.database, ws);
    for (const run of [20, 22, 21, 24, 23])
      dropFile(ws, `EMChistos_${run}_C_2015_11_24_18_05_10.root`, String(run));
    await service.runPass();
    const page = await service.listRuns(2, 1);
    assert.equal(page.total, 5);
    assert.deepEqual(
      page.items.map((r) => r.run),
      [23, 22],
    );
    await assert.rejects(service.getRun(99), (error: unknown) => {
      assert.ok(error instanceof NotFoundError);
      assert.equal(error.code, 'INGEST_RUN_NOT_FOUND');
      return true;
    });
    await assert.rejects(service.listRuns(0, 0), InputError);
  });

  it('rebuilds both tables from the tree to exactly what the passes recorded', async () => {
    const { service, repository } = buildService(ctx.database, ws);
    dropFile(ws, 'EMChistos_30_C_2015_11_24_18_05_10.root', 'a');
    dropFile(ws, 'HLThistos_30_C_2015_11_24_18_15_10.root', 'bb');
    dropFile(ws, 'EMChistos_31_E_2015_11_24_19_05_10.root', 'ccc');
    await service.runPass();
    dropFile(ws, 'TPChistos_30_C_2015_11_24_20_05_10.json', 'dddd');
    dropFile(ws, 'EMChistos_30_C_2015_11_24_18_05_10.root', 'different'); // → .dup-1, not recorded
    // a run that started as replay and then got normal files: a normal run
    dropFile(ws, 'HLThistos_31_C_2015_11_24_19_10_10.root', 'eeeee');
    await service.runPass();
    const byPasses = await repository.snapshot();
    assert.equal(byPasses.runs.find((r) => r.run === 31)?.replay, false);
    assert.equal(byPasses.files.length, 5);

    const rebuilt = await service.rebuild();
    assert.deepEqual(rebuilt, { runs: 2, files: 5 });
    assert.deepEqual(await repository.snapshot(), byPasses);

    // a run directory without runInfo.yaml reads as mode U
    fs.rmSync(path.join(ws.dataDir, 'Run30/runInfo.yaml'));
    await service.rebuild();
    assert.equal((await service.getRun(30)).mode, 'U');
  });

  it('finishes the database work of a pass that died after moving files', async () => {
    const { service, repository } = buildService(ctx.database, ws);
    const files = new MoveAdapter({ dropDir: ws.dropDir, dataDir: ws.dataDir });
    dropFile(ws, 'EMChistos_40_C_2015_11_24_18_05_10.root', 'moved before the crash');
    dropFile(ws, 'EMChistos_40_C_2015_11_24_18_06_10.root', 'linked, not yet unlinked');
    // What a pass in a process that died leaves: a journal owned by a dead pid, a moved file,
    // a file under both names, and a temp file of an interrupted copy.
    const journal = await files.beginJournal(['Run40']);
    const deadPid = 2 ** 22 + 12345; // above pid_max on Linux defaults: never a live process
    const host = /~([0-9a-f]{8})-/.exec(journal.id)?.[1] ?? '';
    fs.renameSync(
      path.join(ws.dataDir, journal.id),
      path.join(ws.dataDir, `.ingest-journal~${host}-${deadPid}-abcd.json`),
    );
    await files.endJournal(journal);
    await files.ensureRunInfo('Run40', 'C');
    await files.moveFiles([
      {
        source: 'EMChistos_40_C_2015_11_24_18_05_10.root',
        target: 'Run40/EMC/EMChists.2015_11_24_18_05_10.root',
      },
    ]);
    fs.linkSync(
      path.join(ws.dropDir, 'EMChistos_40_C_2015_11_24_18_06_10.root'),
      path.join(ws.dataDir, 'Run40/EMC/EMChists.2015_11_24_18_06_10.root'),
    );
    const temp = path.join(
      ws.dataDir,
      `Run40/EMC/.EMChists.2015_11_24_18_07_10.root~${host}-${deadPid}-beef.custodian-tmp`,
    );
    fs.writeFileSync(temp, 'half a cop');
    const alienTemp = path.join(ws.dataDir, 'Run40/EMC/.someone-elses-file');
    fs.writeFileSync(alienTemp, 'not ours');

    const result = await service.runPass();
    assert.deepEqual(
      result.moved.map((m) => m.target),
      ['Run40/EMC/EMChists.2015_11_24_18_06_10.root'],
    );
    assert.deepEqual(tree(ws.dropDir), {});
    assert.ok(!fs.existsSync(temp), 'stale temp file removed');
    assert.ok(fs.existsSync(alienTemp), 'other dot-files are left alone');
    assert.deepEqual(
      fs.readdirSync(ws.dataDir).filter((n) => n.startsWith('.ingest-journal')),
      [],
    );
    const run = await service.getRun(40);
    assert.deepEqual(run.files, { EMC: 2 });
    const byPasses = await repository.snapshot();
    await service.rebuild();
    assert.deepEqual(await repository.snapshot(), byPasses);
  });

  it('records on the next pass what a pass moved before the database failed', async () => {
    const { service, repository } = buildService(ctx.database, ws);
    const record = repository.recordFiles.bind(repository);
    let failures = 1;
    repository.recordFiles = (...args) => {
      if (failures-- > 0) return Promise.reject(new Error('database went away'));
      return record(...args);
    };
    dropFile(ws, 'HLThistos_41_C_2015_11_24_18_05_10.root', 'x');
    await assert.rejects(service.runPass(), /database went away/);
    assert.deepEqual(tree(ws.dropDir), {}); // moved, not recorded
    await assert.rejects(service.getRun(41), NotFoundError);
    const next = await service.runPass();
    assert.deepEqual(next, { moved: [], skipped: [], errors: [] });
    assert.deepEqual((await service.getRun(41)).files, { HLT: 1 });
    assert.deepEqual(
      fs.readdirSync(ws.dataDir).filter((n) => n.startsWith('.')),
      [],
    );
  });

  it('reports files that vanish between listing and moving as skipped', async () => {
    const link = (a: string, b: string) => {
      if (a.startsWith(ws.dropDir)) fs.unlinkSync(a); // another pass took it first
      fs.linkSync(a, b);
    };
    const { service } = buildService(ctx.database, ws, { ops: { link } });
    dropFile(ws, 'EMChistos_50_C_2015_11_24_18_05_10.root', 'x');
    const result = await service.runPass();
    assert.deepEqual(result.skipped, [
      { source: 'EMChistos_50_C_2015_11_24_18_05_10.root', reason: 'vanished' },
    ]);
    assert.deepEqual(result.moved, []);
  });

  it('refuses to write through a symbolic link out of the data directory', async () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-outside-'));
    try {
      fs.symlinkSync(outside, path.join(ws.dataDir, 'Run60'));
      const { service } = buildService(ctx.database, ws);
      dropFile(ws, 'EMChistos_60_C_2015_11_24_18_05_10.root', 'x');
      const result = await service.runPass();
      assert.equal(result.moved.length, 0);
      assert.match(result.errors[0]?.message ?? '', /symbolic link; refusing to write through it/);
      assert.deepEqual(fs.readdirSync(outside), []);
      assert.ok(fs.existsSync(path.join(ws.dropDir, 'EMChistos_60_C_2015_11_24_18_05_10.root')));
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('rejects relative paths that climb out of the data or drop directory', async () => {
    const files = new MoveAdapter({ dropDir: ws.dropDir, dataDir: ws.dataDir });
    dropFile(ws, 'EMChistos_61_C_2015_11_24_18_05_10.root', 'x');
    const outcomes = await files.moveFiles([
      { source: 'EMChistos_61_C_2015_11_24_18_05_10.root', target: '../escape/EMChists.root' },
      { source: '../incoming/EMChistos_61_C_2015_11_24_18_05_10.root', target: 'Run61/EMC/x.root' },
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.kind),
      ['failed', 'failed'],
    );
    await assert.rejects(files.ensureRunInfo('../Run61', 'C'), InputError);
    await assert.rejects(files.storeInDrop('../evil.root', Buffer.from('x')), InputError);
    assert.ok(fs.existsSync(path.join(ws.dropDir, 'EMChistos_61_C_2015_11_24_18_05_10.root')));
  });
});
