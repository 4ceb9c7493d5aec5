import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FailedLoginCounter } from './login-throttle.js';

test('failures count per client within a window that then expires', () => {
  let now = 1_000_000;
  const counter = new FailedLoginCounter(60_000, () => now);
  assert.deepEqual(counter.peek('a'), { count: 0, ttlMs: 60_000 });
  counter.recordFailure('a');
  now += 10_000;
  counter.recordFailure('a');
  assert.deepEqual(counter.peek('a'), { count: 2, ttlMs: 50_000 });
  assert.equal(counter.peek('b').count, 0);
  now += 50_000;
  assert.equal(counter.peek('a').count, 0);
  counter.recordFailure('a');
  assert.equal(counter.peek('a').count, 1);
});

test('memory is bounded: the oldest clients are forgotten', () => {
  const counter = new FailedLoginCounter(60_000, () => 0, 3);
  for (const client of ['a', 'b', 'c', 'd']) counter.recordFailure(client);
  assert.equal(counter.peek('a').count, 0);
  assert.equal(counter.peek('d').count, 1);
});

test('the rate-limit store reports attempts as failures + 1 without counting them', () => {
  const counter = new FailedLoginCounter(60_000, () => 0);
  const Store = counter.rateLimitStore();
  const store = new Store({});
  const current = () => {
    let result: { current: number; ttl: number } | undefined;
    store.incr('x', (_error, value) => (result = value));
    return result?.current;
  };
  assert.equal(current(), 1);
  assert.equal(current(), 1);
  counter.recordFailure('x');
  assert.equal(current(), 2);
  assert.equal(store.child({} as never), store);
});
