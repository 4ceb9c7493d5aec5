import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../logger.js';
import { runLoop, sleep } from './loop.js';
import { linkSignals } from './abort.js';

describe('runLoop', () => {
  it('repeats the iteration until aborted and finishes the current one first', async () => {
    const controller = new AbortController();
    const events: string[] = [];
    const result = await runLoop({
      name: 'test',
      signal: controller.signal,
      intervalMs: 1,
      logger: silentLogger(),
      iteration: async () => {
        events.push('start');
        if (events.filter((e) => e === 'start').length === 3) controller.abort();
        await sleep(5);
        events.push('end');
      },
    });
    assert.deepEqual(result, { stoppedBy: 'signal', iterations: 3 });
    assert.deepEqual(events, ['start', 'end', 'start', 'end', 'start', 'end']);
  });

  it('ends the pause between iterations as soon as it is aborted', async () => {
    const controller = new AbortController();
    let iterations = 0;
    const loop = runLoop({
      name: 'test',
      signal: controller.signal,
      intervalMs: 3_600_000,
      logger: silentLogger(),
      iteration: () => {
        iterations += 1;
        return Promise.resolve();
      },
    });
    await sleep(10);
    controller.abort();
    assert.deepEqual(await loop, { stoppedBy: 'signal', iterations: 1 });
    assert.equal(iterations, 1);
  });

  it('logs a failed iteration, hands it to onError and carries on', async () => {
    const controller = new AbortController();
    const errors: string[] = [];
    let calls = 0;
    const result = await runLoop({
      name: 'test',
      signal: controller.signal,
      intervalMs: 1,
      logger: silentLogger(),
      iteration: () => {
        calls += 1;
        if (calls === 1) return Promise.reject(new Error('first failed'));
        if (calls === 2) throw 'a string'; // eslint-disable-line @typescript-eslint/only-throw-error
        controller.abort();
        return Promise.resolve();
      },
      onError: (error) => {
        errors.push(error.message);
        if (errors.length === 2) throw new Error('the alert channel is down too');
      },
    });
    assert.equal(result.iterations, 3);
    assert.deepEqual(errors, ['first failed', 'a string']);
  });

  it('raises the failure alert when an iteration fails and resolves it after every good one, not after an interrupted one', async () => {
    const controller = new AbortController();
    const calls: string[] = [];
    const sink = {
      raise: (input: { code: string; key?: string; message: string; severity: string }) => {
        calls.push(`raise ${input.code} ${input.key} ${input.severity}: ${input.message}`);
        return Promise.resolve();
      },
      resolve: (code: string, key?: string) => {
        calls.push(`resolve ${code} ${key}`);
        return Promise.resolve();
      },
    };
    const script: (() => Promise<void | 'interrupted'>)[] = [
      () => Promise.resolve(),
      () => Promise.reject(new Error('database is down')),
      () => Promise.resolve('interrupted'),
      () => {
        controller.abort();
        return Promise.resolve();
      },
    ];
    let next = 0;
    const result = await runLoop({
      name: 'test:watch',
      signal: controller.signal,
      intervalMs: 1,
      logger: silentLogger(),
      failureAlert: { sink, code: 'TEST_PASS_FAILED', message: (error) => `a pass failed: ${error.message}` },
      iteration: () => (script[next++] as () => Promise<void | 'interrupted'>)(),
    });
    assert.equal(result.iterations, 4);
    assert.deepEqual(calls, [
      'resolve TEST_PASS_FAILED test:watch',
      'raise TEST_PASS_FAILED test:watch critical: a pass failed: database is down',
      'resolve TEST_PASS_FAILED test:watch',
    ]);
  });

  it('stops before the next iteration when the kill file exists', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-loop-'));
    const killFile = path.join(dir, 'STOP');
    try {
      let iterations = 0;
      const result = await runLoop({
        name: 'test',
        signal: new AbortController().signal,
        intervalMs: 1,
        killFile,
        logger: silentLogger(),
        iteration: () => {
          iterations += 1;
          if (iterations === 2) fs.writeFileSync(killFile, '');
          return Promise.resolve();
        },
      });
      assert.deepEqual(result, { stoppedBy: 'kill-file', iterations: 2 });
      // With the file still there, the loop does not even start.
      const again = await runLoop({
        name: 'test',
        signal: new AbortController().signal,
        intervalMs: 1,
        killFile,
        logger: silentLogger(),
        iteration: () => Promise.reject(new Error('must not run')),
      });
      assert.deepEqual(again, { stoppedBy: 'kill-file', iterations: 0 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not start when already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const result = await runLoop({
      name: 'test',
      signal: controller.signal,
      intervalMs: 1,
      logger: silentLogger(),
      iteration: () => Promise.reject(new Error('must not run')),
    });
    assert.deepEqual(result, { stoppedBy: 'signal', iterations: 0 });
  });
});

describe('sleep and linkSignals', () => {
  it('sleep resolves true after the time, false when aborted', async () => {
    assert.equal(await sleep(1), true);
    const controller = new AbortController();
    const pending = sleep(3_600_000, controller.signal);
    controller.abort();
    assert.equal(await pending, false);
    assert.equal(await sleep(3_600_000, controller.signal), false);
  });

  it('a linked signal aborts with the first source and detaches on dispose', () => {
    const a = new AbortController();
    const b = new AbortController();
    const link = linkSignals(a.signal, undefined, b.signal);
    b.abort('because');
    assert.equal(link.signal.aborted, true);
    assert.equal(link.signal.reason, 'because');
    link.dispose();

    const c = new AbortController();
    const disposed = linkSignals(c.signal);
    disposed.dispose();
    c.abort();
    assert.equal(disposed.signal.aborted, false);

    assert.equal(linkSignals(c.signal).signal.aborted, true, 'an already aborted source aborts at once');
  });
});
