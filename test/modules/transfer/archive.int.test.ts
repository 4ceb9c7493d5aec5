import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { InputError, IntegrityError, NotFoundError, UnavailableError } from '../../../src/core/errors.js';
import { TarArchiver, archiveNames } from '../../../src/modules/transfer/archive.adapter.js';
import { INDEX_HEADER, RECORD } from '../../../src/modules/transfer/tar.format.js';
import type { ArchiveWriteResult } from '../../../src/modules/transfer/transfer.ports.js';
import { hasProgram, requirement } from '../../helpers/environment.js';

const skip = requirement(hasProgram('tar'), 'tar (GNU tar: apt-get install -y tar)');
const NIGHT = '20261121';
const LONG_DIR = 'a-directory-name-long-enough-that-the-whole-path-does-not-fit-ustar'.repeat(2);
/** Member paths under the night (files), with their content. */
const FILES: Record<string, Buffer> = {
  '00000001/a.fits': randomBytes(100_000),
  '00000001/b.json': Buffer.from('{"exposure":1}\n'),
  '00000001/empty.txt': Buffer.alloc(0),
  '00000002/name with spaces.fits': randomBytes(5000),
  '00000002/sub/dir/deep.fits': randomBytes(1_048_593), // many 4 KiB chunks, not a whole block
  '00000002/héllo wörld ✓.txt': Buffer.from('unicode\n'),
  [`00000003/${LONG_DIR}/${'a-file-name-of-some-length-'.repeat(5)}.fits`]: randomBytes(777),
  '00000003/exactly-512.bin': randomBytes(512),
};
const DIRS = [
  '',
  '00000001/',
  '00000002/',
  '00000002/sub/',
  '00000002/sub/dir/',
  '00000003/',
  `00000003/${LONG_DIR}/`,
];

let tmp: string;
let root: string;
let archiveDir: string;
let written: ArchiveWriteResult;
const archiver = new TarArchiver({ chunkBytes: 4096 });

function tar(args: string[], cwd?: string): string {
  return execFileSync('tar', ['--quoting-style=literal', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, LC_ALL: 'C.UTF-8' },
    maxBuffer: 1 << 26,
  });
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function readAt(file: string, offset: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const read = fs.readSync(fd, buffer, 0, length, offset);
    return buffer.subarray(0, read);
  } finally {
    fs.closeSync(fd);
  }
}

/** The path a header names, read independently of the code under test: ustar prefix/name, or a pax `path` record. */
function headerPath(file: string, offset: number): string {
  const block = readAt(file, offset, 512);
  const field = (from: number, length: number) => {
    const bytes = block.subarray(from, from + length);
    const nul = bytes.indexOf(0);
    return (nul === -1 ? bytes : bytes.subarray(0, nul)).toString('utf8');
  };
  assert.equal(field(257, 6), 'ustar', `ustar magic at byte ${offset}`);
  if (field(156, 1) === 'x') {
    const size = parseInt(field(124, 12), 8);
    const records = readAt(file, offset + 512, size).toString('utf8');
    const match = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(records);
    assert.ok(match, `a pax path record at byte ${offset}`);
    return match[1] ?? '';
  }
  const prefix = field(345, 155);
  return prefix === '' ? field(0, 100) : `${prefix}/${field(0, 100)}`;
}

function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = `${rel}${entry.name}`;
      if (entry.isDirectory()) {
        out.push(`${child}/`);
        walk(`${child}/`);
      } else out.push(child);
    }
  };
  walk('');
  return out.sort();
}

/** Leftover temporaries anywhere under the test's directory. */
function temporaries(): string[] {
  return listTree(tmp).filter((p) => /\.tmp-[0-9a-f]+$/.test(p));
}

/** A copy of the archive (tar and index) in its own directory, to damage. */
function copyArchive(name: string): { tar: string; index: string } {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  const names = archiveNames(dir, 'lsst', NIGHT);
  fs.copyFileSync(written.tar, names.tar);
  fs.copyFileSync(written.index, names.index);
  return names;
}

function memberOf(relative: string) {
  const member = written.members.find((m) => m.path === `${NIGHT}/${relative}`);
  assert.ok(member, relative);
  return member;
}

describe('tar archive of a night', { skip }, () => {
  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-archive-'));
    root = path.join(tmp, 'dest');
    for (const [relative, content] of Object.entries(FILES)) {
      const file = path.join(root, NIGHT, relative);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, content);
    }
    archiveDir = path.join(tmp, 'archive', 'lsst'); // does not exist yet: created by write
    const names = archiveNames(archiveDir, 'lsst', NIGHT);
    written = await archiver.write({ root, dir: NIGHT, tarPath: names.tar, indexPath: names.index });
  });

  after(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('names the archive <stream>_<night>.tar and .tar.idx in the archive directory', () => {
    assert.deepEqual(archiveNames('/arch', 'lsst', NIGHT), {
      tar: `/arch/lsst_${NIGHT}.tar`,
      index: `/arch/lsst_${NIGHT}.tar.idx`,
    });
    assert.equal(written.tar, path.join(archiveDir, `lsst_${NIGHT}.tar`));
    assert.deepEqual(fs.readdirSync(archiveDir).sort(), [`lsst_${NIGHT}.tar`, `lsst_${NIGHT}.tar.idx`]);
    assert.deepEqual(temporaries(), []);
  });

  it('holds every directory and file, directories before their contents, padded to whole records', () => {
    const expected = [...DIRS.map((d) => `${NIGHT}/${d}`), ...Object.keys(FILES).map((f) => `${NIGHT}/${f}`)];
    assert.deepEqual(written.members.map((m) => m.path).sort(), expected.sort());
    const order = written.members.map((m) => m.path);
    for (const [i, member] of order.entries()) {
      const parent = member.replace(/[^/]+\/?$/, '');
      if (parent !== '') assert.ok(order.indexOf(parent) < i, `${parent} before ${member}`);
    }
    assert.equal(written.bytes, fs.statSync(written.tar).size);
    assert.equal(written.bytes % RECORD, 0);
  });

  it('is listed completely by GNU tar -tvf', () => {
    const listing = tar(['-tvf', written.tar]);
    const names = tar(['-tf', written.tar]).split('\n').filter(Boolean);
    assert.deepEqual(
      names,
      written.members.map((m) => m.path),
    );
    assert.equal(listing.split('\n').filter(Boolean).length, written.members.length);
    const run = spawnSync('tar', ['-tvf', written.tar], {
      encoding: 'utf8',
      env: { ...process.env, LC_ALL: 'C.UTF-8' },
    });
    assert.equal(run.status, 0);
    assert.equal(run.stderr, '', 'no warnings from GNU tar');
  });

  it('extracts with GNU tar -xf into identical files', () => {
    const out = path.join(tmp, 'extracted');
    fs.mkdirSync(out);
    tar(['-xf', written.tar], out);
    assert.deepEqual(listTree(out), listTree(root));
    for (const [relative, content] of Object.entries(FILES)) {
      assert.ok(fs.readFileSync(path.join(out, NIGHT, relative)).equals(content), relative);
    }
  });

  it('writes an index whose offsets point at each header and at data with the indexed sha256', () => {
    const lines = fs.readFileSync(written.index, 'utf8').split('\n');
    assert.equal(lines[0], INDEX_HEADER);
    assert.equal(lines.at(-1), '');
    const entries = lines.slice(1, -1);
    assert.equal(entries.length, written.members.length);
    for (const line of entries) {
      const match = /^(\d+) (\d+) (\d+) ([0-9a-f]{64}) (.+)$/.exec(line);
      assert.ok(match, line);
      const [, headerOffset = '', dataOffset = '', size = '', hash = '', memberPath = ''] = match;
      assert.equal(headerPath(written.tar, Number(headerOffset)), memberPath);
      assert.equal(sha256(readAt(written.tar, Number(dataOffset), Number(size))), hash, memberPath);
      if (!memberPath.endsWith('/')) {
        const content = FILES[memberPath.slice(NIGHT.length + 1)];
        assert.ok(content, memberPath);
        assert.equal(Number(size), content.length);
        assert.equal(hash, sha256(content));
      }
    }
    const long = memberOf(Object.keys(FILES)[6] ?? '');
    assert.ok(
      long.dataOffset - long.headerOffset > 512,
      'the long path got a pax header before its ustar header',
    );
  });

  it('verifies, alone and against the tree it came from', async () => {
    const alone = await archiver.verify(written.tar);
    assert.deepEqual(alone, {
      ok: true,
      tar: written.tar,
      index: written.index,
      members: written.members.length,
      bytes: written.bytes,
      problems: [],
    });
    const against = await archiver.verify(written.tar, { indexPath: written.index, against: root });
    assert.deepEqual(against.problems, []);
    assert.equal(against.ok, true);
  });

  it('reports a tree that differs from the archive: changed, missing and extra files', async () => {
    const copy = path.join(tmp, 'changed-tree');
    fs.cpSync(root, copy, { recursive: true });
    fs.writeFileSync(path.join(copy, NIGHT, '00000001/b.json'), '{"exposure":2}\n');
    fs.rmSync(path.join(copy, NIGHT, '00000001/empty.txt'));
    fs.writeFileSync(path.join(copy, NIGHT, '00000002/sub/new.fits'), 'new');
    fs.mkdirSync(path.join(copy, NIGHT, '00000004'));
    const result = await archiver.verify(written.tar, { against: copy });
    assert.equal(result.ok, false);
    assert.deepEqual(result.problems.map((p) => p.path).sort(), [
      `${NIGHT}/00000001/b.json`,
      `${NIGHT}/00000001/empty.txt`,
      `${NIGHT}/00000002/sub/new.fits`,
      `${NIGHT}/00000004/`,
    ]);
  });

  it('reports the member whose data byte was changed', async () => {
    const names = copyArchive('corrupt-data');
    const member = memberOf('00000002/name with spaces.fits');
    const fd = fs.openSync(names.tar, 'r+');
    const byte = readAt(names.tar, member.dataOffset + 1234, 1);
    fs.writeSync(fd, Buffer.from([(byte[0] ?? 0) ^ 0x01]), 0, 1, member.dataOffset + 1234);
    fs.closeSync(fd);
    const result = await archiver.verify(names.tar);
    assert.equal(result.ok, false);
    assert.deepEqual(
      result.problems.map((p) => p.path),
      [member.path],
    );
    assert.match(result.problems[0]?.problem ?? '', /sha256/);
    assert.equal(result.members, written.members.length);
  });

  it('reports a damaged header and still checks the members after it', async () => {
    const names = copyArchive('corrupt-header');
    const member = memberOf('00000001/b.json');
    const fd = fs.openSync(names.tar, 'r+');
    fs.writeSync(fd, Buffer.from('X'), 0, 1, member.headerOffset + 3);
    fs.closeSync(fd);
    const result = await archiver.verify(names.tar);
    assert.equal(result.ok, false);
    assert.equal(result.problems.length, 1);
    assert.equal(result.problems[0]?.path, member.path);
    assert.match(result.problems[0]?.problem ?? '', /checksum/);
    assert.equal(result.members, written.members.length - 1);
  });

  it('reports a truncated tar', async () => {
    const names = copyArchive('truncated');
    const member = memberOf('00000002/sub/dir/deep.fits');
    fs.truncateSync(names.tar, member.dataOffset + 10_000);
    const result = await archiver.verify(names.tar);
    assert.equal(result.ok, false);
    assert.ok(result.problems.some((p) => p.path === member.path && /truncated/.test(p.problem)));
    const after = written.members.filter((m) => m.headerOffset > member.headerOffset);
    assert.ok(after.length > 0);
    for (const lost of after)
      assert.ok(
        result.problems.some((p) => p.path === lost.path),
        lost.path,
      );

    const noTrailer = copyArchive('no-trailer');
    const last = written.members.at(-1);
    assert.ok(last);
    fs.truncateSync(noTrailer.tar, last.dataOffset + Math.ceil(last.size / 512) * 512);
    const cut = await archiver.verify(noTrailer.tar);
    assert.equal(cut.ok, false);
    assert.match(
      cut.problems.map((p) => p.problem).join('\n'),
      /truncated: the end-of-archive blocks are missing/,
    );
  });

  it('treats a tar without its index as invalid', async () => {
    const names = copyArchive('no-index');
    fs.rmSync(names.index);
    const result = await archiver.verify(names.tar);
    assert.equal(result.ok, false);
    assert.equal(result.members, written.members.length);
    assert.equal(result.problems.length, 1);
    assert.match(result.problems[0]?.problem ?? '', /index .* is missing/);
  });

  it('reports an index that does not match the tar', async () => {
    const names = copyArchive('bad-index');
    const lines = fs.readFileSync(names.index, 'utf8').split('\n');
    const dropped = lines.splice(3, 1)[0] ?? '';
    lines.push('not an index line');
    fs.writeFileSync(names.index, lines.join('\n'));
    const result = await archiver.verify(names.tar);
    assert.equal(result.ok, false);
    const droppedPath = dropped.split(' ').slice(4).join(' ');
    assert.ok(result.problems.some((p) => p.path === droppedPath && /not in the index/.test(p.problem)));
    assert.ok(result.problems.some((p) => /^index line \d+/.test(p.problem)));
  });

  it('throws NotFoundError when the tar does not exist', async () => {
    await assert.rejects(
      archiver.verify(path.join(tmp, 'nowhere.tar')),
      (error: unknown) => error instanceof NotFoundError && error.code === 'TRANSFER_ARCHIVE_NOT_FOUND',
    );
  });

  it('fails with UnavailableError when the archive directory cannot be created, leaving no temporaries', async () => {
    const blocker = path.join(tmp, 'blocker');
    fs.writeFileSync(blocker, 'a regular file where a directory should be');
    const names = archiveNames(path.join(blocker, 'archive'), 'lsst', NIGHT);
    await assert.rejects(
      archiver.write({ root, dir: NIGHT, tarPath: names.tar, indexPath: names.index }),
      (error: unknown) => {
        assert.ok(error instanceof UnavailableError);
        assert.equal(error.code, 'TRANSFER_ARCHIVE_UNWRITABLE');
        assert.match(error.message, new RegExp(blocker));
        return true;
      },
    );
    assert.deepEqual(temporaries(), []);
  });

  it('refuses a symlink inside the night with InputError naming it, writing nothing', async () => {
    const tree = path.join(tmp, 'with-link');
    fs.mkdirSync(path.join(tree, NIGHT, '00000001'), { recursive: true });
    fs.writeFileSync(path.join(tree, NIGHT, '00000001', 'real.fits'), 'data');
    fs.symlinkSync('real.fits', path.join(tree, NIGHT, '00000001', 'link.fits'));
    const names = archiveNames(path.join(tmp, 'link-archive'), 'lsst', NIGHT);
    await assert.rejects(
      archiver.write({ root: tree, dir: NIGHT, tarPath: names.tar, indexPath: names.index }),
      (error: unknown) => {
        assert.ok(error instanceof InputError);
        assert.equal(error.code, 'TRANSFER_ARCHIVE_UNSUPPORTED_ENTRY');
        assert.match(error.message, /00000001\/link\.fits/);
        return true;
      },
    );
    assert.equal(fs.existsSync(names.tar), false);
    assert.deepEqual(temporaries(), []);
  });

  it('refuses to write the archive inside the night it archives', async () => {
    const inside = archiveNames(path.join(root, NIGHT, 'archive'), 'lsst', NIGHT);
    await assert.rejects(
      archiver.write({ root, dir: NIGHT, tarPath: inside.tar, indexPath: inside.index }),
      (error: unknown) => error instanceof InputError && error.code === 'TRANSFER_ARCHIVE_BAD_PATH',
    );
    assert.equal(fs.existsSync(path.join(root, NIGHT, 'archive')), false);
  });

  it('stops when aborted, leaving no temporaries', async () => {
    const names = archiveNames(path.join(tmp, 'aborted'), 'lsst', NIGHT);
    const controller = new AbortController();
    // Mid-flight: abort once the temporary tar exists (~1.2 MB go through in 4 KiB chunks after that).
    const watcher = setInterval(() => {
      const dir = path.dirname(names.tar);
      if (fs.existsSync(dir) && fs.readdirSync(dir).some((n) => n.includes('.tmp-'))) controller.abort();
    }, 1);
    try {
      await assert.rejects(
        archiver.write({
          root,
          dir: NIGHT,
          tarPath: names.tar,
          indexPath: names.index,
          signal: controller.signal,
        }),
        { name: 'AbortError' },
      );
    } finally {
      clearInterval(watcher);
    }
    assert.equal(fs.existsSync(names.tar), false);
    assert.deepEqual(temporaries(), []);
  });

  it('fails with IntegrityError when a file changes before the read-back, keeping nothing', async () => {
    const tree = path.join(tmp, 'changing');
    fs.cpSync(root, tree, { recursive: true });
    const names = archiveNames(path.join(tmp, 'changing-archive'), 'lsst', NIGHT);
    const victim = path.join(tree, NIGHT, '00000001', 'b.json');
    // The index is written after the tar, just before the read-back re-reads the tar (~1.2 MB in
    // 4 KiB chunks) and only then the files: a change made when it appears is seen by the check.
    const watcher = setInterval(() => {
      const dir = path.dirname(names.tar);
      if (fs.existsSync(dir) && fs.readdirSync(dir).some((n) => n.includes('.idx.tmp-'))) {
        clearInterval(watcher);
        fs.appendFileSync(victim, 'late write');
      }
    }, 1);
    try {
      await assert.rejects(
        archiver.write({ root: tree, dir: NIGHT, tarPath: names.tar, indexPath: names.index }),
        (error: unknown) => {
          assert.ok(error instanceof IntegrityError);
          assert.equal(error.code, 'TRANSFER_ARCHIVE_MISMATCH');
          assert.match(error.message, /00000001\/b\.json/);
          return true;
        },
      );
    } finally {
      clearInterval(watcher);
    }
    assert.deepEqual(fs.readdirSync(path.dirname(names.tar)), []);
    assert.deepEqual(temporaries(), []);
  });

  it('rewrites an existing archive in place and leaves no temporaries', async () => {
    const names = copyArchive('rewrite');
    fs.writeFileSync(names.index, 'stale');
    const again = await archiver.write({ root, dir: NIGHT, tarPath: names.tar, indexPath: names.index });
    assert.deepEqual(
      again.members,
      written.members.map((m) => ({ ...m })),
    );
    assert.ok(fs.readFileSync(names.index, 'utf8').startsWith(INDEX_HEADER));
    assert.equal((await archiver.verify(names.tar, { against: root })).ok, true);
    assert.deepEqual(temporaries(), []);
  });

  it('archives a 64 MiB file with bounded memory', async () => {
    const bigRoot = path.join(tmp, 'big');
    const file = path.join(bigRoot, NIGHT, '00000001', 'big.fits');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '');
    fs.truncateSync(file, 64 << 20); // sparse: quick to make, reads as zeros
    const zeros = createHash('sha256');
    for (let i = 0; i < 64; i++) zeros.update(Buffer.alloc(1 << 20));
    const expected = zeros.digest('hex');
    const big = new TarArchiver(); // default 1 MiB chunks
    const start = process.memoryUsage().rss;
    let peak = start;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    try {
      const names = archiveNames(path.join(tmp, 'big-archive'), 'lsst', NIGHT);
      const result = await big.write({
        root: bigRoot,
        dir: NIGHT,
        tarPath: names.tar,
        indexPath: names.index,
      });
      const member = result.members.find((m) => m.path.endsWith('big.fits'));
      assert.equal(member?.size, 64 << 20);
      assert.equal(member?.sha256, expected);
    } finally {
      clearInterval(sampler);
    }
    assert.ok(peak - start < 64 << 20, `rss grew by ${((peak - start) / 2 ** 20).toFixed(1)} MiB`);
  });
});
