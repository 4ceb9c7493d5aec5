import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { runCli, tempDir } from '../../helpers/cli.js';

// `custodian transfer verify DIR --json`: exit 0 when the manifest matches, 1 when it does not,
// 2 when DIR does not exist; the manifest defaults to the single *.sha256sum file in DIR.
const dir = tempDir('custodian-verify-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

interface VerifyResult {
  ok: boolean;
  verified: number;
  bytes: number;
  missing: string[];
  unlisted: string[];
  mismatched: string[];
  malformed: { line: number; text: string }[];
}

function exposure(name: string): string {
  const root = path.join(dir, name);
  fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(root, 'desi-00012345.fits.fz'), 'raw data');
  fs.writeFileSync(path.join(root, 'sub', 'guide file.json'), '{"guide": 1}');
  const manifest = spawnSync('sha256sum', ['desi-00012345.fits.fz', 'sub/guide file.json'], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(manifest.status, 0, manifest.stderr);
  fs.writeFileSync(path.join(root, 'checksum-00012345.sha256sum'), manifest.stdout);
  return root;
}

test('a matching exposure verifies (exit 0)', async () => {
  const root = exposure('good');
  const result = await runCli(['transfer', 'verify', root, '--json']);
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as VerifyResult;
  assert.equal(report.ok, true);
  assert.equal(report.verified, 2);
  assert.equal(report.bytes, 'raw data'.length + '{"guide": 1}'.length);
});

test('a missing and an extra file are both reported (exit 1)', async () => {
  const root = exposure('bad');
  fs.rmSync(path.join(root, 'desi-00012345.fits.fz'));
  fs.writeFileSync(path.join(root, 'late.fits'), 'late');
  const result = await runCli(['transfer', 'verify', root, '--json']);
  assert.equal(result.code, 1, result.stderr);
  const report = JSON.parse(result.stdout) as VerifyResult;
  assert.equal(report.ok, false);
  assert.deepEqual(report.missing, ['desi-00012345.fits.fz']);
  assert.deepEqual(report.unlisted, ['late.fits']);
});

test('a directory that does not exist is bad input (exit 2)', async () => {
  const result = await runCli(['transfer', 'verify', path.join(dir, 'nope'), '--json']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /nope/);
});
