/**
 * The three listers on one real tree: file:// (node:fs), ssh:// (a real sshd, one multiplexed
 * connection) and root:// (a real xrootd, listed with xrdfs sessions) must give the same dump.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir } from '../../helpers/cli.js';
import { requirement } from '../../helpers/environment.js';
import { hasSshd, startSshd, type TestSshd } from '../../helpers/sshd.js';
import { hasXrootd, startXrootd, type TestXrootd } from '../../helpers/xrootd.js';
import { UnavailableError } from '../../../src/core/errors.js';
import type { ListOptions } from '../../../src/modules/audit/audit.ports.js';
import type { ListingResult } from '../../../src/modules/audit/audit.types.js';
import { DefaultListerFactory } from '../../../src/modules/audit/lister.factory.js';
import { LocalLister } from '../../../src/modules/audit/local.lister.js';
import type { ListDirectory } from '../../../src/modules/audit/site-walker.js';
import { SshLister } from '../../../src/modules/audit/ssh.lister.js';
import { XrootdLister } from '../../../src/modules/audit/xrootd.lister.js';

const work = tempDir('custodian-audit-list-');
fs.chmodSync(work, 0o755);
const root = path.join(work, 'site');
const store = path.join(root, 'store');
const SECRET = '/store/mc/secret';
let dumps = 0;

function file(relative: string, size: number): void {
  const full = path.join(store, relative);
  fs.mkdirSync(path.dirname(full), { recursive: true });
  fs.writeFileSync(full, Buffer.alloc(size, 1));
}

/** ~300 files: nested datasets, empty directories, names with spaces, quotes and non-ASCII. */
function buildTree(): number {
  let files = 0;
  for (let c = 0; c < 3; c++) {
    for (let d = 0; d < 3; d++) {
      for (let b = 0; b < 4; b++) {
        for (let f = 0; f < 8; f++) {
          file(`mc/Campaign${c}/data set ${d}/block-${b}/file_${f}.root`, c * 100 + d * 10 + b + f);
          files++;
        }
      }
    }
  }
  fs.mkdirSync(path.join(store, 'mc/empty'), { recursive: true });
  fs.mkdirSync(path.join(store, 'mc/Campaign0/nested empty/a/b'), { recursive: true });
  for (const name of [
    `it's "quoted".root`,
    'ü日本 ünïcode.root',
    ' leading space',
    'trailing space ',
    'a  b',
  ]) {
    file(`data/odd/${name}`, name.length);
    files++;
  }
  for (let r = 0; r < 10; r++) {
    file(`data/run ${r}/raw file.dat`, 1000 + r);
    files++;
  }
  // For xrootd only: a directory its user cannot read (the tests run as root, which reads anything).
  file('mc/secret/hidden.root', 5);
  file('mc/secret/deeper/hidden2.root', 6);
  fs.chmodSync(path.join(store, 'mc/secret'), 0o700);
  return files + 2;
}

function options(extra: Partial<ListOptions> = {}): ListOptions {
  return {
    directories: ['mc', 'data'],
    dumpFile: path.join(work, `dump-${++dumps}.tsv`),
    concurrency: 4,
    retries: 2,
    timeoutSeconds: 30,
    ...extra,
  };
}

interface Line {
  path: string;
  size: number;
  mtime: number;
}

function readDump(file: string): Line[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [p = '', size = '', mtime = ''] = line.split('\t');
      return { path: p, size: Number(size), mtime: Number(mtime) };
    })
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Same paths and sizes; mtimes within 1 s. */
function assertSameDump(actual: Line[], expected: Line[]): void {
  assert.deepEqual(
    actual.map((l) => `${l.path}\t${l.size}`),
    expected.map((l) => `${l.path}\t${l.size}`),
  );
  actual.forEach((line, i) => {
    const other = expected[i] as Line;
    assert.ok(Math.abs(line.mtime - other.mtime) <= 1, `${line.path}: mtime ${line.mtime} vs ${other.mtime}`);
  });
}

let expectedFiles = 0;
let localDump: Line[] = [];
let localResult: ListingResult;

before(async () => {
  expectedFiles = buildTree();
  const opts = options();
  localResult = await new LocalLister(`file://${store}`).list(opts);
  localDump = readDump(opts.dumpFile);
});

after(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

describe('local lister (file://)', () => {
  it('lists the whole tree: files, directories (ending in /), sizes, mtimes', () => {
    assert.deepEqual(localResult.unlisted, []);
    assert.equal(localResult.halted, false);
    assert.equal(localResult.files, expectedFiles);
    assert.equal(localDump.length, localResult.files + localResult.directories);
    const byPath = new Map(localDump.map((l) => [l.path, l]));
    const stat = fs.statSync(path.join(store, 'mc/Campaign2/data set 1/block-3/file_7.root'));
    assert.deepEqual(byPath.get('/store/mc/Campaign2/data set 1/block-3/file_7.root'), {
      path: '/store/mc/Campaign2/data set 1/block-3/file_7.root',
      size: 220,
      mtime: Math.floor(stat.mtimeMs / 1000),
    });
    assert.equal(byPath.get('/store/mc/empty/')?.size, 0);
    assert.ok(byPath.has('/store/mc/Campaign0/nested empty/a/b/'));
    assert.ok(byPath.has('/store/data/odd/ leading space'));
    assert.ok(byPath.has('/store/data/odd/trailing space '));
    assert.ok(byPath.has(`/store/data/odd/it's "quoted".root`));
    assert.ok(!byPath.has('/store/mc/'), 'top-level directories are roots, not entries');
  });

  it('skips symlinks without following them, and reports a missing top-level directory as unlisted', async () => {
    const linked = path.join(work, 'linked');
    file('../../linked-target/x.root', 3);
    fs.mkdirSync(path.join(linked, 'store/mc'), { recursive: true });
    fs.writeFileSync(path.join(linked, 'store/mc/real.root'), 'abc');
    fs.symlinkSync(path.join(work, 'linked-target'), path.join(linked, 'store/mc/dirlink'));
    fs.symlinkSync(path.join(linked, 'store/mc/real.root'), path.join(linked, 'store/mc/filelink'));
    const opts = options({ directories: ['mc', 'nope'] });
    const result = await new LocalLister(`file://${linked}/store`).list(opts);
    assert.deepEqual(
      readDump(opts.dumpFile).map((l) => l.path),
      ['/store/mc/real.root'],
    );
    assert.deepEqual(result.unlisted, [{ path: '/store/nope', reason: 'does not exist' }]);
  });

  it('retries a flaky directory (fails once, then succeeds) and completes with the same dump', async () => {
    const lister = new LocalLister(`file://${store}`);
    const calls = new Map<string, number>();
    const flakyDir = '/store/mc/Campaign1/data set 2';
    const flaky: ListDirectory = (dir, signal) => {
      calls.set(dir, (calls.get(dir) ?? 0) + 1);
      if (dir === flakyDir && calls.get(dir) === 1) return Promise.reject(new Error('Input/output error'));
      return lister.listDirectory(dir, signal);
    };
    const opts = options();
    const result = await lister.listWith(flaky, opts);
    assert.equal(calls.get(flakyDir), 2);
    assert.deepEqual(result.unlisted, []);
    assertSameDump(readDump(opts.dumpFile), localDump);
  });

  it('refuses a storage root that does not exist as unreachable', async () => {
    await assert.rejects(
      new LocalLister(`file://${work}/absent/store`).list(options()),
      (e: unknown) => e instanceof UnavailableError && e.code === 'AUDIT_SITE_UNREACHABLE',
    );
  });
});

describe(
  'ssh lister (ssh://, real sshd)',
  { skip: requirement(hasSshd(), 'apt-get install -y openssh-server openssh-client') },
  () => {
    let sshd: TestSshd;

    before(async () => {
      sshd = await startSshd();
    });

    after(async () => {
      await sshd?.stop();
    });

    it('gives the same dump as the local lister over exactly one ssh connection', async () => {
      const before = sshd.connections();
      const lister = new DefaultListerFactory().create({
        name: 'T2_SSH',
        storage: sshd.url(store),
        sshIdentity: sshd.identity,
        sshOptions: sshd.sshOptions,
      });
      assert.ok(lister instanceof SshLister);
      const opts = options({ concurrency: 6 });
      const result = await lister.list(opts);
      assert.deepEqual(result.unlisted, []);
      assert.equal(result.files, localResult.files);
      assert.equal(result.directories, localResult.directories);
      assert.equal(result.bytes, localResult.bytes);
      assertSameDump(readDump(opts.dumpFile), localDump);
      assert.equal(sshd.connections() - before, 1);
    });

    it('survives a dropped connection: reconnects once and gives the same dump', async () => {
      const before = sshd.connections();
      const lister = new SshLister(sshd.url(store), { identity: sshd.identity, sshOptions: sshd.sshOptions });
      const calls = new Map<string, number>();
      // One worker, long started when the connection drops: a session killed while its login
      // shell still runs rc files can leave their locks behind (root's .bashrc runs `pyenv rehash`
      // here, whose stale lock makes every later login wait 60 s).
      const dropAt = '/store/mc/Campaign1/data set 1';
      const opts = options({ concurrency: 1, retries: 2 });
      const result = await lister.listWith(
        (listDirectory) => async (dir, signal) => {
          calls.set(dir, (calls.get(dir) ?? 0) + 1);
          if (dir === dropAt && calls.get(dir) === 1) await sshd.dropConnections();
          return listDirectory(dir, signal);
        },
        opts,
      );
      assert.deepEqual(result.unlisted, []);
      assertSameDump(readDump(opts.dumpFile), localDump);
      assert.equal(sshd.connections() - before, 2);
    });

    it('reports a missing top-level directory as unlisted and a missing storage root as unreachable', async () => {
      const lister = new SshLister(sshd.url(store), { identity: sshd.identity, sshOptions: sshd.sshOptions });
      const opts = options({ directories: ['data', 'nope'] });
      const result = await lister.list(opts);
      assert.deepEqual(result.unlisted, [{ path: '/store/nope', reason: 'does not exist' }]);
      assert.equal(
        result.files,
        localDump.filter((l) => l.path.startsWith('/store/data/') && !l.path.endsWith('/')).length,
      );
      const absent = new SshLister(sshd.url(`${work}/absent/store`), {
        identity: sshd.identity,
        sshOptions: sshd.sshOptions,
      });
      await assert.rejects(absent.list(options()), (e: unknown) => e instanceof UnavailableError);
    });
  },
);

describe(
  'xrootd lister (root://, real xrootd and xrdfs)',
  { skip: requirement(hasXrootd(), 'apt-get install -y xrootd-server xrootd-client') },
  () => {
    let server: TestXrootd;

    before(async () => {
      server = await startXrootd(root);
    });

    after(async () => {
      await server?.stop();
    });

    /** The local dump as the xrootd user sees it: nothing below the directory it cannot read. */
    const visible = () =>
      localDump.filter((l) => !l.path.startsWith(`${SECRET}/`) || l.path === `${SECRET}/`);

    it('gives the same dump as the local lister; the unreadable directory is unlisted and hides its subtree', async () => {
      const lister = new DefaultListerFactory().create({ name: 'T2_XRD', storage: server.url('/store') });
      assert.ok(lister instanceof XrootdLister);
      const opts = options({ concurrency: 4 });
      const result = await lister.list(opts);
      assert.equal(result.unlisted.length, 1);
      assert.equal(result.unlisted[0]?.path, SECRET);
      assert.match(result.unlisted[0]?.reason ?? '', /\[3010\].*permission denied/);
      assertSameDump(readDump(opts.dumpFile), visible());
      assert.equal(result.files, localResult.files - 2);
    });

    it('restarts xrdfs sessions that die, and still completes', async () => {
      const starts = path.join(work, 'xrdfs-starts.log');
      const commandLog = path.join(work, 'xrdfs-commands.log');
      const wrapper = path.join(work, 'xrdfs-dies-after-5');
      // Passes 5 command lines on (one at a time, unbuffered), then ends xrdfs's input: it exits.
      fs.writeFileSync(
        wrapper,
        [
          '#!/bin/sh',
          `echo start >> '${starts}'`,
          'i=0',
          `while [ $i -lt 5 ] && IFS= read -r line; do printf "%s\\n" "$line"; printf "%s\\n" "$line" >> '${commandLog}'; i=$((i + 1)); done | xrdfs "$@"`,
          '',
        ].join('\n'),
        { mode: 0o755 },
      );
      const lister = new XrootdLister(server.url('/store'), { xrdfs: wrapper });
      const opts = options({ concurrency: 3 });
      const result = await lister.list(opts);
      assertSameDump(readDump(opts.dumpFile), visible());
      assert.deepEqual(
        result.unlisted.map((u) => u.path),
        [SECRET],
      );
      const sessions = fs.readFileSync(starts, 'utf8').split('\n').filter(Boolean).length;
      const commands = fs.readFileSync(commandLog, 'utf8').split('\n').filter(Boolean);
      assert.ok(
        commands.some((command) => command.startsWith('ls -R -l ')),
        'subtrees are listed with ls -R',
      );
      assert.ok(commands.length > 10, `${commands.length} commands`);
      assert.ok(sessions >= commands.length / 5, `${sessions} sessions for ${commands.length} commands`);
    });

    it('lists a subtree whose ls -R fails one directory at a time: only the unreadable directory is unlisted', async () => {
      file('nested/a/b/z.root', 3);
      file('nested/a/c/y.root', 4);
      file('nested/a/b/locked/x.root', 5);
      file('nested/a/b/locked/in/w.root', 6);
      fs.chmodSync(path.join(store, 'nested/a/b/locked'), 0o700);
      const commandLog = path.join(work, 'xrdfs-logged-commands.log');
      const wrapper = path.join(work, 'xrdfs-logged');
      fs.writeFileSync(
        wrapper,
        [
          '#!/bin/sh',
          `while IFS= read -r line; do printf "%s\\n" "$line"; printf "%s\\n" "$line" >> '${commandLog}'; done | xrdfs "$@"`,
          '',
        ].join('\n'),
        { mode: 0o755 },
      );
      const opts = options({ directories: ['nested'] });
      const result = await new XrootdLister(server.url('/store'), { xrdfs: wrapper }).list(opts);
      // `ls -R` of /store/nested/a only says "[!] Some of the requests failed": without it, locked
      // would pass for an empty directory.
      assert.deepEqual(
        result.unlisted.map((u) => [u.path, u.reason.split(' (')[0]]),
        [
          [
            '/store/nested/a/b/locked',
            '[3010] Unable to open directory /store/nested/a/b/locked; permission denied',
          ],
        ],
      );
      assert.deepEqual(
        readDump(opts.dumpFile).map((l) => l.path),
        [
          '/store/nested/a/',
          '/store/nested/a/b/',
          '/store/nested/a/b/locked/',
          '/store/nested/a/b/z.root',
          '/store/nested/a/c/',
          '/store/nested/a/c/y.root',
        ],
      );
      const commands = fs.readFileSync(commandLog, 'utf8').split('\n').filter(Boolean);
      assert.ok(commands.includes('ls -R -l "/store/nested/a"'), commands.join('; '));
      assert.ok(commands.includes('ls -l "/store/nested/a/b"'), commands.join('; '));
    });

    it('retries a flaky directory and reports a missing top-level directory as unlisted', async () => {
      const lister = new XrootdLister(server.url('/store'));
      const calls = new Map<string, number>();
      const flakyDir = '/store/mc/Campaign0';
      const opts = options({ directories: ['mc', 'nope'] });
      const result = await lister.listWith(
        (listDirectory) => (dir, signal) => {
          calls.set(dir, (calls.get(dir) ?? 0) + 1);
          if (dir === flakyDir && calls.get(dir) === 1)
            return Promise.reject(new Error('[FATAL] Socket error'));
          return listDirectory(dir, signal);
        },
        opts,
      );
      assert.equal(calls.get(flakyDir), 2);
      assert.equal(calls.get(SECRET), 1, 'permission denied is not retried');
      assert.deepEqual(
        result.unlisted.map((u) => [u.path, u.reason.split(' (')[0]]),
        [
          ['/store/mc/secret', '[3010] Unable to open directory /store/mc/secret; permission denied'],
          ['/store/nope', 'does not exist'],
        ],
      );
      assertSameDump(
        readDump(opts.dumpFile),
        visible().filter((l) => l.path.startsWith('/store/mc/')),
      );
    });

    it('refuses an unreachable server and a storage root that does not exist', async () => {
      await assert.rejects(
        new XrootdLister(server.url('/store/absent')).list(options()),
        (e: unknown) => e instanceof UnavailableError && /does not exist/.test(e.message),
      );
      await assert.rejects(
        // xrdfs keeps retrying a refused connection: the probe's bound (timeoutSeconds) ends it.
        new XrootdLister('root://127.0.0.1:1//store').list(options({ timeoutSeconds: 2 })),
        (e: unknown) => e instanceof UnavailableError && e.code === 'AUDIT_SITE_UNREACHABLE',
      );
    });
  },
);
