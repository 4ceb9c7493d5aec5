import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { Command } from 'commander';
import { createOutput } from '../../../src/core/cli/output.js';
import { InputError } from '../../../src/core/errors.js';
import { hasProgram, requirement } from '../../helpers/environment.js';
import {
  NodeFileHasher,
  registerTransferCommands,
  verifyDirectory,
  type VerifyResult,
} from '../../../src/modules/transfer/index.js';

const skip = requirement(hasProgram('sha256sum'), 'sha256sum (GNU coreutils)');
const files = new NodeFileHasher({ chunkBytes: 4096 }); // small chunks: multi-chunk files in tests
const MANIFEST = 'checksum-00012345.sha256sum';

const CONTENT: Record<string, string | Buffer> = {
  'a.fits': 'alpha',
  'b.fits': Buffer.alloc(10_000, 7),
  'name with spaces.json': '{"x":1}',
  'sub/dir/deep.fits': 'deep',
  'empty.txt': '',
};

let dir: string;

/** The manifest exactly as `sha256sum` writes it for `names`, run in DIR. */
function sha256sum(names: readonly string[]): string {
  return execFileSync('sha256sum', ['--', ...names], { cwd: dir, encoding: 'utf8' });
}

function writeManifest(text: string, name = MANIFEST): void {
  fs.writeFileSync(path.join(dir, name), text);
}

function verify(manifest?: string): Promise<VerifyResult> {
  return verifyDirectory({ dir, manifest }, { files });
}

const good = (count: number, bytes: number) => ({
  ok: true,
  verified: count,
  bytes,
  missing: [],
  unlisted: [],
  mismatched: [],
  malformed: [],
});
const totalBytes = Object.values(CONTENT).reduce((n, c) => n + Buffer.byteLength(c), 0);

describe('transfer verify on a real tree', { skip }, () => {
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-verify-'));
    for (const [name, content] of Object.entries(CONTENT)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), content);
    }
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('all good (names with spaces, a subdirectory, an empty file), manifest found by default', async () => {
    writeManifest(sha256sum(Object.keys(CONTENT)));
    assert.deepEqual(await verify(), good(5, totalBytes));
  });

  it('accepts binary-mode (space-asterisk) lines as sha256sum -b writes them', async () => {
    writeManifest(execFileSync('sha256sum', ['-b', ...Object.keys(CONTENT)], { cwd: dir, encoding: 'utf8' }));
    assert.deepEqual(await verify(), good(5, totalBytes));
  });

  it('one listed file missing', async () => {
    writeManifest(sha256sum(Object.keys(CONTENT)));
    fs.rmSync(path.join(dir, 'a.fits'));
    const result = await verify();
    assert.equal(result.ok, false);
    assert.deepEqual(result.missing, ['a.fits']);
    assert.deepEqual([result.unlisted, result.mismatched, result.malformed], [[], [], []]);
    assert.equal(result.verified, 4);
  });

  it('one extra file', async () => {
    writeManifest(sha256sum(Object.keys(CONTENT)));
    fs.writeFileSync(path.join(dir, 'sub', 'late.fits'), 'late');
    const result = await verify();
    assert.equal(result.ok, false);
    assert.deepEqual(result.unlisted, ['sub/late.fits']);
    assert.deepEqual([result.missing, result.mismatched, result.malformed], [[], [], []]);
  });

  it('one missing and one extra at the same time: both reported', async () => {
    writeManifest(sha256sum(Object.keys(CONTENT)));
    fs.renameSync(path.join(dir, 'b.fits'), path.join(dir, 'b-renamed.fits'));
    const result = await verify();
    assert.equal(result.ok, false);
    assert.deepEqual(result.missing, ['b.fits']);
    assert.deepEqual(result.unlisted, ['b-renamed.fits']);
    assert.equal(result.verified, 4);
  });

  it('every hash wrong', async () => {
    writeManifest(sha256sum(Object.keys(CONTENT)));
    for (const name of Object.keys(CONTENT)) fs.appendFileSync(path.join(dir, name), 'x');
    const result = await verify();
    assert.equal(result.ok, false);
    assert.equal(result.verified, 0);
    assert.deepEqual(result.mismatched, Object.keys(CONTENT).sort());
    assert.deepEqual([result.missing, result.unlisted], [[], []]);
  });

  it('no trailing newline', async () => {
    writeManifest(sha256sum(Object.keys(CONTENT)).trimEnd());
    assert.deepEqual(await verify(), good(5, totalBytes));
  });

  it('a name with spaces, agreeing with sha256sum -c', async () => {
    writeManifest(sha256sum(['name with spaces.json']), 'only.sha256sum');
    const result = await verify(path.join(dir, 'only.sha256sum'));
    assert.deepEqual(result.unlisted, ['a.fits', 'b.fits', 'empty.txt', 'sub/dir/deep.fits']);
    assert.equal(result.verified, 1);
    execFileSync('sha256sum', ['-c', '--quiet', 'only.sha256sum'], { cwd: dir }); // throws on failure
  });

  it('a file in a subdirectory, with a manifest outside DIR', async () => {
    const outside = path.join(os.tmpdir(), `custodian-manifest-${process.pid}.sha256sum`);
    fs.writeFileSync(outside, sha256sum(Object.keys(CONTENT)));
    try {
      assert.deepEqual(await verify(outside), good(5, totalBytes));
      fs.writeFileSync(path.join(dir, 'sub/dir/deep.fits'), 'changed');
      assert.deepEqual((await verify(outside)).mismatched, ['sub/dir/deep.fits']);
    } finally {
      fs.rmSync(outside, { force: true });
    }
  });

  it('malformed lines fail the verification even when every file matches', async () => {
    const lines = sha256sum(Object.keys(CONTENT)).split('\n');
    lines.splice(1, 0, 'not a checksum line', `${'0'.repeat(64)}  ../outside`);
    writeManifest(lines.join('\n'));
    const result = await verify();
    assert.equal(result.ok, false);
    assert.equal(result.verified, 5);
    assert.deepEqual(result.malformed, [
      { line: 2, text: 'not a checksum line' },
      { line: 3, text: `${'0'.repeat(64)}  ../outside` },
    ]);
  });

  it('empty manifest: never a pass', async () => {
    writeManifest('');
    const result = await verify();
    assert.equal(result.ok, false);
    assert.deepEqual(result.malformed, [{ line: 0, text: 'empty manifest' }]);
    assert.deepEqual(result.unlisted, Object.keys(CONTENT).sort());
  });

  it('missing manifest: never a pass (none in DIR, or --manifest names no file)', async () => {
    const none = await verify();
    assert.equal(none.ok, false);
    assert.equal(none.malformed[0]?.line, 0);
    assert.match(none.malformed[0]?.text ?? '', /no \*\.sha256sum manifest/);
    const named = await verify(path.join(dir, 'nope.sha256sum'));
    assert.equal(named.ok, false);
    assert.match(named.malformed[0]?.text ?? '', /does not exist/);
  });

  it('several *.sha256sum files or no DIR: InputError', async () => {
    writeManifest(sha256sum(['a.fits']), 'one.sha256sum');
    writeManifest(sha256sum(['a.fits']), 'two.sha256sum');
    await assert.rejects(
      verify(),
      (e: unknown) => e instanceof InputError && e.code === 'TRANSFER_MANIFEST_AMBIGUOUS',
    );
    await assert.rejects(
      verifyDirectory({ dir: path.join(dir, 'nope') }, { files }),
      (e: unknown) => e instanceof InputError && e.code === 'TRANSFER_DIR_NOT_FOUND',
    );
  });

  describe('custodian transfer verify', () => {
    afterEach(() => {
      process.exitCode = undefined;
    });

    async function cli(argv: string[]): Promise<{ stdout: string; exitCode: typeof process.exitCode }> {
      let stdout = '';
      const sink = new Writable({
        write(chunk: Buffer, _encoding, done) {
          stdout += chunk.toString();
          done();
        },
      });
      const program = new Command('custodian').exitOverride();
      registerTransferCommands(program, { output: (options) => createOutput(options, sink) });
      await program.parseAsync(['node', 'custodian', 'transfer', 'verify', ...argv]);
      const exitCode = process.exitCode;
      process.exitCode = undefined;
      return { stdout, exitCode };
    }

    it('--json prints the result; exit code 1 only when not ok', async () => {
      writeManifest(sha256sum(Object.keys(CONTENT)));
      const pass = await cli([dir, '--json']);
      assert.deepEqual(JSON.parse(pass.stdout), good(5, totalBytes));
      assert.equal(pass.exitCode, undefined);
      fs.rmSync(path.join(dir, 'a.fits'));
      const fail = await cli([dir, '--manifest', path.join(dir, MANIFEST), '--json']);
      assert.deepEqual((JSON.parse(fail.stdout) as VerifyResult).missing, ['a.fits']);
      assert.equal(fail.exitCode, 1);
      const human = await cli([dir]);
      assert.match(human.stdout, /^FAILED: 4 files verified[\s\S]*missing \(1\):\n {2}a\.fits/);
    });

    it('no DIR: InputError (exit 2 through the bin)', async () => {
      await assert.rejects(cli([path.join(dir, 'nope')]), (e: unknown) => e instanceof InputError);
    });
  });
});
