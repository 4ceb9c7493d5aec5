import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../../core/errors.js';
import { validateRootFile } from './root-file.validator.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../../shared/fixtures/root');

async function refusal(bytes: Uint8Array): Promise<string> {
  try {
    await validateRootFile(bytes);
  } catch (error) {
    assert.ok(error instanceof InputError);
    return error.code;
  }
  assert.fail('expected the bytes to be refused');
}

describe('ROOT file validator', () => {
  it('reads the key list of real ROOT files', async () => {
    const histograms = fs.readFileSync(path.join(FIXTURES, 'uproot-histograms.root'));
    assert.deepEqual(await validateRootFile(histograms), { keys: ['one', 'two', 'three'] });
    const hepdata = fs.readFileSync(path.join(FIXTURES, 'uproot-hepdata-example.root'));
    assert.deepEqual((await validateRootFile(hepdata)).keys, ['hpx', 'hpxpy', 'hprof', 'ntuple']);
    // a view into a larger buffer works too
    const pooled = Buffer.concat([Buffer.from('garbage'), histograms]).subarray(7);
    assert.equal((await validateRootFile(pooled)).keys.length, 3);
  });

  it('says which: empty, not ROOT, truncated, corrupt', async () => {
    const histograms = fs.readFileSync(path.join(FIXTURES, 'uproot-histograms.root'));
    assert.equal(await refusal(new Uint8Array()), 'INGEST_UPLOAD_EMPTY');
    assert.equal(await refusal(Buffer.from('hello, world')), 'INGEST_UPLOAD_NOT_ROOT');
    assert.equal(await refusal(histograms.subarray(0, 10)), 'INGEST_UPLOAD_CORRUPT');
    assert.equal(await refusal(histograms.subarray(0, histograms.length - 1)), 'INGEST_UPLOAD_CORRUPT');
    const scrambled = Buffer.from(histograms);
    for (let i = 300; i < scrambled.length; i += 5) scrambled[i] = (scrambled[i] ?? 0) ^ 0xa5;
    assert.equal(await refusal(scrambled), 'INGEST_UPLOAD_CORRUPT');
  });
});
