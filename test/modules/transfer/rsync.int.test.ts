import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { InputError, UnavailableError } from '../../../src/core/errors.js';
import { RsyncConnector, type RsyncConnectorOptions } from '../../../src/modules/transfer/rsync.adapter.js';
import type { SourceSession } from '../../../src/modules/transfer/transfer.ports.js';
import type { Discovery } from '../../../src/modules/transfer/transfer.types.js';
import { freePort, tempDir } from '../../helpers/cli.js';
import { hasProgram, requirement } from '../../helpers/environment.js';
import {
  assertOneLoginThenClean,
  processesMentioning,
  sshMasters,
  waitUntil,
} from '../../helpers/processes.js';
import { hasSshd, startSshd, type TestSshd } from '../../helpers/sshd.js';

/*
 * The tree every suite copies from. The source directory's own name holds a space, quotes, a
 * backslash and glob characters, which a remote shell or rsync's remote globbing would mangle.
 *
 *   20240101/00000001/{a.fits, name with spaces.fits, sub/dir/deep.fits}
 *   20240101/00000002 -> ../../elsewhere/exposure        (symlinked exposure: b.fits)
 *   20240101/00000003                                    (a file)
 *   20240101/junk/                                       (not an exposure)
 *   20240101/README.txt                                  (a file among exposures)
 *   20240102 -> ../elsewhere/night                       (symlinked night: 00000001/c.fits)
 *   20240103                                             (a file)
 *   20240104 -> nowhere                                  (broken symlink)
 *   2024010/00000001/                                    (7 digits)
 *   notanight/00000001/
 *   README
 */
const SOURCE_NAME = `source 'root' "q" [x]*?\\`;

const EXPECTED: Discovery = {
  exposures: [
    { night: '20240101', exposure: '00000001' },
    { night: '20240101', exposure: '00000002' },
    { night: '20240102', exposure: '00000001' },
  ],
  skipped: [
    { path: '2024010', reason: 'not an 8-digit night' },
    { path: '20240101/00000003', reason: 'not a directory' },
    { path: '20240101/README.txt', reason: 'not an 8-digit exposure' },
    { path: '20240101/junk', reason: 'not an 8-digit exposure' },
    { path: '20240103', reason: 'not a directory' },
    { path: '20240104', reason: 'not a directory' },
    { path: 'README', reason: 'not an 8-digit night' },
    { path: 'notanight', reason: 'not an 8-digit night' },
  ],
};

const EXPOSURE_1 = {
  'a.fits': 'alpha',
  'name with spaces.fits': 'spaces',
  'sub/dir/deep.fits': 'deep',
};

function write(file: string, content: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

function buildTree(root: string): string {
  const source = path.join(root, SOURCE_NAME);
  const elsewhere = path.join(root, 'elsewhere');
  for (const [name, content] of Object.entries(EXPOSURE_1))
    write(path.join(source, '20240101/00000001', name), content);
  write(path.join(elsewhere, 'exposure/b.fits'), 'beta');
  fs.symlinkSync('../../elsewhere/exposure', path.join(source, '20240101/00000002'));
  write(path.join(source, '20240101/00000003'), 'not a directory');
  write(path.join(source, '20240101/junk/x'), 'junk');
  write(path.join(source, '20240101/README.txt'), 'readme');
  write(path.join(elsewhere, 'night/00000001/c.fits'), 'gamma');
  fs.symlinkSync('../elsewhere/night', path.join(source, '20240102'));
  write(path.join(source, '20240103'), 'a file named like a night');
  fs.symlinkSync('nowhere', path.join(source, '20240104'));
  write(path.join(source, '2024010/00000001/x'), 'x');
  write(path.join(source, 'notanight/00000001/x'), 'x');
  write(path.join(source, 'README'), 'readme');
  return source;
}

/** Files under `dir` (relative path → content); symlinks would show up as errors. */
function readTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (relative: string) => {
    for (const entry of fs.readdirSync(path.join(dir, relative), { withFileTypes: true })) {
      const rel = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(rel);
      else if (entry.isFile()) out[rel] = fs.readFileSync(path.join(dir, rel), 'utf8');
      else out[rel] = `<${entry.isSymbolicLink() ? 'symlink' : 'other'}>`;
    }
  };
  walk('');
  return out;
}

interface Context {
  /** A new session on the tree (closed after the suite). */
  open(options?: RsyncConnectorOptions): SourceSession;
  /** A new session on a source directory that does not exist. */
  openMissing(): SourceSession;
  source(): string;
  work(): string;
}

/** What every source must do, ssh or local. */
function contract(context: Context): void {
  it('discovers good exposures, follows symlinked nights and exposures, and says why the rest is skipped', async () => {
    assert.deepEqual(await context.open().discover(), EXPECTED);
  });

  it('limits discovery to the nights asked for', async () => {
    assert.deepEqual(await context.open().discover({ nights: ['20240102', '20249999', '20240104'] }), {
      exposures: [{ night: '20240102', exposure: '00000001' }],
      skipped: [{ path: '20240104', reason: 'not a directory' }],
    });
    await assert.rejects(context.open().discover({ nights: ['2024-01-01'] }), { code: 'TRANSFER_BAD_NIGHT' });
  });

  it('copies an exposure with spaces and subdirectories, then finds nothing left to copy', async () => {
    const session = context.open();
    const target = path.join(context.work(), 'copy/stage/20240101/00000001');
    assert.deepEqual(await session.syncExposure('20240101', '00000001', target), {
      ok: true,
      changed: Object.keys(EXPOSURE_1).sort(),
    });
    assert.deepEqual(readTree(target), EXPOSURE_1);
    assert.deepEqual(await session.syncExposure('20240101', '00000001', target), { ok: true, changed: [] });
  });

  it('copies a changed file again, and only that one', async () => {
    const session = context.open();
    const target = path.join(context.work(), 'changed');
    await session.syncExposure('20240101', '00000001', target);
    fs.writeFileSync(path.join(target, 'a.fits'), 'tampered, and longer than before');
    assert.deepEqual(await session.syncExposure('20240101', '00000001', target), {
      ok: true,
      changed: ['a.fits'],
    });
    assert.deepEqual(readTree(target), EXPOSURE_1);
  });

  it('follows a symlinked exposure directory and a symlinked night', async () => {
    const session = context.open();
    const target = path.join(context.work(), 'linked');
    assert.deepEqual(await session.syncExposure('20240101', '00000002', path.join(target, 'a')), {
      ok: true,
      changed: ['b.fits'],
    });
    assert.deepEqual(readTree(path.join(target, 'a')), { 'b.fits': 'beta' });
    assert.deepEqual(await session.syncExposure('20240102', '00000001', path.join(target, 'b')), {
      ok: true,
      changed: ['c.fits'],
    });
  });

  it('lists the changes of a dry run and writes nothing', async () => {
    const target = path.join(context.work(), 'dry/deep/00000001');
    assert.deepEqual(await context.open().syncExposure('20240101', '00000001', target, { dryRun: true }), {
      ok: true,
      changed: Object.keys(EXPOSURE_1).sort(),
    });
    assert.equal(fs.existsSync(path.join(context.work(), 'dry')), false);
  });

  it('diffNight lists files added at the source, not permission-only differences, and writes nothing', async () => {
    const session = context.open();
    const night = path.join(context.work(), 'published/20240101');
    for (const exposure of ['00000001', '00000002']) {
      assert.equal((await session.syncExposure('20240101', exposure, path.join(night, exposure))).ok, true);
    }
    // Published exposures are read-only: modes differ from the source, contents do not.
    const lock = (dir: string) => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) lock(full);
        else fs.chmodSync(full, 0o440);
      }
      fs.chmodSync(dir, 0o2750);
    };
    lock(night);
    assert.deepEqual(await session.diffNight('20240101', night), { ok: true, changed: [] });

    const late = path.join(context.source(), '20240101/00000001/sub/late file.fits');
    write(late, 'late');
    try {
      assert.deepEqual(await session.diffNight('20240101', night), {
        ok: true,
        changed: ['00000001/sub/late file.fits'],
      });
      const missing = path.join(context.work(), 'never/20240101');
      assert.deepEqual(await session.diffNight('20240101', missing), {
        ok: true,
        changed: [
          '00000001/a.fits',
          '00000001/name with spaces.fits',
          '00000001/sub/dir/deep.fits',
          '00000001/sub/late file.fits',
          '00000002/b.fits',
        ],
      });
      assert.equal(fs.existsSync(path.join(context.work(), 'never')), false);
      assert.equal(fs.existsSync(path.join(night, '00000001/sub/late file.fits')), false);
    } finally {
      fs.rmSync(late);
    }
  });

  it('tells whether a path exists at the source', async () => {
    const session = context.open();
    assert.equal(await session.exists('PAUSE'), false);
    write(path.join(context.source(), 'PAUSE'), '');
    try {
      assert.equal(await session.exists('PAUSE'), true);
    } finally {
      fs.rmSync(path.join(context.source(), 'PAUSE'));
    }
    assert.equal(await session.exists('20240101/00000001/sub'), true);
    assert.equal(await session.exists('20240102/00000001/c.fits'), true);
    assert.equal(await session.exists('20240103/x'), false);
    await assert.rejects(session.exists('../outside'), InputError);
    await assert.rejects(session.exists('/etc/passwd'), InputError);
  });

  it('returns failures as values: a missing exposure, a malformed name', async () => {
    const session = context.open();
    const target = path.join(context.work(), 'failed');
    const outcome = await session.syncExposure('20240101', '00000099', target);
    assert.equal(outcome.ok, false);
    assert.ok(!outcome.ok);
    assert.match(
      outcome.message,
      /20240101\/00000099.*rsync exited with 23 \(partial transfer due to error\)/,
    );
    assert.match(outcome.message, /No such file or directory/);
    const bad = await session.syncExposure('2024', '../../etc', target);
    assert.equal(bad.ok, false);
    assert.equal((await session.diffNight('20240199', path.join(context.work(), 'nothing'))).ok, false);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const session = context.open();
    const signal = AbortSignal.abort();
    await assert.rejects(
      session.syncExposure('20240101', '00000001', path.join(context.work(), 'x'), { signal }),
      {
        name: 'AbortError',
      },
    );
    await assert.rejects(session.diffNight('20240101', path.join(context.work(), 'x'), signal), {
      name: 'AbortError',
    });
    assert.equal(fs.existsSync(path.join(context.work(), 'x')), false);
  });

  it('says the source directory is missing', async () => {
    await assert.rejects(context.openMissing().discover(), (error) => {
      assert.ok(error instanceof UnavailableError);
      assert.equal(error.code, 'TRANSFER_SOURCE_MISSING');
      assert.match(error.message, /does not exist/);
      return true;
    });
  });
}

describe(
  'RsyncConnector over ssh',
  { skip: requirement(hasSshd(), 'apt-get install -y openssh-server rsync') },
  () => {
    let sshd: TestSshd;
    let root: string;
    let source: string;
    let controlDir: string;
    const controlDirs: string[] = [];
    const sessions: SourceSession[] = [];

    /** A control directory of its own, so a test sees only its own masters and sockets. */
    const freshControlDir = (): string => {
      // Short on purpose: the socket path (plus ssh's 17-byte temporary suffix) must fit in 104 bytes.
      const dir = tempDir('cst-');
      controlDirs.push(dir);
      return dir;
    };

    const open = (options: RsyncConnectorOptions = {}, url?: string, identity?: string): SourceSession => {
      const session = new RsyncConnector({ sshOptions: sshd.sshOptions, controlDir, ...options }).open({
        name: 'test',
        source: url ?? sshd.url(source),
        sshIdentity: identity ?? sshd.identity,
      });
      sessions.push(session);
      return session;
    };

    before(async () => {
      sshd = await startSshd();
      root = tempDir('custodian-rsync-ssh-');
      source = buildTree(root);
      controlDir = freshControlDir();
    });

    after(async () => {
      for (const session of sessions) await session.close();
      await sshd?.stop();
      const left = controlDirs.flatMap((dir) => processesMentioning(dir));
      const sockets = controlDirs.flatMap((dir) => fs.readdirSync(dir));
      if (root) fs.rmSync(root, { recursive: true, force: true });
      for (const dir of controlDirs) fs.rmSync(dir, { recursive: true, force: true });
      assert.deepEqual(left, [], 'no ssh process is left behind');
      assert.deepEqual(sockets, [], 'every session removed its socket directory');
    });

    contract({
      open: (options) => open(options),
      openMissing: () => open({}, sshd.url(path.join(root, 'no such dir'))),
      source: () => source,
      work: () => root,
    });

    it('uses one ssh connection for discovery, exists and ten copies, and leaves no master after close', async () => {
      const controlDir = freshControlDir();
      const session = open({ controlDir });
      const before = sshd.connections();
      assert.deepEqual(await session.discover(), EXPECTED);
      assert.equal(await session.exists('20240101'), true);
      for (let i = 0; i < 10; i++) {
        const outcome = await session.syncExposure(
          '20240101',
          '00000001',
          path.join(root, 'many', String(i)),
        );
        assert.deepEqual(outcome, { ok: true, changed: Object.keys(EXPOSURE_1).sort() });
      }
      await assertOneLoginThenClean({
        connections: () => sshd.connections(),
        loginsBefore: before,
        controlDir,
        close: () => session.close(),
      });
    });

    it('a prestarted session is what the next open of its stream gets; close ends one never opened', async () => {
      const controlDir = freshControlDir();
      const connector = new RsyncConnector({ sshOptions: sshd.sshOptions, controlDir });
      const stream = { name: 'early', source: sshd.url(source), sshIdentity: sshd.identity };
      const before = sshd.connections();
      connector.prestart(stream);
      connector.prestart({ ...stream });
      await waitUntil(() => sshd.connections() - before === 1, 'the prestarted login');
      // Nothing to start for a local source, and a malformed one is left for open to report.
      connector.prestart({ name: 'local', source: root });
      connector.prestart({ name: 'bad', source: 'ftp://nowhere/x' });
      assert.throws(() => connector.open({ name: 'bad', source: 'ftp://nowhere/x' }), InputError);

      const session = connector.open({ ...stream });
      sessions.push(session);
      assert.deepEqual(await session.discover(), EXPECTED);
      await assertOneLoginThenClean({
        connections: () => sshd.connections(),
        loginsBefore: before,
        controlDir,
        close: () => session.close(),
      });
      // Handed out once: the next open of the stream is a session of its own.
      const again = connector.open(stream);
      sessions.push(again);
      assert.equal(await again.exists('20240101'), true);
      assert.equal(sshd.connections() - before, 2);
      await again.close();

      // Prestarted, then never opened (the command failed before its pass): close ends it.
      const idleDir = freshControlDir();
      const idle = new RsyncConnector({ sshOptions: sshd.sshOptions, controlDir: idleDir });
      const loginsBefore = sshd.connections();
      idle.prestart(stream);
      await waitUntil(() => sshd.connections() - loginsBefore === 1, 'the idle prestarted login');
      await idle.close();
      await idle.close();
      assert.deepEqual(processesMentioning(idleDir), []);
      assert.deepEqual(fs.readdirSync(idleDir), []);
    });

    it('reconnects once when the master connection dies', async () => {
      const controlDir = freshControlDir();
      const session = open({ controlDir });
      await session.discover();

      // The server goes away (a restart ends every connection): the master exits, its socket goes.
      let before = sshd.connections();
      await sshd.dropConnections();
      await waitUntil(() => sshMasters(controlDir).length === 0, 'the master to notice');
      assert.equal(await session.exists('20240101/00000001'), true);
      assert.equal(sshd.connections() - before, 1);
      assert.equal(sshMasters(controlDir).length, 1);

      // The master is killed outright and leaves a stale socket behind.
      const [master] = sshMasters(controlDir);
      assert.ok(master);
      before = sshd.connections();
      process.kill(master, 'SIGKILL');
      await waitUntil(() => sshMasters(controlDir).length === 0, 'the master to die');

      assert.deepEqual(await session.discover(), EXPECTED);
      assert.equal(sshd.connections() - before, 1);
      assert.equal(sshMasters(controlDir).length, 1);
      const outcome = await session.syncExposure('20240102', '00000001', path.join(root, 'after-reconnect'));
      assert.deepEqual(outcome, { ok: true, changed: ['c.fits'] });
      assert.equal(sshd.connections() - before, 1);

      await session.close();
      assert.deepEqual(processesMentioning(controlDir), []);
      assert.deepEqual(fs.readdirSync(controlDir), []);
    });

    it('reports an unreachable host: discover and exists throw, syncExposure and diffNight return failures', async () => {
      const closedPort = await freePort();
      const controlDir = freshControlDir();
      const session = open(
        { connectTimeoutSeconds: 5, controlDir },
        `ssh://${sshd.user}@127.0.0.1:${closedPort}/data`,
      );
      await assert.rejects(session.discover(), (error) => {
        assert.ok(error instanceof UnavailableError);
        assert.equal(error.code, 'TRANSFER_SOURCE_UNREACHABLE');
        assert.match(error.message, /Cannot connect to ssh:\/\/.*Connection refused/);
        return true;
      });
      await assert.rejects(session.exists('PAUSE'), { code: 'TRANSFER_SOURCE_UNREACHABLE' });
      const outcome = await session.syncExposure('20240101', '00000001', path.join(root, 'unreachable'));
      assert.equal(outcome.ok, false);
      assert.ok(!outcome.ok);
      assert.match(outcome.message, /Connection refused/);
      assert.equal((await session.diffNight('20240101', path.join(root, 'unreachable'))).ok, false);
      await session.close();
      assert.deepEqual(fs.readdirSync(controlDir), []);
    });

    it('reports a key the server does not accept as unreachable', async () => {
      // The host key is a valid private key, and not an authorized one.
      const hostKey = path.join(path.dirname(sshd.identity), 'host_ed25519');
      const session = open({}, undefined, hostKey);
      await assert.rejects(session.discover(), (error) => {
        assert.ok(error instanceof UnavailableError);
        assert.equal(error.code, 'TRANSFER_SOURCE_UNREACHABLE');
        assert.match(error.message, /Permission denied/);
        return true;
      });
      await session.close();
    });

    it('can be closed before use, and twice', async () => {
      const controlDir = freshControlDir();
      const session = open({ controlDir });
      await session.close();
      await session.close();
      assert.deepEqual(fs.readdirSync(controlDir), []);
    });
  },
);

describe(
  'RsyncConnector on a local source',
  { skip: requirement(hasProgram('rsync'), 'apt-get install -y rsync') },
  () => {
    let root: string;
    let source: string;

    before(() => {
      root = tempDir('custodian-rsync-local-');
      source = buildTree(root);
    });

    after(() => {
      if (root) fs.rmSync(root, { recursive: true, force: true });
    });

    const open = (options: RsyncConnectorOptions = {}, dir?: string) =>
      new RsyncConnector(options).open({ name: 'test', source: dir ?? source });

    contract({
      open: (options) => open(options),
      openMissing: () => open({}, path.join(root, 'no such dir')),
      source: () => source,
      work: () => root,
    });

    it('kills rsync when the signal aborts', async () => {
      const fake = path.join(root, 'slow-rsync');
      fs.writeFileSync(fake, '#!/bin/sh\nexec sleep 31.4159\n', { mode: 0o755 });
      const controller = new AbortController();
      const started = Date.now();
      const sync = open({ rsync: fake }).syncExposure('20240101', '00000001', path.join(root, 'aborted'), {
        signal: controller.signal,
      });
      await waitUntil(() => processesMentioning('31.4159').length > 0, 'the fake rsync to start');
      controller.abort();
      await assert.rejects(sync, { name: 'AbortError' });
      assert.ok(Date.now() - started < 5000);
      await waitUntil(() => processesMentioning('31.4159').length === 0, 'the fake rsync to be gone');
    });

    it('reports an rsync that cannot be started as a failure value', async () => {
      const outcome = await open({ rsync: path.join(root, 'no-rsync-here') }).syncExposure(
        '20240101',
        '00000001',
        path.join(root, 'never-copied'),
      );
      assert.equal(outcome.ok, false);
      assert.ok(!outcome.ok);
      assert.match(outcome.message, /rsync could not be started.*ENOENT/);
    });
  },
);
