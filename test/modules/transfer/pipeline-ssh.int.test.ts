// The exposure pipeline over a real sshd with real ssh and rsync, on every database dialect:
// one pass copies, locks, verifies and publishes every exposure over one ssh connection; a bad
// checksum and an rsync failure are both recorded failed, published anyway and mailed once (real
// SMTP sink); an unreachable source is one alert however many passes see it; the pause file at
// the source skips the stream; a late file is caught up over ssh and verified again. A stop of
// `transfer watch` (SIGTERM) in the middle of a pass, an archive or a catch-up is not a failure:
// nothing is recorded failed, nothing is alerted, and published data stays read-only.
import { describe, it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describeEachDialect } from '../../helpers/database.js';
import { freePort, tempDir } from '../../helpers/cli.js';
import { requirement } from '../../helpers/environment.js';
import { processesMentioning } from '../../helpers/processes.js';
import { hasSshd, startSshd, type TestSshd } from '../../helpers/sshd.js';
import { startSmtpSink, type ReceivedMail } from '../../core/alerts/sinks.js';
import { migrateToLatest } from '../../../src/core/db/migrations.js';
import { tables, type Database } from '../../../src/core/db/database.js';
import { silentLogger } from '../../../src/core/logger.js';
import { AlertsService } from '../../../src/core/alerts/alerts.service.js';
import { AlertsRepository } from '../../../src/core/alerts/alerts.repository.js';
import { alertsMigrations } from '../../../src/core/alerts/alerts.migrations.js';
import { createAlertChannels } from '../../../src/core/alerts/alert-channels.js';
import { lockMigrations } from '../../../src/core/lifecycle/lock.migrations.js';
import { createLockManager } from '../../../src/core/lifecycle/lock.factory.js';
import {
  RsyncConnector,
  createTransferModule,
  transferConfigSchema,
  transferMigrations,
  type TransferModule,
} from '../../../src/modules/transfer/index.js';
import {
  defaultFiles,
  modeOf,
  snapshotTree,
  writeExposure,
  writeManifest,
  type TreeEntry,
} from './transfer-fixture.js';

const STREAM = 'desi_spectro_data';
const NIGHT = '20261121';
const NEXT_NIGHT = '20261122';
const PAUSE_FILE = 'checksum-running';
// 03:00 UTC on the 22nd is 20:00 in Arizona on the 21st: night 20261121 is in progress, and it is
// before catchupHour, so a pass does no nightly work.
const DURING_NIGHT = Date.parse('2026-11-22T03:00:00Z');
// After catchupHour (14) and before archiveHour (20): yesterday's night 20261121 is caught up.
const AFTER_CATCHUP = Date.parse('2026-11-22T15:00:00Z');
// After archiveHour (20): yesterday's night 20261121 is caught up and archived.
const AFTER_ARCHIVE = Date.parse('2026-11-22T21:00:00Z');

/** Files with spaces in their names, in a directory whose name has spaces too. */
const SPACED_FILES = {
  'name with  two  spaces.fits': 'spaced\n'.repeat(50),
  'dir with space/inner file.json': '{"inner": true}',
  'plain.fits': 'plain',
};

interface Harness {
  module: TransferModule;
  root: string;
  source: string;
  staging: string;
  destination: string;
  archive: string;
  controlDir: string;
  setNow(ms: number): void;
  close(): Promise<void>;
}

async function resetTables(database: Database): Promise<void> {
  await migrateToLatest(database, [alertsMigrations, lockMigrations, transferMigrations]);
  const db = tables<Record<string, object>>(database);
  for (const table of ['transfer_stages', 'transfer_stage_history', 'transfer_nights', 'alerts'])
    await db.deleteFrom(table).execute();
}

/** The files of a tree with their content hashes: what must arrive unchanged. */
function contentOf(root: string): [string, string | undefined][] {
  return snapshotTree(root)
    .filter((e: TreeEntry) => e.sha256 !== undefined)
    .map((e) => [e.path, e.sha256]);
}

function alertMails(mails: readonly ReceivedMail[], code: string): ReceivedMail[] {
  return mails.filter((m) => m.raw.includes(`X-Custodian-Alert: ${code};`));
}

/** An ssh URL of `source` on a port nobody listens on. */
function closedUrl(user: string, port: number, source: string): string {
  return `ssh://${encodeURIComponent(user)}@127.0.0.1:${port}${source.split('/').map(encodeURIComponent).join('/')}`;
}

const skip = requirement(hasSshd(), 'apt-get install -y openssh-server openssh-client rsync');

if (skip) describe('transfer pipeline over ssh', { skip }, () => undefined);
else
  describeEachDialect('transfer pipeline over ssh', (ctx) => {
    let sshd: TestSshd;
    let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
    let alerts: AlertsService;
    let harness: Harness | undefined;
    const extraServers: TestSshd[] = [];

    before(async () => {
      sshd = await startSshd();
      smtp = await startSmtpSink();
    });
    after(async () => {
      await sshd?.stop();
      await smtp?.close();
    });
    beforeEach(async () => {
      await resetTables(ctx.database);
      smtp.mails.length = 0;
      alerts = new AlertsService({
        repository: new AlertsRepository(ctx.database),
        channels: createAlertChannels(
          {
            email: { url: smtp.url, from: 'custodian@example.org', to: ['ops@example.org'] },
            reminderMinutes: 60,
          },
          silentLogger(),
        ),
        logger: silentLogger(),
      });
    });
    afterEach(async () => {
      await harness?.close();
      harness = undefined;
      for (const server of extraServers.splice(0)) await server.stop();
      await alerts.close();
    });

    /**
     * A module with one ssh stream. `url` defaults to `server` (the suite's sshd) serving
     * `<root>/obs source` (a directory name with a space, percent-encoded in the URL).
     */
    function build(
      options: { url?: (source: string) => string; server?: TestSshd; sshOptions?: string[] } = {},
    ): Harness {
      const root = tempDir('custodian-pipeline-ssh-');
      const source = path.join(root, 'obs source');
      const staging = path.join(root, 'staging');
      const destination = path.join(root, 'spectro', 'data');
      const archive = path.join(root, 'archive');
      fs.mkdirSync(source, { recursive: true });
      // Short on purpose: a unix socket path is limited to about 104 bytes.
      const controlDir = tempDir('cst-');
      let now = DURING_NIGHT;
      const config = transferConfigSchema.parse({
        streams: [
          {
            name: STREAM,
            source: (options.url ?? ((s: string) => (options.server ?? sshd).url(s)))(source),
            sshIdentity: (options.server ?? sshd).identity,
            sshOptions: [...(options.sshOptions ?? []), ...sshd.sshOptions],
            pauseFile: PAUSE_FILE,
            staging,
            destination,
            archive,
          },
        ],
      });
      const logger = silentLogger();
      const module = createTransferModule({
        config,
        database: ctx.database,
        alerts,
        logger,
        locks: createLockManager(ctx.database, {
          logger,
          connectionString: ctx.dialect === 'postgres' ? ctx.url : undefined,
        }),
        connector: new RsyncConnector({ controlDir, connectTimeoutSeconds: 5, logger }),
        clock: () => now,
      });
      return {
        module,
        root,
        source,
        staging,
        destination,
        archive,
        controlDir,
        setNow: (ms) => {
          now = ms;
        },
        close: async () => {
          await module.close();
          // Published trees are read-only; make them removable.
          spawnSync('chmod', ['-R', 'u+w', root]);
          fs.rmSync(root, { recursive: true, force: true });
          fs.rmSync(controlDir, { recursive: true, force: true });
        },
      };
    }

    it('one pass over one ssh connection publishes every exposure, records each stage, and mails a bad checksum once', async () => {
      harness = build();
      const h = harness;
      writeExposure(h.source, { night: NIGHT, exposure: '00000101' });
      writeExposure(h.source, {
        night: NIGHT,
        exposure: '00000102',
        corrupt: ['guide 00000102.fits'],
      });
      writeExposure(h.source, { night: NIGHT, exposure: '00000103', files: SPACED_FILES });
      writeExposure(h.source, { night: NEXT_NIGHT, exposure: '00000201' });
      fs.mkdirSync(path.join(h.source, NIGHT, 'calib'), { recursive: true });

      const connectionsBefore = sshd.connections();
      const pass = await h.module.service.runPass();
      assert.equal(sshd.connections() - connectionsBefore, 1, 'the whole pass used one ssh connection');
      assert.deepEqual(processesMentioning(h.controlDir), [], 'the pass closed its ssh master');
      assert.deepEqual(fs.readdirSync(h.controlDir), [], 'and removed its control socket');

      const stream = pass.streams[0];
      assert.ok(stream);
      assert.equal(stream.error, undefined);
      assert.equal(stream.paused, false);
      assert.deepEqual(
        stream.exposures.map((e) => [e.night, e.exposure, e.action, e.failed]),
        [
          [NIGHT, '00000101', 'transferred', []],
          [NIGHT, '00000102', 'transferred', ['checksum']],
          [NIGHT, '00000103', 'transferred', []],
          [NEXT_NIGHT, '00000201', 'transferred', []],
        ],
      );
      assert.deepEqual(stream.skipped, [{ path: `${NIGHT}/calib`, reason: 'not an 8-digit exposure' }]);
      assert.deepEqual(stream.exposures[1]?.verify?.mismatched, ['guide 00000102.fits']);

      // Everything arrived byte for byte (names with spaces included), read-only, nothing left in staging.
      for (const [night, exposure] of [
        [NIGHT, '00000101'],
        [NIGHT, '00000102'],
        [NIGHT, '00000103'],
        [NEXT_NIGHT, '00000201'],
      ] as const) {
        const published = path.join(h.destination, night, exposure);
        assert.deepEqual(contentOf(published), contentOf(path.join(h.source, night, exposure)), exposure);
        assert.equal(modeOf(published), 0o2750);
        assert.ok(
          snapshotTree(published).every((e) =>
            e.sha256 === undefined ? e.mode === '2750' : e.mode === '440',
          ),
          `${exposure}: directories 2750, files 0440`,
        );
      }
      assert.equal(
        fs.readFileSync(
          path.join(h.destination, NIGHT, '00000103', 'dir with space', 'inner file.json'),
          'utf8',
        ),
        SPACED_FILES['dir with space/inner file.json'],
      );
      assert.deepEqual(fs.readdirSync(path.join(h.staging, NIGHT)), []);

      const status = await h.module.service.status();
      assert.deepEqual(
        status.map((s) => [s.night, s.exposure, s.rsync?.ok, s.checksum?.ok, s.publish?.ok, s.backup]),
        [
          [NIGHT, '00000101', true, true, true, null],
          [NIGHT, '00000102', true, false, true, null],
          [NIGHT, '00000103', true, true, true, null],
          [NEXT_NIGHT, '00000201', true, true, true, null],
        ],
      );
      const bad = status[1];
      assert.match(bad?.checksum?.message ?? '', /checksum mismatch: guide 00000102\.fits/);
      assert.match(bad?.rsync?.message ?? '', /^4 files copied from ssh:\/\//);
      assert.match(bad?.publish?.message ?? '', /published to .*00000102$/);
      const history = await h.module.service.history(STREAM, { night: NIGHT, exposure: '00000102' });
      assert.deepEqual(
        history.history.map((a) => [a.stage, a.ok]),
        [
          ['rsync', true],
          ['checksum', false],
          ['publish', true],
        ],
      );
      assert.equal(history.history[0]?.at, new Date(DURING_NIGHT).toISOString());

      const exposureMails = alertMails(smtp.mails, 'TRANSFER_EXPOSURE_FAILED');
      assert.equal(smtp.mails.length, 1, 'one mail: the bad checksum');
      assert.equal(exposureMails.length, 1);
      assert.match(exposureMails[0]?.subject ?? '', /\[desi_spectro_data\/20261121\/00000102\]/);

      // The next pass discovers over one new connection, finds everything published, and does nothing else.
      const snapshot = await h.module.repository.snapshot();
      const again = await h.module.service.runPass();
      assert.equal(sshd.connections() - connectionsBefore, 2);
      assert.equal(again.streams[0]?.published, 4);
      assert.deepEqual(again.streams[0]?.exposures, []);
      assert.deepEqual(await h.module.repository.snapshot(), snapshot);
      assert.equal(smtp.mails.length, 1, 'no second mail for the same failure');
    });

    it('an rsync failure on the job path (port closed) is recorded, published empty, and mailed once over two runs', async () => {
      const closedPort = await freePort();
      harness = build({
        url: (source) => closedUrl(sshd.user, closedPort, source),
      });
      const h = harness;
      const ref = { night: NIGHT, exposure: '00000301' };
      writeExposure(h.source, ref);

      const first = await h.module.service.transferExposure(STREAM, ref);
      assert.equal(first.action, 'transferred');
      assert.deepEqual(first.failed, ['rsync', 'checksum']);

      const [status] = await h.module.service.status();
      assert.equal(status?.rsync?.ok, false);
      assert.match(status?.rsync?.message ?? '', /copy of 20261121\/00000301 from ssh:\/\/.* failed/);
      assert.match(status?.rsync?.message ?? '', /Connection refused/);
      assert.equal(status?.checksum?.ok, false);
      assert.match(status?.checksum?.message ?? '', /checksum-00000301\.sha256sum/);
      assert.equal(status?.publish?.ok, true, 'published anyway, so nothing waits on a human');

      const published = path.join(h.destination, NIGHT, '00000301');
      assert.deepEqual(fs.readdirSync(published), [], 'the published directory is empty');
      assert.equal(modeOf(published), 0o2750);
      assert.equal(fs.existsSync(path.join(h.staging, NIGHT, '00000301')), false);

      const mails = alertMails(smtp.mails, 'TRANSFER_EXPOSURE_FAILED');
      assert.equal(mails.length, 1);
      assert.match(mails[0]?.raw ?? '', /rsync/);

      // The job runs again (a retry, a second worker): already published, nothing recorded, no mail.
      const snapshot = await h.module.repository.snapshot();
      const second = await h.module.service.transferExposure(STREAM, ref);
      assert.equal(second.action, 'published-before');
      assert.deepEqual(second.failed, []);
      assert.deepEqual(await h.module.repository.snapshot(), snapshot);
      assert.equal(smtp.mails.length, 1);
    });

    it('an sshd that goes away between two jobs of a worker: the second copy fails, is recorded and mailed once', async () => {
      const server = await startSshd();
      extraServers.push(server);
      harness = build({ server });
      const h = harness;
      writeExposure(h.source, { night: NIGHT, exposure: '00000401' });
      writeExposure(h.source, { night: NIGHT, exposure: '00000402' });

      const ok = await h.module.service.transferExposure(STREAM, { night: NIGHT, exposure: '00000401' });
      assert.deepEqual([ok.action, ok.failed], ['transferred', []]);
      assert.equal(server.connections(), 1);
      await server.stop();

      const failed = await h.module.service.transferExposure(STREAM, { night: NIGHT, exposure: '00000402' });
      assert.deepEqual([failed.action, failed.failed], ['transferred', ['rsync', 'checksum']]);
      const status = await h.module.service.status();
      assert.deepEqual(
        status.map((s) => [s.exposure, s.rsync?.ok, s.checksum?.ok, s.publish?.ok]),
        [
          ['00000401', true, true, true],
          ['00000402', false, false, true],
        ],
      );
      assert.match(status[1]?.rsync?.message ?? '', /failed/);
      assert.deepEqual(fs.readdirSync(path.join(h.destination, NIGHT, '00000402')), []);
      assert.equal(alertMails(smtp.mails, 'TRANSFER_EXPOSURE_FAILED').length, 1);

      const again = await h.module.service.transferExposure(STREAM, { night: NIGHT, exposure: '00000402' });
      assert.equal(again.action, 'published-before');
      assert.equal(smtp.mails.length, 1);
      await h.module.close();
      assert.deepEqual(processesMentioning(h.controlDir), [], 'no ssh master left behind');
    });

    it('an unreachable source: each pass reports the error, and two passes send one mail', async () => {
      const closedPort = await freePort();
      harness = build({
        url: (source) => closedUrl(sshd.user, closedPort, source),
      });
      const h = harness;
      writeExposure(h.source, { night: NIGHT, exposure: '00000501' });

      for (let pass = 1; pass <= 2; pass++) {
        const result = await h.module.service.runPass();
        const stream = result.streams[0];
        assert.ok(stream);
        assert.match(stream.error ?? '', /Cannot connect to ssh:\/\/.*Connection refused/, `pass ${pass}`);
        assert.equal(stream.paused, false);
        assert.deepEqual(stream.exposures, []);
        assert.equal(stream.catchup, undefined);
      }
      const mails = alertMails(smtp.mails, 'TRANSFER_SOURCE_UNREACHABLE');
      assert.equal(mails.length, 1, 'one mail for two failing passes');
      assert.equal(smtp.mails.length, 1);
      assert.match(mails[0]?.subject ?? '', /\[desi_spectro_data\]/);
      const active = await alerts.list({ state: 'active' });
      assert.deepEqual(
        active.items.map((a) => [a.code, a.key, a.count]),
        [['TRANSFER_SOURCE_UNREACHABLE', STREAM, 2]],
      );
      assert.deepEqual(await h.module.service.status(), [], 'nothing recorded for any exposure');
      assert.equal(fs.existsSync(h.destination), false);
    });

    it('the pause file at the source skips the stream; without it the next pass copies', async () => {
      harness = build();
      const h = harness;
      writeExposure(h.source, { night: NIGHT, exposure: '00000601' });
      fs.writeFileSync(path.join(h.source, PAUSE_FILE), '');

      const connectionsBefore = sshd.connections();
      const paused = await h.module.service.runPass();
      assert.equal(paused.streams[0]?.paused, true);
      assert.deepEqual(paused.streams[0]?.exposures, []);
      assert.equal(paused.streams[0]?.published, 0);
      assert.equal(fs.existsSync(h.destination), false, 'nothing copied');
      assert.equal(fs.existsSync(h.staging), false);
      assert.deepEqual(await h.module.service.status(), []);
      assert.equal(sshd.connections() - connectionsBefore, 1, 'checking the pause file took one connection');

      fs.rmSync(path.join(h.source, PAUSE_FILE));
      const resumed = await h.module.service.runPass();
      assert.equal(resumed.streams[0]?.paused, false);
      assert.deepEqual(
        resumed.streams[0]?.exposures.map((e) => [e.exposure, e.action, e.failed]),
        [['00000601', 'transferred', []]],
      );
      assert.equal(smtp.mails.length, 0);
    });

    it('catch-up over ssh syncs a late file into the published exposure, re-locks and re-verifies it, once', async () => {
      harness = build();
      const h = harness;
      const dir = writeExposure(h.source, { night: NIGHT, exposure: '00000701' });
      await h.module.service.runPass();

      // A late file (with a space in its name) arrives at the source with an updated manifest.
      const files = { ...defaultFiles('00000701'), 'late file.fits': 'late data\n' };
      fs.writeFileSync(path.join(dir, 'late file.fits'), files['late file.fits']);
      writeManifest(dir, '00000701', files);

      h.setNow(AFTER_CATCHUP);
      const connectionsBefore = sshd.connections();
      const pass = await h.module.service.runPass();
      assert.equal(sshd.connections() - connectionsBefore, 1, 'discovery and catch-up share one connection');
      const catchup = pass.streams[0]?.catchup;
      assert.equal(catchup?.action, 'synced', catchup?.message);
      assert.deepEqual(
        catchup?.exposures.map((e) => [e.exposure, e.changed, e.verify?.ok]),
        [['00000701', ['checksum-00000701.sha256sum', 'late file.fits'], true]],
      );
      assert.equal(pass.streams[0]?.archive, undefined, 'not archive time yet');

      const published = path.join(h.destination, NIGHT, '00000701');
      assert.deepEqual(contentOf(published), contentOf(dir));
      assert.equal(modeOf(path.join(published, 'late file.fits')), 0o440);
      assert.equal(modeOf(published), 0o2750);

      const history = await h.module.service.history(STREAM, { night: NIGHT, exposure: '00000701' });
      assert.deepEqual(
        history.history.map((a) => [a.stage, a.ok]),
        [
          ['rsync', true],
          ['checksum', true],
          ['publish', true],
          ['rsync', true],
          ['checksum', true],
        ],
      );
      assert.match(history.rsync?.message ?? '', /^catch-up: 2 late files copied/);
      assert.equal(history.checksum?.at, new Date(AFTER_CATCHUP).toISOString());

      // Once per night: the next pass does not catch up again, and an explicit call finds nothing new.
      const snapshot = await h.module.repository.snapshot();
      const next = await h.module.service.runPass();
      assert.equal(next.streams[0]?.catchup, undefined);
      const explicit = await h.module.service.catchup(STREAM, NIGHT);
      assert.equal(explicit.action, 'nothing-changed');
      assert.deepEqual((await h.module.repository.snapshot()).history, snapshot.history);
      assert.equal(smtp.mails.length, 0);
    });

    it('a SIGTERM while the watch is connecting over ssh stops it quietly: no "pass failed" alert', async () => {
      // The connection hangs (a slow network): the stop arrives in the middle of the pass.
      harness = build({ sshOptions: ['ProxyCommand=sleep 20'] });
      const h = harness;
      writeExposure(h.source, { night: NIGHT, exposure: '00000801' });
      const daemon = h.module.watchDaemon({ dispatch: () => Promise.resolve() });
      const controller = new AbortController();
      const running = daemon.start(controller.signal);
      const deadline = Date.now() + 10_000;
      while (processesMentioning(h.controlDir).length === 0) {
        assert.ok(Date.now() < deadline, 'the pass started connecting');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const stoppedAt = Date.now();
      // What installStopSignals does on SIGTERM.
      controller.abort(new Error('stopped by SIGTERM'));
      await running;
      assert.ok(Date.now() - stoppedAt < 8000, 'stopped without waiting for the connection');
      assert.deepEqual(processesMentioning(h.controlDir), [], 'the ssh client was stopped');
      const raised = await alerts.list({ state: 'all' });
      assert.deepEqual(
        raised.items.map((a) => [a.code, a.message]),
        [],
        'an operator stopping the daemon is not a failed pass',
      );
      assert.equal(smtp.mails.length, 0);
    });

    it('a SIGTERM while the watch writes the nightly archive records no failure and sends no alert', async () => {
      harness = build();
      const h = harness;
      // Big enough that writing and reading back the tar takes a while.
      const big = Buffer.alloc(32 << 20);
      const files: Record<string, string> = {};
      for (let part = 0; part < 4; part++) files[`big-${part}.fits`] = big.fill(part + 1).toString('latin1');
      writeExposure(h.source, { night: NIGHT, exposure: '00000901', files });
      const first = await h.module.service.runPass();
      assert.deepEqual(first.streams[0]?.exposures[0]?.failed, []);

      h.setNow(AFTER_ARCHIVE);
      const daemon = h.module.watchDaemon({ dispatch: () => Promise.resolve() });
      const controller = new AbortController();
      const running = daemon.start(controller.signal);
      const deadline = Date.now() + 30_000;
      const writing = () => fs.existsSync(h.archive) && fs.readdirSync(h.archive).length > 0;
      while (!writing()) {
        assert.ok(Date.now() < deadline, 'the pass started writing the archive');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      controller.abort(new Error('stopped by SIGTERM'));
      await running;

      assert.deepEqual(fs.readdirSync(h.archive), [], 'no temporary file left');
      const [status] = await h.module.service.status();
      const raised = await alerts.list({ state: 'all' });
      // An operator stopping the daemon is neither a failed backup nor a failed archive.
      assert.deepEqual(
        {
          backupFailed: status?.backup?.ok === false ? status.backup.message : false,
          alerts: raised.items.map((a) => [a.code, a.message]),
          mails: smtp.mails.length,
        },
        { backupFailed: false, alerts: [], mails: 0 },
      );

      // A later pass archives the night (unless the stop came too late to interrupt it).
      await h.module.service.runPass();
      const [after] = await h.module.service.status();
      assert.equal(after?.backup?.ok, true);
      const tar = path.join(h.archive, `${STREAM}_${NIGHT}.tar`);
      assert.equal((await h.module.service.verifyArchive(tar)).ok, true);
    });

    it('a SIGTERM while the watch catches up a late file leaves the published exposure read-only, with no alert', async () => {
      harness = build();
      const h = harness;
      const dir = writeExposure(h.source, { night: NIGHT, exposure: '00001001' });
      await h.module.service.runPass();
      // A big late file, so the stop arrives while rsync writes it into the published exposure.
      const late = Buffer.alloc(160 << 20, 7);
      fs.writeFileSync(path.join(dir, 'late.fits'), late);
      const files = { ...defaultFiles('00001001'), 'late.fits': late.toString('latin1') };
      writeManifest(dir, '00001001', files);

      h.setNow(AFTER_CATCHUP);
      const daemon = h.module.watchDaemon({ dispatch: () => Promise.resolve() });
      const controller = new AbortController();
      const running = daemon.start(controller.signal);
      const published = path.join(h.destination, NIGHT, '00001001');
      const deadline = Date.now() + 30_000;
      while (!fs.existsSync(path.join(published, 'late.fits'))) {
        assert.ok(Date.now() < deadline, 'the catch-up started copying the late file');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      controller.abort(new Error('stopped by SIGTERM'));
      await running;

      const writable = snapshotTree(published)
        .filter((e) => (e.sha256 === undefined ? e.mode !== '2750' : e.mode !== '440'))
        .map((e) => `${e.path || '.'} ${e.mode}`);
      const raised = await alerts.list({ state: 'all' });
      assert.deepEqual(
        { writable, alerts: raised.items.map((a) => [a.code, a.message]), mails: smtp.mails.length },
        { writable: [], alerts: [], mails: 0 },
        'the published exposure stays read-only, and a stop is not a failure',
      );

      // A later pass completes the catch-up (unless the stop came too late to interrupt it).
      await h.module.service.runPass();
      assert.deepEqual(contentOf(published), contentOf(dir));
      assert.ok(
        snapshotTree(published).every((e) => (e.sha256 === undefined ? e.mode === '2750' : e.mode === '440')),
        'read-only again',
      );
      const [status] = await h.module.service.status();
      assert.equal(status?.checksum?.ok, true);
    });
  });
