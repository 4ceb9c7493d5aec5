// `custodian transfer ...` as an operator runs it: the built binary on a SQLite workspace with
// local sources. Covers once (and --dry-run), status and its filters, set-status, argument
// errors in the JSON error format, catchup, archive, verify-archive on a good, a corrupted and a
// missing tar, a config without a transfer section, and watch stopping at the kill file and on
// SIGTERM.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { runCli, startCli, tempDir, writeConfig, type CliResult } from '../../helpers/cli.js';
import { hasProgram, requirement } from '../../helpers/environment.js';
import { openDatabase } from '../../../src/core/db/database.js';
import {
  defaultFiles,
  snapshotTree,
  writeExposure,
  writeManifest,
} from '../../modules/transfer/transfer-fixture.js';

const STREAM = 'desi_spectro_data';
const AUX = 'desi_aux';
// Nights far from today's: the pass's own catch-up and archive of "yesterday" never touch them.
const NIGHT = '20240315';
const NIGHT2 = '20240316';
const STAGE_KEYS = ['at', 'message', 'ok'];
const STATUS_KEYS = ['backup', 'checksum', 'exposure', 'night', 'publish', 'rsync', 'stream'];

interface Stage {
  ok: boolean;
  at: string;
  message: string;
}
interface Status {
  stream: string;
  night: string;
  exposure: string;
  rsync: Stage | null;
  checksum: Stage | null;
  publish: Stage | null;
  backup: Stage | null;
}
interface Outcome {
  night: string;
  exposure: string;
  action: string;
  failed: string[];
}
interface Pass {
  dryRun: boolean;
  streams: { stream: string; published: number; error?: string; exposures: Outcome[] }[];
}
interface ErrorBody {
  error: { code: string; message: string };
}

function json<T>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`not one JSON document (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}

/** Exit code and the JSON error body of a failed --json command. */
function failure(result: CliResult): [number | null, string] {
  const body = json<ErrorBody>(result);
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message']);
  assert.ok(body.error.message.length > 0);
  return [result.code, body.error.code];
}

function outcomes(pass: Pass, stream = STREAM): [string, string, string, string[]][] {
  const found = pass.streams.find((s) => s.stream === stream);
  assert.ok(found, `stream ${stream} in the pass`);
  return found.exposures.map((e) => [e.night, e.exposure, e.action, e.failed]);
}

function assertStatusShape(rows: Status[]): void {
  for (const row of rows) {
    assert.deepEqual(Object.keys(row).sort(), STATUS_KEYS, JSON.stringify(row));
    for (const stage of ['rsync', 'checksum', 'publish', 'backup'] as const) {
      const state = row[stage];
      if (state === null) continue;
      assert.deepEqual(Object.keys(state).sort(), STAGE_KEYS);
      assert.equal(typeof state.ok, 'boolean');
      assert.equal(typeof state.message, 'string');
      assert.equal(new Date(state.at).toISOString(), state.at, 'at is ISO 8601 UTC');
    }
  }
}

/** Every row of every table: the database half of "changes nothing". */
async function dumpDatabase(file: string): Promise<Record<string, string[]>> {
  const database = await openDatabase(`sqlite:${file}`);
  try {
    const { rows: names } = await sql<{
      name: string;
    }>`select name from sqlite_master where type = 'table' order by name`.execute(database.db);
    const out: Record<string, string[]> = {};
    for (const { name } of names) {
      const { rows } = await sql`select * from ${sql.table(name)}`.execute(database.db);
      out[name] = rows.map((r) => JSON.stringify(r)).sort();
    }
    return out;
  } finally {
    await database.close();
  }
}

/** The workspace's files (the SQLite database aside, compared table by table instead). */
function files(dir: string) {
  return snapshotTree(dir).filter((e) => !e.path.startsWith('custodian.db'));
}

describe(
  'custodian transfer (CLI)',
  { skip: requirement(hasProgram('rsync') && hasProgram('tar'), 'apt-get install -y rsync tar') },
  () => {
    const dir = tempDir('custodian-transfer-cli-');
    const source = path.join(dir, 'source');
    const auxSource = path.join(dir, 'aux-source');
    const destination = path.join(dir, 'spectro');
    const archiveDir = path.join(dir, 'archive');
    const tar = path.join(archiveDir, `${STREAM}_${NIGHT}.tar`);
    const killFile = path.join(dir, 'stop-transfer');
    const cli = (...args: string[]) => runCli(args, { cwd: dir });

    before(() => {
      fs.mkdirSync(source, { recursive: true });
      fs.mkdirSync(auxSource, { recursive: true });
      writeConfig(
        dir,
        [
          'database: sqlite:./custodian.db',
          'logging: { level: warn }',
          'transfer:',
          '  intervalSeconds: 1',
          '  killFile: ./stop-transfer',
          '  catchupHour: 23',
          '  archiveHour: 23',
          '  streams:',
          `    - name: ${STREAM}`,
          '      source: ./source',
          '      staging: ./staging',
          '      destination: ./spectro',
          '      archive: ./archive',
          `    - name: ${AUX}`,
          '      source: ./aux-source',
          '      staging: ./aux-staging',
          '      destination: ./aux',
          '      archive: ./aux-archive',
          '',
        ].join('\n'),
      );
    });
    after(() => {
      spawnSync('chmod', ['-R', 'u+w', dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('status on an empty workspace prints an empty list', async () => {
      const result = await cli('transfer', 'status', '--json');
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(json(result), []);
    });

    it('once --dry-run --json reports what it would do and changes nothing', async () => {
      writeExposure(source, { night: NIGHT, exposure: '00000001' });
      writeExposure(source, { night: NIGHT, exposure: '00000002' });
      writeExposure(auxSource, { night: NIGHT, exposure: '00000050' });
      const treeBefore = files(dir);
      const dbBefore = await dumpDatabase(path.join(dir, 'custodian.db'));

      const result = await cli('transfer', 'once', '--dry-run', '--json');
      assert.equal(result.code, 0, result.stderr);
      const pass = json<Pass>(result);
      assert.equal(pass.dryRun, true);
      assert.deepEqual(outcomes(pass), [
        [NIGHT, '00000001', 'would-transfer', []],
        [NIGHT, '00000002', 'would-transfer', []],
      ]);
      assert.deepEqual(outcomes(pass, AUX), [[NIGHT, '00000050', 'would-transfer', []]]);

      assert.deepEqual(files(dir), treeBefore, 'no file, directory or permission changed');
      assert.deepEqual(await dumpDatabase(path.join(dir, 'custodian.db')), dbBefore, 'no row changed');
    });

    it('once --json transfers each exposure and says so per exposure (exit 0)', async () => {
      const result = await cli('transfer', 'once', '--json');
      assert.equal(result.code, 0, result.stderr + result.stdout);
      const pass = json<Pass>(result);
      assert.equal(pass.dryRun, false);
      assert.deepEqual(outcomes(pass), [
        [NIGHT, '00000001', 'transferred', []],
        [NIGHT, '00000002', 'transferred', []],
      ]);
      assert.deepEqual(outcomes(pass, AUX), [[NIGHT, '00000050', 'transferred', []]]);
      for (const exposure of ['00000001', '00000002']) {
        assert.equal(
          fs.readFileSync(path.join(destination, NIGHT, exposure, `guide ${exposure}.fits`), 'utf8'),
          defaultFiles(exposure)[`guide ${exposure}.fits`],
        );
      }
      assert.ok(fs.existsSync(path.join(dir, 'aux', NIGHT, '00000050')));

      const again = json<Pass>(await cli('transfer', 'once', '--json'));
      assert.deepEqual(outcomes(again), []);
      assert.equal(again.streams.find((s) => s.stream === STREAM)?.published, 2);
    });

    it('a bad checksum makes once exit 1; the exposure is published and recorded failed', async () => {
      writeExposure(source, { night: NIGHT, exposure: '00000003', corrupt: ['guide 00000003.fits'] });
      writeExposure(source, { night: NIGHT2, exposure: '00000010' });
      const result = await cli('transfer', 'once', '--stream', STREAM, '--json');
      assert.equal(result.code, 1, result.stderr);
      const pass = json<Pass>(result);
      assert.deepEqual(
        pass.streams.map((s) => s.stream),
        [STREAM],
        '--stream limits the pass',
      );
      assert.deepEqual(outcomes(pass), [
        [NIGHT, '00000003', 'transferred', ['checksum']],
        [NIGHT2, '00000010', 'transferred', []],
      ]);
      assert.ok(fs.existsSync(path.join(destination, NIGHT, '00000003', 'guide 00000003.fits')));
    });

    it('status --json prints one object per exposure with exactly the contract keys', async () => {
      const result = await cli('transfer', 'status', '--json');
      assert.equal(result.code, 0, result.stderr);
      const rows = json<Status[]>(result);
      assertStatusShape(rows);
      assert.deepEqual(
        rows.map((r) => [r.stream, r.night, r.exposure]),
        [
          [AUX, NIGHT, '00000050'],
          [STREAM, NIGHT, '00000001'],
          [STREAM, NIGHT, '00000002'],
          [STREAM, NIGHT, '00000003'],
          [STREAM, NIGHT2, '00000010'],
        ],
      );
      const bad = rows.find((r) => r.exposure === '00000003');
      assert.equal(bad?.rsync?.ok, true);
      assert.equal(bad?.checksum?.ok, false);
      assert.match(bad?.checksum?.message ?? '', /guide 00000003\.fits/);
      assert.equal(bad?.publish?.ok, true);
      assert.equal(bad?.backup, null);

      const human = await cli('transfer', 'status');
      assert.equal(human.code, 0);
      assert.match(human.stdout, /00000003 .*FAILED/);
    });

    it('status --stream and --night filter', async () => {
      const byNight = json<Status[]>(await cli('transfer', 'status', '--night', NIGHT2, '--json'));
      assert.deepEqual(
        byNight.map((r) => [r.stream, r.night, r.exposure]),
        [[STREAM, NIGHT2, '00000010']],
      );
      const byStream = json<Status[]>(await cli('transfer', 'status', '--stream', AUX, '--json'));
      assert.deepEqual(
        byStream.map((r) => r.exposure),
        ['00000050'],
      );
      const both = json<Status[]>(
        await cli('transfer', 'status', '--stream', STREAM, '--night', NIGHT, '--json'),
      );
      assert.deepEqual(
        both.map((r) => r.exposure),
        ['00000001', '00000002', '00000003'],
      );
      const none = json<Status[]>(
        await cli('transfer', 'status', '--stream', AUX, '--night', NIGHT2, '--json'),
      );
      assert.deepEqual(none, []);
    });

    it('set-status records a stage by hand for one exposure, or a failure for the whole night', async () => {
      const one = await cli('transfer', 'set-status', STREAM, NIGHT, '00000003', 'checksum', '--json');
      assert.equal(one.code, 0, one.stderr);
      const rows = json<Status[]>(one);
      assertStatusShape(rows);
      assert.deepEqual(
        rows.map((r) => [r.exposure, r.checksum?.ok, r.checksum?.message]),
        [['00000003', true, 'set by hand']],
      );

      const all = await cli('transfer', 'set-status', STREAM, NIGHT, 'all', 'backup', '--failure', '--json');
      assert.equal(all.code, 0, all.stderr);
      assert.deepEqual(
        json<Status[]>(all).map((r) => [r.exposure, r.backup?.ok]),
        [
          ['00000001', false],
          ['00000002', false],
          ['00000003', false],
        ],
      );
      const status = json<Status[]>(await cli('transfer', 'status', '--night', NIGHT, '--json'));
      assert.deepEqual(
        status.map((r) => [r.stream, r.exposure, r.backup?.ok ?? null]),
        [
          [AUX, '00000050', null],
          [STREAM, '00000001', false],
          [STREAM, '00000002', false],
          [STREAM, '00000003', false],
        ],
        'only that stream and night',
      );
    });

    it('bad arguments exit 2 (or 3 for an unknown stream) with {"error":{code,message}} under --json', async () => {
      const before = await dumpDatabase(path.join(dir, 'custodian.db'));
      const cases: [string[], number, string][] = [
        [['set-status', STREAM, '2026', '00000001', 'checksum'], 2, 'TRANSFER_BAD_ARGUMENT'],
        [['set-status', STREAM, NIGHT, '00000001', 'foo'], 2, 'TRANSFER_BAD_ARGUMENT'],
        [['set-status', STREAM, NIGHT, '1', 'rsync'], 2, 'TRANSFER_BAD_ARGUMENT'],
        [['set-status', 'nope', NIGHT, '00000001', 'checksum'], 3, 'TRANSFER_UNKNOWN_STREAM'],
        [['set-status', STREAM, '20200101', 'all', 'backup'], 3, 'TRANSFER_NIGHT_NOT_FOUND'],
        [['status', '--night', '2026'], 2, 'TRANSFER_BAD_ARGUMENT'],
        [['status', '--stream', 'nope'], 3, 'TRANSFER_UNKNOWN_STREAM'],
        [['catchup', STREAM, '2026'], 2, 'TRANSFER_BAD_ARGUMENT'],
        [['catchup', 'nope', NIGHT], 3, 'TRANSFER_UNKNOWN_STREAM'],
        [['archive', STREAM, '2026-03-15'], 2, 'TRANSFER_BAD_ARGUMENT'],
        [['once', '--stream', 'nope'], 3, 'TRANSFER_UNKNOWN_STREAM'],
      ];
      for (const [args, code, errorCode] of cases) {
        const result = await cli('transfer', ...args, '--json');
        assert.deepEqual(failure(result), [code, errorCode], args.join(' '));
      }
      // Without --json the error goes to stderr only.
      const human = await cli('transfer', 'set-status', STREAM, '2026', '00000001', 'checksum');
      assert.equal(human.code, 2);
      assert.equal(human.stdout, '');
      assert.match(human.stderr, /night "2026" is not valid/);
      assert.deepEqual(await dumpDatabase(path.join(dir, 'custodian.db')), before, 'nothing recorded');
    });

    it('catchup syncs a late file into a published exposure, then finds nothing changed', async () => {
      const exposureDir = path.join(source, NIGHT, '00000001');
      const late = { ...defaultFiles('00000001'), 'late file.fits': 'arrived late\n' };
      fs.writeFileSync(path.join(exposureDir, 'late file.fits'), late['late file.fits']);
      writeManifest(exposureDir, '00000001', late);

      const treeBefore = files(dir);
      const dry = await cli('transfer', 'catchup', STREAM, NIGHT, '--dry-run', '--json');
      assert.equal(dry.code, 0, dry.stderr);
      assert.equal(json<{ action: string }>(dry).action, 'would-sync');
      assert.deepEqual(files(dir), treeBefore, '--dry-run copied nothing');

      const result = await cli('transfer', 'catchup', STREAM, NIGHT, '--json');
      assert.equal(result.code, 0, result.stderr);
      const catchup = json<{
        action: string;
        exposures: { exposure: string; changed: string[]; verify?: { ok: boolean } }[];
      }>(result);
      assert.equal(catchup.action, 'synced');
      assert.deepEqual(
        catchup.exposures.map((e) => [e.exposure, e.changed, e.verify?.ok]),
        [['00000001', ['checksum-00000001.sha256sum', 'late file.fits'], true]],
      );
      assert.equal(
        fs.readFileSync(path.join(destination, NIGHT, '00000001', 'late file.fits'), 'utf8'),
        'arrived late\n',
      );

      const second = await cli('transfer', 'catchup', STREAM, NIGHT, '--json');
      assert.equal(second.code, 0, second.stderr);
      assert.equal(json<{ action: string }>(second).action, 'nothing-changed');
    });

    it('archive writes a tar GNU tar can list and an index whose offsets match; verify-archive passes', async () => {
      const result = await cli('transfer', 'archive', STREAM, NIGHT, '--json');
      assert.equal(result.code, 0, result.stderr);
      const archive = json<{
        action: string;
        tar: string;
        index: string;
        exposures: string[];
        members: number;
      }>(result);
      assert.equal(archive.action, 'archived');
      assert.equal(archive.tar, tar);
      assert.equal(archive.index, `${tar}.idx`);
      assert.deepEqual(archive.exposures, ['00000001', '00000002', '00000003']);
      assert.deepEqual(fs.readdirSync(archiveDir).sort(), [
        `${STREAM}_${NIGHT}.tar`,
        `${STREAM}_${NIGHT}.tar.idx`,
      ]);

      const listing = spawnSync('tar', ['-tf', tar], { encoding: 'utf8' });
      assert.equal(listing.status, 0, listing.stderr);
      const members = listing.stdout.split('\n').filter((line) => line !== '');
      for (const member of [
        `${NIGHT}/00000001/late file.fits`,
        `${NIGHT}/00000002/guide 00000002.fits`,
        `${NIGHT}/00000003/sub/request-00000003.json`,
      ])
        assert.ok(members.includes(member), `${member} in the tar`);
      assert.equal(archive.members, members.length);

      // Each file's data sits in the tar at the offset the index gives.
      const tarBytes = fs.readFileSync(tar);
      const lines = fs.readFileSync(`${tar}.idx`, 'utf8').split('\n').slice(1, -1);
      let checked = 0;
      for (const line of lines) {
        const [, data, size, , ...rest] = line.split(' ');
        const member = rest.join(' ');
        if (member.endsWith('/')) continue;
        const start = Number(data);
        const published = fs.readFileSync(path.join(destination, member));
        assert.equal(Number(size), published.length, member);
        assert.ok(
          tarBytes.subarray(start, start + published.length).equals(published),
          `${member} at ${data}`,
        );
        checked++;
      }
      assert.ok(checked >= 10, `${checked} files checked against the index`);

      const status = json<Status[]>(
        await cli('transfer', 'status', '--stream', STREAM, '--night', NIGHT, '--json'),
      );
      assert.ok(
        status.every((r) => r.backup?.ok === true),
        'backup recorded ok for every exposure',
      );

      const verify = await cli('transfer', 'verify-archive', tar, '--json');
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      const report = json<{ ok: boolean; members: number; problems: unknown[] }>(verify);
      assert.deepEqual([report.ok, report.members, report.problems], [true, archive.members, []]);
    });

    it('verify-archive finds a corrupted byte in one member (exit 1) and a missing tar (exit 3)', async () => {
      const copy = path.join(dir, 'corrupt.tar');
      fs.copyFileSync(tar, copy);
      fs.copyFileSync(`${tar}.idx`, `${copy}.idx`);
      const member = `${NIGHT}/00000002/desi-00000002.fits.fz`;
      const line = fs
        .readFileSync(`${copy}.idx`, 'utf8')
        .split('\n')
        .find((l) => l.endsWith(` ${member}`));
      assert.ok(line, `${member} is in the index`);
      const offset = Number(line.split(' ')[1]) + 17;
      const bytes = fs.readFileSync(copy);
      bytes[offset] = (bytes[offset] ?? 0) ^ 0x01;
      fs.writeFileSync(copy, bytes);

      const result = await cli('transfer', 'verify-archive', copy, '--json');
      assert.equal(result.code, 1, result.stderr);
      const report = json<{ ok: boolean; problems: { path?: string; problem: string }[] }>(result);
      assert.equal(report.ok, false);
      assert.deepEqual(
        [...new Set(report.problems.map((p) => p.path))],
        [member],
        JSON.stringify(report.problems),
      );

      const missing = await cli('transfer', 'verify-archive', path.join(dir, 'no-such.tar'), '--json');
      assert.deepEqual(failure(missing), [3, 'TRANSFER_ARCHIVE_NOT_FOUND']);
    });

    it('once without a transfer section in the config exits 2 with TRANSFER_NOT_CONFIGURED', async () => {
      const bare = tempDir('custodian-transfer-bare-');
      try {
        writeConfig(bare, 'database: sqlite:./custodian.db\nlogging: { level: warn }\n');
        const result = await runCli(['transfer', 'once', '--json'], { cwd: bare });
        assert.deepEqual(failure(result), [2, 'TRANSFER_NOT_CONFIGURED']);
        assert.match(result.stderr, /transfer: section/);
      } finally {
        fs.rmSync(bare, { recursive: true, force: true });
      }
    });

    it('watch runs passes and stops at the kill file (exit 0)', async () => {
      writeExposure(source, { night: NIGHT2, exposure: '00000011' });
      const watch = startCli(['transfer', 'watch', '--log-level', 'info'], {
        cwd: dir,
        readyWhen: /transfer pass of/,
      });
      try {
        await watch.ready;
        const published = path.join(destination, NIGHT2, '00000011');
        const deadline = Date.now() + 30_000;
        while (!fs.existsSync(published)) {
          assert.ok(Date.now() < deadline, 'the watch published the new exposure');
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        fs.writeFileSync(killFile, '');
        const stoppedAt = Date.now();
        const result = await watch.exited;
        assert.equal(result.code, 0, result.stderr.slice(-2000));
        assert.ok(Date.now() - stoppedAt < 5000, `stopped within 5 s (${Date.now() - stoppedAt} ms)`);
        assert.match(result.stderr, /kill file .*stop-transfer exists/);
      } finally {
        watch.child.kill('SIGKILL');
        fs.rmSync(killFile, { force: true });
      }
      const status = json<Status[]>(await cli('transfer', 'status', '--night', NIGHT2, '--json'));
      assert.deepEqual(
        status.map((r) => [r.exposure, r.rsync?.ok, r.checksum?.ok, r.publish?.ok]),
        [
          ['00000010', true, true, true],
          ['00000011', true, true, true],
        ],
      );
    });

    it('watch stops on SIGTERM (exit 0)', async () => {
      const watch = startCli(['transfer', 'watch', '--log-level', 'info'], {
        cwd: dir,
        readyWhen: /transfer pass of/,
      });
      try {
        await watch.ready;
        const stoppedAt = Date.now();
        watch.child.kill('SIGTERM');
        const result = await watch.exited;
        assert.equal(result.code, 0, result.stderr.slice(-2000));
        assert.equal(result.signal, null);
        assert.ok(Date.now() - stoppedAt < 5000, `stopped within 5 s (${Date.now() - stoppedAt} ms)`);
        assert.match(result.stderr, /transfer watch stopped/);
      } finally {
        watch.child.kill('SIGKILL');
      }
    });
  },
);
