import { before, afterEach, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { describeEachDialect, createTestDatabase } from '../../helpers/database.js';
import { openDatabase, tables, type Database } from '../../../src/core/db/database.js';
import { migrateAllDown, migrateToLatest } from '../../../src/core/db/migrations.js';
import { silentLogger } from '../../../src/core/logger.js';
import { sleep } from '../../../src/core/lifecycle/abort.js';
import { defineTask } from '../../../src/core/queue/job-queue.js';
import {
  InProcessJobQueue,
  queueMigrations,
  type InProcessQueueOptions,
} from '../../../src/core/queue/in-process.queue.js';
import type { QueueTables } from '../../../src/core/queue/queue.table.js';

/** What the in-process queue keeps in its table, beyond the shared contract. */
describeEachDialect('in-process queue', (ctx) => {
  const toClose: { close(): Promise<void> }[] = [];
  const jobs = () => tables<QueueTables>(ctx.database);

  before(async () => {
    await migrateToLatest(ctx.database, [queueMigrations]);
  });

  afterEach(async () => {
    for (const item of toClose.splice(0).reverse()) await item.close();
  });

  function newQueue(
    options: Partial<InProcessQueueOptions> = {},
    database: Database = ctx.database,
  ): InProcessJobQueue {
    const queue = new InProcessJobQueue(database, {
      logger: silentLogger(),
      pollIntervalMs: 20,
      retryBaseMs: 20,
      ...options,
    });
    toClose.push(queue);
    return queue;
  }

  it('migrates up and down', async () => {
    const testDb = await createTestDatabase(ctx.dialect);
    const database = await testDb.open();
    try {
      await migrateToLatest(database, [queueMigrations]);
      await database.db.selectFrom('jobs').selectAll().execute();
      await migrateAllDown(database, [queueMigrations]);
      await assert.rejects(database.db.selectFrom('jobs').selectAll().execute());
      await migrateToLatest(database, [queueMigrations]);
    } finally {
      await database.close();
      await testDb.drop();
    }
  });

  it('backs off exponentially and keeps a permanently failed job with its last error', async () => {
    const queue = newQueue({ retryBaseMs: 60_000 });
    queue.register(
      defineTask({
        name: 'test:broken',
        schema: z.object({}),
        handler: () => Promise.reject(new Error('disk full')),
      }),
    );
    const { jobId } = await queue.enqueue('test:broken', {}, { maxAttempts: 3 });
    const id = Number(jobId);
    const row = () => jobs().selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

    const firstTry = Date.now();
    await queue.runUntilIdle();
    let job = await row();
    assert.equal(job.state, 'pending');
    assert.equal(job.attempts, 1);
    assert.equal(job.last_error, 'disk full');
    assert.ok(job.run_at >= firstTry + 60_000, 'first retry waits retryBaseMs');

    // Make the retry due now instead of waiting for it.
    await jobs().updateTable('jobs').set({ run_at: 0 }).where('id', '=', id).execute();
    const secondTry = Date.now();
    await queue.runUntilIdle();
    job = await row();
    assert.equal(job.attempts, 2);
    assert.ok(job.run_at >= secondTry + 120_000, 'second retry waits twice as long');

    await jobs().updateTable('jobs').set({ run_at: 0 }).where('id', '=', id).execute();
    await queue.runUntilIdle();
    job = await row();
    assert.equal(job.state, 'failed');
    assert.equal(job.attempts, 3);
    assert.equal(job.last_error, 'disk full');
    assert.equal(job.locked_by, null);
  });

  it('records why a job with an invalid stored payload failed', async () => {
    const queue = newQueue();
    queue.register(
      defineTask({
        name: 'test:typed',
        schema: z.object({ site: z.string() }),
        handler: () => Promise.resolve(),
      }),
    );
    const { id } = await jobs()
      .insertInto('jobs')
      .values({
        name: 'test:typed',
        payload: '{"site": 42}',
        job_key: null,
        run_at: 0,
        attempts: 0,
        max_attempts: 5,
        last_error: null,
        locked_by: null,
        locked_at: null,
        state: 'pending',
        created_at: Date.now(),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await queue.runUntilIdle();
    const job = await jobs().selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    assert.equal(job.state, 'failed');
    assert.equal(job.attempts, 1);
    assert.match(job.last_error ?? '', /invalid payload for task test:typed: site: .*not retried/);
  });

  it('takes over a job whose worker crashed, once its lock is stale', async () => {
    const queue = newQueue({ lockTimeoutMs: 1_000 });
    const seen: string[] = [];
    queue.register(
      defineTask({
        name: 'test:orphan',
        schema: z.object({ id: z.string() }),
        handler: (payload) => {
          seen.push(payload.id);
          return Promise.resolve();
        },
      }),
    );
    const crashed = (id: string, lockedAt: number, attempts: number) =>
      jobs()
        .insertInto('jobs')
        .values({
          name: 'test:orphan',
          payload: JSON.stringify({ id }),
          job_key: null,
          run_at: 0,
          attempts,
          max_attempts: 2,
          last_error: null,
          locked_by: 'dead-host:1:abc#1',
          locked_at: lockedAt,
          state: 'running',
          created_at: 0,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
    await crashed('stale', Date.now() - 60_000, 1);
    const lastChance = await crashed('stale-no-attempts-left', Date.now() - 60_000, 2);
    await crashed('fresh', Date.now() + 60_000, 1);
    await queue.runUntilIdle();
    assert.deepEqual(seen, ['stale']);
    const failed = await jobs()
      .selectFrom('jobs')
      .selectAll()
      .where('id', '=', lastChance.id)
      .executeTakeFirstOrThrow();
    assert.equal(failed.state, 'failed');
    assert.match(failed.last_error ?? '', /stopped refreshing its lock/);
    const stats = await queue.stats();
    assert.equal(stats.running, 1, 'the job with a live lock is left alone');
    await jobs().deleteFrom('jobs').where('state', '=', 'running').execute();
  });

  it('keeps refreshing the lock of a long job so no other worker takes it over', async () => {
    const other = await openDatabase(ctx.url);
    toClose.push(other);
    // Long enough that a loaded machine still refreshes in time; the job outlives it threefold.
    const lockTimeoutMs = 400;
    let runs = 0;
    const define = () =>
      defineTask({
        name: 'test:long',
        schema: z.object({}),
        handler: async () => {
          runs += 1;
          await sleep(lockTimeoutMs * 3);
        },
      });
    const first = newQueue({ lockTimeoutMs });
    const second = newQueue({ lockTimeoutMs }, other);
    first.register(define());
    second.register(define());
    await first.enqueue('test:long', {});
    const controller = new AbortController();
    const running = first.run(controller.signal);
    while (runs === 0) await sleep(5);
    const busy = (async () => {
      for (let i = 0; i < 15; i += 1) {
        await second.runUntilIdle();
        await sleep(lockTimeoutMs / 5);
      }
    })();
    await busy;
    controller.abort();
    await running;
    assert.equal(runs, 1);
  });
});
