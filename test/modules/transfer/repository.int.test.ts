// TransferRepository.recordStages on every dialect: many records in few statements, one
// transaction, the later record of a repeated stage winning the latest state.
import { it, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachDialect } from '../../helpers/database.js';
import { migrateToLatest } from '../../../src/core/db/migrations.js';
import { tables } from '../../../src/core/db/database.js';
import {
  TransferRepository,
  transferMigrations,
  type StageRecord,
} from '../../../src/modules/transfer/index.js';

describeEachDialect('transfer repository', (ctx) => {
  let repository: TransferRepository;

  beforeEach(async () => {
    await migrateToLatest(ctx.database, [transferMigrations]);
    const db = tables<Record<string, object>>(ctx.database);
    for (const table of ['transfer_stages', 'transfer_stage_history']) await db.deleteFrom(table).execute();
    repository = new TransferRepository(ctx.database);
  });

  const record = (exposure: number, stage: StageRecord['stage'], ok: boolean, at: number): StageRecord => ({
    stream: 'spectro',
    night: '20240315',
    exposure: String(exposure).padStart(8, '0'),
    stage,
    ok,
    at,
    message: `${stage} of ${exposure} at ${at}`,
  });

  it('records more stages than one statement holds, all or nothing, the later of a repeated stage winning', async () => {
    // 1,300 exposures × rsync and checksum: several chunks of each statement.
    const records = Array.from({ length: 1300 }, (_, e) => [
      record(e, 'rsync', true, 1_000 + e),
      record(e, 'checksum', e % 7 !== 0, 2_000 + e),
    ]).flat();
    // Exposure 5's checksum comes again in the same statement's chunk, later and good: history
    // keeps both, the state is the later (PostgreSQL refuses one upsert touching a row twice).
    records.splice(20, 0, record(5, 'checksum', true, 9_000));
    await repository.recordStages(records);

    const snapshot = await repository.snapshot();
    assert.equal(snapshot.stages.length, 2600);
    assert.equal(snapshot.history.length, 2601);
    const state = (exposure: number, stage: string) =>
      snapshot.stages.find((s) => s.exposure === String(exposure).padStart(8, '0') && s.stage === stage);
    assert.deepEqual(state(5, 'checksum'), record(5, 'checksum', true, 9_000));
    assert.deepEqual(state(7, 'checksum'), record(7, 'checksum', false, 2_007));
    assert.deepEqual(state(1299, 'rsync'), record(1299, 'rsync', true, 2_299));
    const history = await repository.history('spectro', { night: '20240315', exposure: '00000005' });
    assert.deepEqual(
      history.map((h) => [h.stage, h.message]),
      [
        ['rsync', 'rsync of 5 at 1005'],
        ['checksum', 'checksum of 5 at 2005'],
        ['checksum', 'checksum of 5 at 9000'],
      ],
    );

    // A record that breaks a constraint fails the whole call: nothing of it is kept.
    const before = await repository.snapshot();
    const broken = { ...record(2000, 'rsync', true, 3_000), message: null as unknown as string };
    await assert.rejects(repository.recordStages([record(2001, 'rsync', true, 3_000), broken]));
    assert.deepEqual(await repository.snapshot(), before);

    // Recording again updates the latest state in place.
    await repository.recordStages([record(7, 'checksum', true, 10_000)]);
    assert.deepEqual(
      (await repository.snapshot()).stages.find((s) => s.exposure === '00000007' && s.stage === 'checksum'),
      record(7, 'checksum', true, 10_000),
    );
  });
});
