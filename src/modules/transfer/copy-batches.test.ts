import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BATCH_LAST, BATCH_MAX, changedByExposure, planBatches } from './copy-batches.js';

const sizes = (n: number) => planBatches(Array.from({ length: n }, (_, i) => i)).map((b) => b.length);

describe('planBatches', () => {
  it('cuts BATCH_MAX at a time and ends with a small batch', () => {
    assert.deepEqual(sizes(0), []);
    assert.deepEqual(sizes(1), [1]);
    assert.deepEqual(sizes(7), [7]);
    assert.deepEqual(sizes(10), [4, 6]);
    assert.deepEqual(sizes(40), [32, 8]);
    assert.deepEqual(sizes(50), [32, 12, 6]);
    assert.deepEqual(sizes(100), [32, 32, 32, 4]);
  });

  it('keeps every item once, in order, within the bounds, for any night length', () => {
    for (let n = 0; n <= 300; n++) {
      const items = Array.from({ length: n }, (_, i) => i);
      const batches = planBatches(items);
      assert.deepEqual(batches.flat(), items, `n=${n}`);
      assert.ok(
        batches.every((b) => b.length >= 1 && b.length <= BATCH_MAX),
        `n=${n}`,
      );
      const last = batches.at(-1)?.length ?? 0;
      if (n > BATCH_MAX) assert.ok(last <= BATCH_LAST + 2, `n=${n}: last batch ${last}`);
    }
  });
});

describe('changedByExposure', () => {
  it('splits EXPOSURE/path entries per exposure and ignores anything that is not under one', () => {
    const split = changedByExposure([
      '00000001/a.fits',
      '00000001/sub/b c.json',
      '00000002/x',
      'stray-at-night-level',
      '00000003/',
      '/abs',
    ]);
    assert.deepEqual(Object.fromEntries(split), {
      '00000001': ['a.fits', 'sub/b c.json'],
      '00000002': ['x'],
    });
  });
});
