// The transfer service end to end on a local source with the real adapters (rsync, tar, the
// filesystem), real alerts over a real SMTP conversation, on every database dialect.
import { it, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { describeEachDialect } from '../../helpers/database.js';
import { tempDir } from '../../helpers/cli.js';
import { startSmtpSink } from '../../core/alerts/sinks.js';
import { migrateToLatest } from '../../../src/core/db/migrations.js';
import { tables, type Database } from '../../../src/core/db/database.js';
import { silentLogger } from '../../../src/core/logger.js';
import { AlertsService } from '../../../src/core/alerts/alerts.service.js';
import { AlertsRepository } from '../../../src/core/alerts/alerts.repository.js';
import { alertsMigrations } from '../../../src/core/alerts/alerts.migrations.js';
import { createAlertChannels } from '../../../src/core/alerts/alert-channels.js';
import { lockMigrations } from '../../../src/core/lifecycle/lock.migrations.js';
import { createLockManager } from '../../../src/core/lifecycle/lock.factory.js';
import type { LockManager } from '../../../src/core/lifecycle/lock.js';
import {
  createTransferModule,
  transferConfigSchema,
  transferMigrations,
  type TransferModule,
} from '../../../src/modules/transfer/index.js';
import { RsyncConnector } from '../../../src/modules/transfer/rsync.adapter.js';
import { LocalExposureFiles } from '../../../src/modules/transfer/publish.adapter.js';
import { planBatches } from '../../../src/modules/transfer/copy-batches.js';
import type { ExposureFiles, SourceConnector } from '../../../src/modules/transfer/transfer.ports.js';
import { defaultFiles, modeOf, snapshotTree, writeExposure, writeManifest } from './transfer-fixture.js';

const NIGHT = '20261121';
// 03:00 UTC on the 22nd is 20:00 in Arizona on the 21st: night 20261121 is in progress.
const DURING_NIGHT = Date.parse('2026-11-22T03:00:00Z');
const AFTER_CATCHUP = Date.parse('2026-11-22T15:00:00Z');
const AFTER_ARCHIVE = Date.parse('2026-11-22T21:00:00Z');

interface Harness {
  module: TransferModule;
  root: string;
  source: string;
  staging: string;
  destination: string;
  archive: string;
  setNow(ms: number): void;
  close(): Promise<void>;
}

async function resetTables(database: Database): Promise<void> {
  await migrateToLatest(database, [alertsMigrations, lockMigrations, transferMigrations]);
  const db = tables<Record<string, object>>(database);
  for (const table of ['transfer_stages', 'transfer_stage_history', 'transfer_nights', 'alerts'])
    await db.deleteFrom(table).execute();
}

/** Every row of every table the transfer work may touch: the database half of "changes nothing". */
async function dumpDatabase(database: Database): Promise<unknown> {
  const out: Record<string, unknown> = {};
  for (const table of ['transfer_stages', 'transfer_stage_history', 'transfer_nights', 'alerts', 'locks']) {
    const { rows } = await sql`select * from ${sql.table(table)}`.execute(database.db);
    out[table] = rows.map((r) => JSON.stringify(r)).sort();
  }
  return out;
}

/** A lock manager that counts the locks held at once (and the most ever held). */
function countingLocks(locks: LockManager): { manager: LockManager; held: number; most: number } {
  const counts = {
    held: 0,
    most: 0,
    manager: {
      async tryAcquire(name: string) {
        const handle = await locks.tryAcquire(name);
        if (!handle) return undefined;
        counts.held++;
        counts.most = Math.max(counts.most, counts.held);
        let released = false;
        return Object.assign(Object.create(handle) as typeof handle, {
          release: async () => {
            if (!released) counts.held--;
            released = true;
            await handle.release();
          },
        });
      },
    },
  };
  return counts;
}

describeEachDialect('transfer service', (ctx) => {
  let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
  let locks: LockManager;
  let harness: Harness | undefined;

  before(async () => {
    smtp = await startSmtpSink();
  });
  after(async () => {
    await smtp.close();
  });
  beforeEach(async () => {
    await resetTables(ctx.database);
    smtp.mails.length = 0;
    locks = createLockManager(ctx.database, {
      logger: silentLogger(),
      connectionString: ctx.dialect === 'postgres' ? ctx.url : undefined,
    });
  });
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  function build(
    options: {
      archive?: string;
      connector?: SourceConnector;
      files?: ExposureFiles;
      locks?: LockManager;
    } = {},
  ): Harness {
    const root = tempDir('custodian-transfer-');
    const dirs = {
      source: path.join(root, 'source'),
      staging: path.join(root, 'staging'),
      destination: path.join(root, 'spectro', 'data'),
      archive: options.archive ?? path.join(root, 'archive'),
    };
    fs.mkdirSync(dirs.source, { recursive: true });
    let now = DURING_NIGHT;
    const alerts = new AlertsService({
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
    const config = transferConfigSchema.parse({
      streams: [{ name: 'desi_spectro_data', ...dirs }],
    });
    const module = createTransferModule({
      config,
      database: ctx.database,
      alerts,
      locks: options.locks ?? locks,
      logger: silentLogger(),
      clock: () => now,
      ...(options.connector ? { connector: options.connector } : {}),
      ...(options.files ? { files: options.files } : {}),
    });
    return {
      module,
      root,
      ...dirs,
      setNow: (ms) => {
        now = ms;
      },
      close: async () => {
        await module.close();
        // Published trees are read-only; make them removable.
        spawnSync('chmod', ['-R', 'u+w', root]);
        fs.rmSync(root, { recursive: true, force: true });
      },
    };
  }

  it('copies, locks, verifies and publishes each exposure, records every stage, and alerts a bad checksum once', async () => {
    harness = build();
    const h = harness;
    writeExposure(h.source, { night: NIGHT, exposure: '00000101' });
    writeExposure(h.source, { night: NIGHT, exposure: '00000102', corrupt: [`guide 00000102.fits`] });
    writeExposure(h.source, { night: NIGHT, exposure: '00000103' });
    fs.mkdirSync(path.join(h.source, NIGHT, 'calib'), { recursive: true });
    fs.mkdirSync(path.join(h.source, 'notanight'), { recursive: true });

    const pass = await h.module.service.runPass();
    const stream = pass.streams[0];
    assert.ok(stream);
    assert.deepEqual(
      stream.exposures.map((e) => [e.exposure, e.action, e.failed]),
      [
        ['00000101', 'transferred', []],
        ['00000102', 'transferred', ['checksum']],
        ['00000103', 'transferred', []],
      ],
    );
    assert.deepEqual(stream.skipped.map((s) => s.path).sort(), [`${NIGHT}/calib`, 'notanight']);

    for (const exposure of ['00000101', '00000102', '00000103']) {
      const published = path.join(h.destination, NIGHT, exposure);
      assert.equal(modeOf(published), 0o2750, `${exposure} directory is 2750`);
      assert.equal(modeOf(path.join(published, 'sub')), 0o2750);
      assert.equal(modeOf(path.join(published, `desi-${exposure}.fits.fz`)), 0o440);
      assert.equal(
        fs.readFileSync(path.join(published, `guide ${exposure}.fits`), 'utf8'),
        defaultFiles(exposure)[`guide ${exposure}.fits`],
      );
      assert.equal(fs.existsSync(path.join(h.staging, NIGHT, exposure)), false, 'nothing left in staging');
    }

    const status = await h.module.service.status();
    assert.equal(status.length, 3);
    const bad = status.find((s) => s.exposure === '00000102');
    assert.equal(bad?.rsync?.ok, true);
    assert.equal(bad?.checksum?.ok, false);
    assert.match(bad?.checksum?.message ?? '', /checksum mismatch: guide 00000102\.fits/);
    assert.equal(bad?.publish?.ok, true, 'published anyway');
    assert.equal(bad?.backup, null);
    assert.ok(status.filter((s) => s.exposure !== '00000102').every((s) => s.checksum?.ok && s.publish?.ok));

    assert.equal(smtp.mails.length, 1, 'one mail for the one failed exposure');
    assert.match(smtp.mails[0]?.raw ?? '', /00000102/);

    // A second pass finds everything published: no new attempt, no new mail.
    const before = await h.module.repository.snapshot();
    const again = await h.module.service.runPass();
    assert.equal(again.streams[0]?.published, 3);
    assert.deepEqual(again.streams[0]?.exposures, []);
    assert.deepEqual(await h.module.repository.snapshot(), before);
    assert.equal(smtp.mails.length, 1);

    // Verifying again after the operator fixed the manifest turns the exposure green and resolves the alert.
    const published = path.join(h.destination, NIGHT, '00000102');
    fs.chmodSync(published, 0o2750);
    fs.chmodSync(path.join(published, 'checksum-00000102.sha256sum'), 0o640);
    writeManifest(published, '00000102', defaultFiles('00000102'));
    const verify = await h.module.service.verifyExposure('desi_spectro_data', {
      night: NIGHT,
      exposure: '00000102',
    });
    assert.equal(verify.ok, true);
    const page = await h.module.service.statusPage({});
    assert.equal(page.nights[0]?.state, 'green');
    const history = await h.module.service.history('desi_spectro_data', {
      night: NIGHT,
      exposure: '00000102',
    });
    assert.deepEqual(
      history.history.filter((a) => a.stage === 'checksum').map((a) => a.ok),
      [false, true],
    );
  });

  it('copies a night in batches of exposures: a failing exposure is copied again alone, a busy one is left to its holder', async () => {
    // The real connector, counting the rsync runs of each kind.
    const runs: string[] = [];
    const real = new RsyncConnector({ logger: silentLogger() });
    const connector: SourceConnector = {
      open(stream) {
        const session = real.open(stream);
        return Object.assign(Object.create(session) as typeof session, {
          syncExposures: (...args: Parameters<typeof session.syncExposures>) => {
            runs.push(`batch ${args[1].join(',')}`);
            return session.syncExposures(...args);
          },
          syncExposure: (...args: Parameters<typeof session.syncExposure>) => {
            runs.push(`one ${args[1]}`);
            return session.syncExposure(...args);
          },
        });
      },
    };
    harness = build({ connector });
    const h = harness;
    const exposures = Array.from({ length: 10 }, (_, i) => String(201 + i).padStart(8, '0'));
    for (const exposure of exposures) writeExposure(h.source, { night: NIGHT, exposure });
    // A leftover in staging that rsync cannot replace without deleting (a non-empty directory
    // where the source has a file): this exposure's copy fails, in its batch and alone.
    const blocked = path.join(h.staging, NIGHT, '00000208', 'desi-00000208.fits.fz');
    fs.mkdirSync(blocked, { recursive: true });
    fs.writeFileSync(path.join(blocked, 'stray'), 'in the way');
    // Another worker holds 00000206.
    const held = await locks.tryAcquire(`transfer:exposure:desi_spectro_data/${NIGHT}/00000206`);
    assert.ok(held);

    const pass = await h.module.service.runPass();
    await held.release();
    const stream = pass.streams[0];
    assert.deepEqual(
      stream?.exposures.map((e) => [e.exposure, e.action, e.failed]),
      exposures.map((e) =>
        e === '00000208'
          ? [e, 'transferred', ['rsync', 'checksum']]
          : e === '00000206'
            ? [e, 'busy', []]
            : [e, 'transferred', []],
      ),
    );
    // Batches of 4, then 6 (one left to its holder, so five copied together); the failed
    // batch is copied again one exposure at a time.
    assert.deepEqual(runs, [
      'batch 00000201,00000202,00000203,00000204',
      'batch 00000205,00000207,00000208,00000209,00000210',
      'one 00000205',
      'one 00000207',
      'one 00000208',
      'one 00000209',
      'one 00000210',
    ]);
    const status = await h.module.service.status({ night: NIGHT });
    const failed = status.find((s) => s.exposure === '00000208');
    assert.equal(failed?.rsync?.ok, false);
    assert.match(failed?.rsync?.message ?? '', /copy of 20261121\/00000208 from .* failed/);
    assert.equal(failed?.publish?.ok, true, 'published anyway');
    for (const exposure of ['00000201', '00000205', '00000207', '00000210']) {
      const row = status.find((s) => s.exposure === exposure);
      assert.equal(row?.rsync?.ok, true, exposure);
      assert.match(row?.rsync?.message ?? '', /^[1-9]\d* files copied/, exposure);
      assert.equal(
        fs.readFileSync(path.join(h.destination, NIGHT, exposure, `desi-${exposure}.fits.fz`), 'utf8'),
        defaultFiles(exposure)[`desi-${exposure}.fits.fz`],
      );
    }
    assert.equal(
      status.some((s) => s.exposure === '00000206'),
      false,
      'the busy exposure was not touched',
    );
    assert.equal(smtp.mails.length, 1, 'one mail, for 00000208');

    // Once its holder is gone, the next pass copies the busy exposure.
    const next = await h.module.service.runPass();
    assert.deepEqual(
      next.streams[0]?.exposures.map((e) => [e.exposure, e.action, e.failed]),
      [['00000206', 'transferred', []]],
    );
  });

  it('pipelines a long night: at most two batches hold locks, one flush per batch before its publish records, all locks released', async () => {
    const counting = countingLocks(locks);
    // Flushes recorded with how many publish records existed at that moment.
    const real = new LocalExposureFiles();
    const flushes: { dirs: string[]; publishedBefore: number }[] = [];
    const files: ExposureFiles = Object.assign(Object.create(real) as ExposureFiles, {
      flush: async (dirs: readonly string[]) => {
        const status = await harness?.module.service.status({ night: NIGHT });
        flushes.push({
          dirs: [...dirs].sort(),
          publishedBefore: status?.filter((s) => s.publish).length ?? -1,
        });
        await real.flush(dirs);
      },
    });
    harness = build({ locks: counting.manager, files });
    const h = harness;
    const exposures = Array.from({ length: 50 }, (_, i) => String(301 + i).padStart(8, '0'));
    for (const exposure of exposures) writeExposure(h.source, { night: NIGHT, exposure });

    const pass = await h.module.service.runPass();
    assert.deepEqual(
      pass.streams[0]?.exposures.map((e) => [e.exposure, e.action, e.failed]),
      exposures.map((e) => [e, 'transferred', []]),
    );
    const sizes = planBatches(exposures).map((b) => b.length);
    assert.ok(sizes.length >= 3, `a night long enough for several batches (${sizes.join(', ')})`);
    const twoBatches = Math.max(...sizes.slice(1).map((size, i) => size + (sizes[i] as number)));
    assert.ok(
      counting.most <= twoBatches,
      `at most two batches held locks at once (${counting.most} > ${twoBatches})`,
    );
    assert.equal(counting.held, 0, 'every lock released');
    // Per batch, one flush of the night's destination directory, then one of its staging
    // directory, both before the publish records of the batch (so a record never claims a move
    // the disk may forget).
    assert.deepEqual(
      flushes.map((f) => f.dirs),
      sizes.flatMap(() => [[path.join(h.destination, NIGHT)], [path.join(h.staging, NIGHT)]]),
    );
    let recorded = 0;
    sizes.forEach((size, i) => {
      for (const flush of flushes.slice(2 * i, 2 * i + 2))
        assert.equal(flush.publishedBefore, recorded, `batch ${i} flushed before its publish records`);
      recorded += size;
    });
    const status = await h.module.service.status({ night: NIGHT });
    assert.equal(status.filter((s) => s.publish?.ok && s.checksum?.ok).length, exposures.length);
  });

  it('an abort in the middle of a long night releases every lock; the next pass copies the rest', async () => {
    const counting = countingLocks(locks);
    harness = build({ locks: counting.manager });
    const h = harness;
    const exposures = Array.from({ length: 50 }, (_, i) => String(501 + i).padStart(8, '0'));
    for (const exposure of exposures) writeExposure(h.source, { night: NIGHT, exposure });
    const stop = new AbortController();

    const first = await h.module.service
      .runPass({ signal: stop.signal, onExposure: () => stop.abort(new Error('stopping')) })
      .then(
        (result) => result.streams[0]?.exposures.map((e) => e.exposure) ?? [],
        (error: unknown) => error,
      );
    assert.equal(counting.held, 0, 'every lock released after the abort');
    const done = Array.isArray(first) ? first.length : 0;
    assert.ok(done < exposures.length, 'the abort stopped the pass early');

    const rest = await h.module.service.runPass();
    const transferred = rest.streams[0]?.exposures ?? [];
    assert.ok(transferred.every((e) => e.action === 'transferred' && e.failed.length === 0));
    const status = await h.module.service.status({ night: NIGHT });
    assert.deepEqual(
      status.filter((s) => s.rsync?.ok && s.checksum?.ok && s.publish?.ok).map((s) => s.exposure),
      exposures,
      'every exposure copied, verified and published once, none failed',
    );
    assert.equal(counting.held, 0);
  });

  it('a failed flush records publish as failed, leaves the data published and alerts once per exposure', async () => {
    const real = new LocalExposureFiles();
    const files: ExposureFiles = Object.assign(Object.create(real) as ExposureFiles, {
      flush: () => Promise.reject(new Error('EIO: i/o error, fsync')),
    });
    harness = build({ files });
    const h = harness;
    writeExposure(h.source, { night: NIGHT, exposure: '00000401' });

    const pass = await h.module.service.runPass();
    assert.deepEqual(
      pass.streams[0]?.exposures.map((e) => [e.exposure, e.failed]),
      [['00000401', ['publish']]],
    );
    const [row] = await h.module.service.status({ night: NIGHT });
    assert.equal(row?.publish?.ok, false);
    assert.match(row?.publish?.message ?? '', /may not survive a crash: EIO: i\/o error, fsync/);
    assert.equal(row?.checksum?.ok, true);
    assert.ok(
      fs.existsSync(path.join(h.destination, NIGHT, '00000401', 'desi-00000401.fits.fz')),
      'data published',
    );
    assert.equal(smtp.mails.length, 1);
    assert.match(smtp.mails[0]?.raw ?? '', /00000401/);
  });

  it('catches up a late file once per night, re-locks and re-verifies', async () => {
    harness = build();
    const h = harness;
    const dir = writeExposure(h.source, { night: NIGHT, exposure: '00000201' });
    await h.module.service.runPass();

    // A file arrives at the source after publishing, with an updated manifest.
    const files = { ...defaultFiles('00000201'), 'late.fits': 'late data\n' };
    fs.writeFileSync(path.join(dir, 'late.fits'), files['late.fits']);
    writeManifest(dir, '00000201', files);

    h.setNow(AFTER_CATCHUP);
    const pass = await h.module.service.runPass();
    const catchup = pass.streams[0]?.catchup;
    assert.equal(catchup?.action, 'synced');
    assert.deepEqual(
      catchup?.exposures.map((e) => [e.exposure, e.changed, e.verify?.ok]),
      [['00000201', ['checksum-00000201.sha256sum', 'late.fits'], true]],
    );
    const published = path.join(h.destination, NIGHT, '00000201');
    assert.equal(fs.readFileSync(path.join(published, 'late.fits'), 'utf8'), 'late data\n');
    assert.equal(modeOf(path.join(published, 'late.fits')), 0o440);
    assert.equal(modeOf(published), 0o2750);
    assert.equal(pass.streams[0]?.archive, undefined, 'not archive time yet');

    // Once per night: the next pass does not catch up again, and an explicit call finds nothing.
    const before = await h.module.repository.snapshot();
    const next = await h.module.service.runPass();
    assert.equal(next.streams[0]?.catchup, undefined);
    const explicit = await h.module.service.catchup('desi_spectro_data', NIGHT);
    assert.equal(explicit.action, 'nothing-changed');
    const after = await h.module.repository.snapshot();
    assert.deepEqual(after.history, before.history, 'no new attempt recorded');
  });

  it('archives the night into a verified tar with an index, records backup, and is never rewritten', async () => {
    harness = build();
    const h = harness;
    writeExposure(h.source, { night: NIGHT, exposure: '00000301' });
    writeExposure(h.source, { night: NIGHT, exposure: '00000302' });
    await h.module.service.runPass();

    h.setNow(AFTER_ARCHIVE);
    const pass = await h.module.service.runPass();
    const archive = pass.streams[0]?.archive;
    assert.equal(archive?.action, 'archived', archive?.message);
    const tar = path.join(h.archive, `desi_spectro_data_${NIGHT}.tar`);
    assert.equal(archive?.tar, tar);
    assert.ok(fs.existsSync(`${tar}.idx`));
    assert.deepEqual(
      fs.readdirSync(h.archive).sort(),
      [`desi_spectro_data_${NIGHT}.tar`, `desi_spectro_data_${NIGHT}.tar.idx`],
      'no temporary file left',
    );
    const listing = spawnSync('tar', ['-tf', tar], { encoding: 'utf8' });
    assert.equal(listing.status, 0);
    assert.ok(listing.stdout.includes(`${NIGHT}/00000301/guide 00000301.fits`));
    // Directories lost user-write.
    assert.equal(modeOf(path.join(h.destination, NIGHT, '00000301')) & 0o200, 0);

    const status = await h.module.service.status();
    assert.ok(status.every((s) => s.backup?.ok === true));
    assert.equal((await h.module.service.verifyArchive(tar)).ok, true);

    // Once per night; and an explicit call finds the archive valid and does not rewrite it.
    const stat = fs.statSync(tar);
    const next = await h.module.service.runPass();
    assert.equal(next.streams[0]?.archive, undefined);
    const explicit = await h.module.service.archive('desi_spectro_data', NIGHT);
    assert.equal(explicit.action, 'already-archived');
    assert.equal(fs.statSync(tar).mtimeMs, stat.mtimeMs);
    assert.equal(fs.statSync(tar).ino, stat.ino);
  });

  it('records a failing archive location as failed, alerts once, and retries next pass', async () => {
    const blocker = path.join(tempDir('custodian-blocker-'), 'archive');
    fs.writeFileSync(blocker, 'a file where the archive directory should be');
    harness = build({ archive: blocker });
    const h = harness;
    writeExposure(h.source, { night: NIGHT, exposure: '00000401' });
    await h.module.service.runPass();
    const mailsBefore = smtp.mails.length;

    h.setNow(AFTER_ARCHIVE);
    const first = await h.module.service.runPass();
    assert.equal(first.streams[0]?.archive?.action, 'failed');
    const second = await h.module.service.runPass();
    assert.equal(second.streams[0]?.archive?.action, 'failed', 'retried');
    const [status] = await h.module.service.status();
    assert.equal(status?.backup?.ok, false);
    assert.ok((status?.backup?.message ?? '').length > 0);
    assert.equal(smtp.mails.length - mailsBefore, 1, 'one alert for the night, not one per pass');
    const page = await h.module.service.statusPage({});
    assert.equal(page.nights[0]?.state, 'red');
    fs.rmSync(path.dirname(blocker), { recursive: true, force: true });
  });

  it('--dry-run changes nothing: not the trees, not the permissions, not the database', async () => {
    harness = build();
    const h = harness;
    writeExposure(h.source, { night: NIGHT, exposure: '00000501' });
    await h.module.service.runPass();
    // Pending work of every kind: a new exposure, a late file, a night to catch up and archive.
    writeExposure(h.source, { night: NIGHT, exposure: '00000502' });
    fs.writeFileSync(path.join(h.source, NIGHT, '00000501', 'late.fits'), 'late\n');
    h.setNow(AFTER_ARCHIVE);

    const treeBefore = snapshotTree(h.root);
    const dbBefore = await dumpDatabase(ctx.database);
    const pass = await h.module.service.runPass({ dryRun: true });
    const catchup = await h.module.service.catchup('desi_spectro_data', NIGHT, { dryRun: true });
    const archive = await h.module.service.archive('desi_spectro_data', NIGHT, { dryRun: true });
    assert.deepEqual(snapshotTree(h.root), treeBefore);
    assert.deepEqual(await dumpDatabase(ctx.database), dbBefore);

    assert.deepEqual(
      pass.streams[0]?.exposures.map((e) => [e.exposure, e.action]),
      [['00000502', 'would-transfer']],
    );
    assert.equal(pass.streams[0]?.catchup?.action, 'would-sync');
    assert.equal(pass.streams[0]?.archive?.action, 'would-archive');
    assert.deepEqual(
      catchup.exposures.map((e) => [e.exposure, e.changed]),
      [['00000501', ['late.fits']]],
    );
    assert.equal(archive.action, 'would-archive');
  });

  it('set-status records a stage by hand for one exposure or the whole night', async () => {
    harness = build();
    const h = harness;
    writeExposure(h.source, { night: NIGHT, exposure: '00000601' });
    writeExposure(h.source, { night: NIGHT, exposure: '00000602' });
    await h.module.service.runPass();
    const rows = await h.module.service.setStatus({
      stream: 'desi_spectro_data',
      night: NIGHT,
      exposure: 'all',
      stage: 'backup',
      ok: false,
    });
    assert.deepEqual(
      rows.map((r) => [r.exposure, r.backup?.ok]),
      [
        ['00000601', false],
        ['00000602', false],
      ],
    );
    await assert.rejects(
      h.module.service.setStatus({
        stream: 'nope',
        night: NIGHT,
        exposure: 'all',
        stage: 'backup',
        ok: true,
      }),
      /no stream "nope"/,
    );
  });
});
