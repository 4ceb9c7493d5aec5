import { before, afterEach, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { describeEachDialect } from '../../helpers/database.js';
import { openDatabase, type Database } from '../../../src/core/db/database.js';
import { migrateToLatest } from '../../../src/core/db/migrations.js';
import { InputError, InternalError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { sleep } from '../../../src/core/lifecycle/abort.js';
import { defineTask, type JobQueue } from '../../../src/core/queue/job-queue.js';
import { createJobQueue } from '../../../src/core/queue/queue.factory.js';
import { queueMigrations } from '../../../src/core/queue/queue.migrations.js';

/**
 * The JobQueue contract, written once: the in-process queue on every dialect, graphile-worker on
 * PostgreSQL. Each test uses task names of its own, so jobs other tests left behind (failed ones)
 * are never picked up; counts are compared before and after.
 */

/** Polls until `condition` holds; the limit only keeps a broken queue from hanging the suite. */
async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  limitMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

for (const adapter of ['in-process', 'graphile-worker'] as const) {
  describeEachDialect(`JobQueue contract (${adapter})`, (ctx) => {
    if (adapter === 'graphile-worker' && ctx.dialect !== 'postgres') return;

    const toClose: { close(): Promise<void> }[] = [];

    before(async () => {
      await migrateToLatest(ctx.database, [queueMigrations]);
    });

    afterEach(async () => {
      for (const item of toClose.splice(0).reverse()) await item.close();
    });

    function newQueue(database: Database = ctx.database): JobQueue {
      const queue = createJobQueue(database, {
        adapter,
        connectionString: ctx.url,
        logger: silentLogger(),
        pollIntervalMs: 25,
        retryBaseMs: 20,
        lockTimeoutMs: 5_000,
      });
      toClose.push(queue);
      return queue;
    }

    async function secondHandle(): Promise<Database> {
      const database = await openDatabase(ctx.url);
      toClose.push(database);
      return database;
    }

    it('runs enqueued jobs with their parsed payload, then forgets them', async () => {
      const queue = newQueue();
      const seen: string[] = [];
      queue.register(
        defineTask({
          name: 'test:echo',
          schema: z.object({ text: z.string() }),
          handler: (payload, context) => {
            assert.equal(context.attempt, 1);
            assert.ok(context.jobId.length > 0);
            seen.push(payload.text);
            return Promise.resolve();
          },
        }),
      );
      const before = await queue.stats();
      await queue.enqueue('test:echo', { text: 'a' });
      await queue.enqueue('test:echo', { text: 'b' });
      assert.equal((await queue.stats()).pending, before.pending + 2);
      await queue.runUntilIdle();
      assert.deepEqual(seen.sort(), ['a', 'b']);
      assert.deepEqual(await queue.stats(), before);

      // The same through run(): a job enqueued while it waits is picked up.
      const controller = new AbortController();
      const running = queue.run(controller.signal);
      await queue.enqueue('test:echo', { text: 'c' });
      await waitFor('job c', () => seen.includes('c'));
      controller.abort();
      await running;
    });

    it('rejects a payload that does not match the task schema at enqueue, and unknown tasks', async () => {
      const queue = newQueue();
      queue.register(
        defineTask({
          name: 'test:strict',
          schema: z.object({ count: z.number().int() }),
          handler: () => Promise.resolve(),
        }),
      );
      const before = await queue.stats();
      await assert.rejects(queue.enqueue('test:strict', { count: 'three' }), (error: unknown) => {
        assert.ok(error instanceof InputError);
        assert.equal(error.code, 'QUEUE_INVALID_PAYLOAD');
        assert.match(error.message, /count/);
        return true;
      });
      await assert.rejects(
        queue.enqueue('test:nobody', {}),
        (error: unknown) => error instanceof InternalError && error.code === 'QUEUE_UNKNOWN_TASK',
      );
      assert.deepEqual(await queue.stats(), before);
    });

    it('retries a failing job with backoff until it succeeds', async () => {
      const queue = newQueue();
      const attempts: number[] = [];
      queue.register(
        defineTask({
          name: 'test:flaky',
          schema: z.object({}),
          handler: (_payload, context) => {
            attempts.push(context.attempt);
            if (context.attempt < 2) return Promise.reject(new Error('transient'));
            return Promise.resolve();
          },
        }),
      );
      const before = await queue.stats();
      await queue.enqueue('test:flaky', {}, { maxAttempts: 3 });
      const controller = new AbortController();
      const running = queue.run(controller.signal);
      await waitFor('the second attempt', () => attempts.length >= 2);
      controller.abort();
      await running;
      assert.deepEqual(attempts, [1, 2]);
      assert.deepEqual(await queue.stats(), before);
    });

    it('keeps a permanently failing job as failed without blocking other jobs', async () => {
      const queue = newQueue();
      let badAttempts = 0;
      const good: number[] = [];
      queue.register(
        defineTask({
          name: 'test:doomed',
          schema: z.object({}),
          handler: () => {
            badAttempts += 1;
            return Promise.reject(new Error('boom'));
          },
        }),
      );
      queue.register(
        defineTask({
          name: 'test:fine',
          schema: z.object({ n: z.number() }),
          handler: (payload) => {
            good.push(payload.n);
            return Promise.resolve();
          },
        }),
      );
      const before = await queue.stats();
      await queue.enqueue('test:doomed', {}, { maxAttempts: 2 });
      await queue.enqueue('test:fine', { n: 1 });
      const controller = new AbortController();
      const running = queue.run(controller.signal);
      await waitFor(
        'the doomed job to fail for good',
        async () => (await queue.stats()).failed === before.failed + 1,
      );
      await waitFor('the good job', () => good.length === 1);
      controller.abort();
      await running;
      assert.equal(badAttempts, 2);
      assert.deepEqual(good, [1]);
      assert.deepEqual(await queue.stats(), { ...before, failed: before.failed + 1 });
    });

    it('replaces a pending job that has the same jobKey', async () => {
      const queue = newQueue();
      const seen: number[] = [];
      queue.register(
        defineTask({
          name: 'test:keyed',
          schema: z.object({ n: z.number() }),
          handler: (payload) => {
            seen.push(payload.n);
            return Promise.resolve();
          },
        }),
      );
      const before = await queue.stats();
      const first = await queue.enqueue('test:keyed', { n: 1 }, { jobKey: 'refresh:site-a' });
      const second = await queue.enqueue('test:keyed', { n: 2 }, { jobKey: 'refresh:site-a' });
      await queue.enqueue('test:keyed', { n: 3 }, { jobKey: 'refresh:site-b' });
      assert.equal(second.jobId, first.jobId);
      assert.equal((await queue.stats()).pending, before.pending + 2);
      await queue.runUntilIdle();
      assert.deepEqual(seen.sort(), [2, 3]);
    });

    it('does not start a job before runAt', async () => {
      const queue = newQueue();
      const seen: string[] = [];
      queue.register(
        defineTask({
          name: 'test:later',
          schema: z.object({ id: z.string() }),
          handler: (payload) => {
            seen.push(payload.id);
            return Promise.resolve();
          },
        }),
      );
      await queue.enqueue('test:later', { id: 'future' }, { runAt: new Date(Date.now() + 3_600_000) });
      await queue.enqueue('test:later', { id: 'now' });
      await queue.runUntilIdle();
      assert.deepEqual(seen, ['now']);
    });

    it('fails a job for good when its payload no longer matches the schema at run time', async () => {
      // Producer and worker disagree on the schema (e.g. after an upgrade): retrying cannot help.
      const producer = newQueue();
      producer.register(
        defineTask({
          name: 'test:evolving',
          schema: z.object({ n: z.number() }),
          handler: () => Promise.resolve(),
        }),
      );
      const worker = newQueue();
      let called = false;
      worker.register(
        defineTask({
          name: 'test:evolving',
          schema: z.object({ n: z.string() }),
          handler: () => {
            called = true;
            return Promise.resolve();
          },
        }),
      );
      const before = await worker.stats();
      await producer.enqueue('test:evolving', { n: 1 }, { maxAttempts: 5 });
      await worker.runUntilIdle();
      assert.equal(called, false);
      assert.deepEqual(await worker.stats(), { ...before, failed: before.failed + 1 });
    });

    it('executes each job exactly once with two queue instances on two database handles', async () => {
      const counts = new Map<number, number>();
      const define = () =>
        defineTask({
          name: 'test:count',
          schema: z.object({ n: z.number().int() }),
          handler: async (payload) => {
            counts.set(payload.n, (counts.get(payload.n) ?? 0) + 1);
            await sleep(Math.floor(Math.random() * 8));
          },
        });
      const first = newQueue();
      const second = newQueue(await secondHandle());
      first.register(define());
      second.register(define());
      const before = await first.stats();
      for (let n = 0; n < 30; n += 1) await first.enqueue('test:count', { n });
      const controller = new AbortController();
      const running = Promise.all([
        first.run(controller.signal, { concurrency: 2 }),
        second.run(controller.signal, { concurrency: 2 }),
      ]);
      await waitFor('all 30 jobs', () => counts.size === 30);
      controller.abort();
      await running;
      assert.equal(counts.size, 30);
      for (const [n, count] of counts) assert.equal(count, 1, `job ${n} ran ${count} times`);
      assert.deepEqual(await first.stats(), before);
    });

    it('close() stops a running run() and can be called twice', async () => {
      const queue = newQueue();
      queue.register(
        defineTask({ name: 'test:idle', schema: z.object({}), handler: () => Promise.resolve() }),
      );
      const running = queue.run(new AbortController().signal);
      await queue.stats();
      await queue.close();
      await running;
      await queue.close();
    });

    it('stops run() on abort only after the in-flight job finished', async () => {
      const queue = newQueue();
      let release!: () => void;
      const started = new Promise<void>((resolve) => (release = resolve));
      let finished = false;
      let sawAbort = false;
      queue.register(
        defineTask({
          name: 'test:slow',
          schema: z.object({}),
          handler: async (_payload, context) => {
            release();
            // A handler that does not stop early: run() must wait for it.
            await sleep(200);
            sawAbort = context.signal.aborted;
            finished = true;
          },
        }),
      );
      const before = await queue.stats();
      await queue.enqueue('test:slow', {});
      const controller = new AbortController();
      const running = queue.run(controller.signal);
      await started;
      controller.abort();
      await running;
      assert.equal(finished, true);
      assert.equal(sawAbort, true, 'the handler signal aborts when the queue stops');
      assert.deepEqual(await queue.stats(), before);
    });
  });
}
