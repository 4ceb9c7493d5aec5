import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LockHandle, LockManager } from './lock.js';
import { runAsSingleton } from './singleton.js';
import { sleep } from './abort.js';

/** An in-memory lock manager: one holder per name, and a way to make a holder lose its lock. */
class FakeLocks implements LockManager {
  readonly held = new Map<string, AbortController>();
  attempts = 0;
  failNext = 0;
  released = 0;

  tryAcquire(name: string): Promise<LockHandle | undefined> {
    this.attempts += 1;
    if (this.failNext > 0) {
      this.failNext -= 1;
      return Promise.reject(new Error('database unreachable'));
    }
    if (this.held.has(name)) return Promise.resolve(undefined);
    const lost = new AbortController();
    this.held.set(name, lost);
    return Promise.resolve({
      name,
      lost: lost.signal,
      release: () => {
        if (this.held.get(name) === lost) this.held.delete(name);
        this.released += 1;
        return Promise.resolve();
      },
    });
  }

  loseLock(name: string): void {
    const lost = this.held.get(name);
    this.held.delete(name);
    lost?.abort(new Error('lost'));
  }
}

describe('runAsSingleton', () => {
  it('waits for the lock, runs fn, and releases it when fn returns', async () => {
    const locks = new FakeLocks();
    locks.held.set('job', new AbortController()); // another process holds it
    let ran = false;
    const run = runAsSingleton(
      locks,
      'job',
      new AbortController().signal,
      () => {
        ran = true;
        return Promise.resolve();
      },
      { retryMs: 5 },
    );
    await sleep(30);
    assert.equal(ran, false);
    locks.held.delete('job');
    await run;
    assert.equal(ran, true);
    assert.equal(locks.held.has('job'), false);
    assert.equal(locks.released, 1);
  });

  it('keeps trying when acquiring fails, and gives up waiting when aborted', async () => {
    const locks = new FakeLocks();
    locks.failNext = 2;
    locks.held.set('job', new AbortController());
    const controller = new AbortController();
    const run = runAsSingleton(
      locks,
      'job',
      controller.signal,
      () => Promise.reject(new Error('must not run')),
      { retryMs: 5 },
    );
    while (locks.attempts < 4) await sleep(5);
    controller.abort();
    await run;
  });

  it('aborts fn when the lock is lost, then waits to take the lock again', async () => {
    const locks = new FakeLocks();
    const controller = new AbortController();
    const runs: string[] = [];
    const run = runAsSingleton(
      locks,
      'job',
      controller.signal,
      async (signal) => {
        runs.push('start');
        await new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => resolve(), { once: true }),
        );
        runs.push(`stop: ${controller.signal.aborted ? 'outer' : 'lost'}`);
      },
      { retryMs: 5 },
    );
    while (runs.length < 1) await sleep(2);
    locks.loseLock('job');
    while (runs.length < 3) await sleep(2);
    controller.abort();
    await run;
    assert.deepEqual(runs, ['start', 'stop: lost', 'start', 'stop: outer']);
    assert.equal(locks.released, 2);
  });

  it('releases the lock when fn throws, and passes the error on', async () => {
    const locks = new FakeLocks();
    await assert.rejects(
      runAsSingleton(locks, 'job', new AbortController().signal, () => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(locks.held.has('job'), false);
  });
});
