// The ssh master connection shared by the transfer source and the audit lister, on a real sshd:
// many commands over one login; a master that died is replaced (before a command, or after a
// command that failed with it, which then runs once more); the caller's error for a host that
// cannot be reached; an abort while connecting; and nothing left running or on disk after close.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { runChild, type ChildResult } from '../../../src/core/process/child.runner.js';
import {
  SshMaster,
  shQuote,
  type SshEndpoint,
  type SshFailure,
  type SshMasterOptions,
} from '../../../src/core/ssh/ssh-master.adapter.js';
import { freePort, tempDir } from '../../helpers/cli.js';
import { requirement } from '../../helpers/environment.js';
import {
  assertOneLoginThenClean,
  processesMentioning,
  sshMasters,
  waitUntil,
} from '../../helpers/processes.js';
import { hasSshd, startHangUpServer, startSshd, type TestSshd } from '../../helpers/sshd.js';

class Unreachable extends Error {
  constructor(readonly failure: SshFailure) {
    super(`unreachable: ${failure.kind}`);
  }
}

describe(
  'SshMaster (real sshd)',
  { skip: requirement(hasSshd(), 'apt-get install -y openssh-server openssh-client') },
  () => {
    let sshd: TestSshd;
    const controlDirs: string[] = [];
    const opened: SshMaster[] = [];

    /** A master with a control directory of its own, so a test sees only its own processes. */
    const open = (
      options: Partial<SshMasterOptions> = {},
      endpoint?: SshEndpoint,
    ): { master: SshMaster; controlDir: string } => {
      // Short on purpose: the socket path (plus ssh's 17-byte temporary suffix) must fit in 104 bytes.
      const controlDir = tempDir('cst-');
      controlDirs.push(controlDir);
      const master = new SshMaster(endpoint ?? { host: '127.0.0.1', port: sshd.port, user: sshd.user }, {
        identity: sshd.identity,
        sshOptions: sshd.sshOptions,
        controlDir,
        connectTimeoutSeconds: 5,
        unreachable: (failure) => new Unreachable(failure),
        ...options,
      });
      opened.push(master);
      return { master, controlDir };
    };

    before(async () => {
      sshd = await startSshd();
    });

    after(async () => {
      for (const master of opened) await master.close();
      await sshd?.stop();
      const left = controlDirs.flatMap((dir) => processesMentioning(dir));
      const sockets = controlDirs.flatMap((dir) => fs.readdirSync(dir));
      for (const dir of controlDirs) fs.rmSync(dir, { recursive: true, force: true });
      assert.deepEqual(left, [], 'no ssh process is left behind');
      assert.deepEqual(sockets, [], 'every master removed its socket directory');
    });

    it('runs scripts and riding clients over one login, and leaves nothing behind after close', async () => {
      const { master, controlDir } = open();
      const before = sshd.connections();
      const awkward = `it's "quoted" $HOME; \\ *`;
      const printed = await master.remote(`printf '%s' ${shQuote(awkward)}\n`);
      assert.deepEqual([printed.code, printed.stdout], [0, awkward]);
      // A non-zero exit of the script is its own business: not retried, not an error.
      assert.equal((await master.remote('exit 7\n')).code, 7);
      const dir = await master.connect();
      const client = await runChild('ssh', [...master.clientArgs(dir), '--', '127.0.0.1', 'echo', 'riding']);
      assert.deepEqual([client.code, client.stdout], [0, 'riding\n']);
      await assertOneLoginThenClean({
        connections: () => sshd.connections(),
        loginsBefore: before,
        controlDir,
        close: () => master.close(),
      });
    });

    it('replaces a master that died between commands', async () => {
      const { master, controlDir } = open();
      await master.remote('true\n');
      const [pid] = sshMasters(controlDir);
      assert.ok(pid);
      const before = sshd.connections();
      process.kill(pid, 'SIGKILL');
      await waitUntil(() => sshMasters(controlDir).length === 0, 'the master to die');

      const result = await master.remote('echo again\n');
      assert.deepEqual([result.code, result.stdout], [0, 'again\n']);
      assert.equal(sshd.connections() - before, 1);
      assert.equal(sshMasters(controlDir).length, 1);
      assert.equal(fs.readdirSync(controlDir).length, 1, "the dead master's socket directory is gone");
    });

    it('runs a command once more over a new master when the connection dropped under it', async () => {
      const { master, controlDir } = open();
      const before = sshd.connections();
      let calls = 0;
      const result = await master.run(
        async (dir) => {
          calls++;
          if (calls > 1) return runChild('ssh', master.shellArgs(dir), { input: 'echo second\n' });
          const running = runChild('ssh', master.shellArgs(dir), { input: 'sleep 29.71\n' });
          await waitUntil(() => processesMentioning('29.71').length > 0, 'the remote command to run');
          // A server restart: every connection ends, the master with it.
          await sshd.dropConnections();
          await waitUntil(() => sshMasters(controlDir).length === 0, 'the master to notice');
          return running;
        },
        (r: ChildResult) => r.code === 255,
      );
      assert.equal(calls, 2);
      assert.deepEqual([result.code, result.stdout], [0, 'second\n']);
      assert.equal(sshd.connections() - before, 2);
      assert.equal(sshMasters(controlDir).length, 1);
    });

    it('does not run a failed command again while its master lives', async () => {
      const { master } = open();
      let calls = 0;
      const result = await master.run(
        (dir) => {
          calls++;
          return runChild('ssh', master.shellArgs(dir), { input: 'exit 3\n' });
        },
        (r) => r.code !== 0,
      );
      assert.deepEqual([calls, result.code], [1, 3]);
    });

    it('recover forgets a dead master only: not a live one, nor one already replaced', async () => {
      const { master, controlDir } = open();
      const first = await master.connect();
      assert.equal(await master.recover(first), false, 'alive');
      const [pid] = sshMasters(controlDir);
      assert.ok(pid);
      process.kill(pid, 'SIGKILL');
      await waitUntil(() => sshMasters(controlDir).length === 0, 'the master to die');
      assert.equal(await master.recover(first), true, 'dead: forgotten');
      assert.equal(fs.existsSync(first), false, 'and its socket directory removed');
      const second = await master.connect();
      assert.notEqual(second, first);
      assert.equal(await master.recover(first), false, 'replaced already');
      assert.equal(await master.recover(second), false);
    });

    it("hands a host it cannot reach to the caller's unreachable, with ssh's reason, and keeps no socket directory", async () => {
      const closedPort = await freePort();
      const { master, controlDir } = open({}, { host: '127.0.0.1', port: closedPort, user: sshd.user });
      await assert.rejects(master.remote('true\n'), (error: unknown) => {
        assert.ok(error instanceof Unreachable && error.failure.kind === 'connect-failed');
        assert.equal(error.failure.result.code, 255);
        assert.match(error.failure.result.stderr, /Connection refused/);
        return true;
      });
      assert.deepEqual(fs.readdirSync(controlDir), []);

      const missing = open({ ssh: `${controlDir}/no-ssh-here` });
      await assert.rejects(missing.master.connect(), (error: unknown) => {
        assert.ok(error instanceof Unreachable && error.failure.kind === 'connect-failed');
        assert.match(error.failure.result.error?.message ?? '', /ENOENT/);
        return true;
      });
      assert.deepEqual(fs.readdirSync(missing.controlDir), []);
    });

    it('prestart logs in before any command, and the first command rides that master', async () => {
      const { master, controlDir } = open();
      const before = sshd.connections();
      master.prestart();
      master.prestart();
      // Logged in with no command asked for.
      await waitUntil(() => sshd.connections() - before === 1, 'the prestarted login');
      assert.equal(sshMasters(controlDir).length, 1);
      const printed = await master.remote('echo after-prestart\n');
      assert.deepEqual([printed.code, printed.stdout], [0, 'after-prestart\n']);
      await assertOneLoginThenClean({
        connections: () => sshd.connections(),
        loginsBefore: before,
        controlDir,
        close: () => master.close(),
      });
    });

    it('a prestart that cannot reach the host fails the first connect with its reason, without a second try', async () => {
      const hangUp = await startHangUpServer();
      try {
        const { master, controlDir } = open({}, { host: '127.0.0.1', port: hangUp.port, user: sshd.user });
        master.prestart();
        await waitUntil(() => hangUp.tries() === 1, 'the prestart to try');
        await assert.rejects(master.connect(), (error: unknown) => {
          assert.ok(error instanceof Unreachable && error.failure.kind === 'connect-failed');
          assert.equal(error.failure.result.code, 255);
          return true;
        });
        assert.equal(hangUp.tries(), 1, 'the failed prestart was the only try');
        assert.deepEqual(fs.readdirSync(controlDir), []);
        // The failure is reported once: the next command tries again.
        await assert.rejects(master.connect(), Unreachable);
        assert.equal(hangUp.tries(), 2);
      } finally {
        await hangUp.close();
      }
    });

    it('close while a prestart is still logging in leaves no master and no socket behind', async () => {
      const { master, controlDir } = open();
      master.prestart();
      await master.close();
      assert.deepEqual(processesMentioning(controlDir), []);
      assert.deepEqual(fs.readdirSync(controlDir), []);
    });

    it('an abort while connecting stops ssh at once and removes the socket directory', async () => {
      // A server that accepts the connection and never answers (a hung host).
      const sockets: net.Socket[] = [];
      const silent = net.createServer((socket) => sockets.push(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = silent.address() as net.AddressInfo;
        const { master, controlDir } = open(
          { connectTimeoutSeconds: 60, killGraceMs: 1000 },
          { host: '127.0.0.1', port, user: sshd.user },
        );
        const controller = new AbortController();
        const connecting = master.connect(controller.signal);
        await waitUntil(() => sockets.length > 0, 'ssh to connect');
        const abortedAt = Date.now();
        controller.abort(new Error('stopped by the test'));
        await assert.rejects(connecting, /stopped by the test/);
        assert.ok(Date.now() - abortedAt < 3000, `stopped after ${Date.now() - abortedAt} ms`);
        assert.deepEqual(processesMentioning(controlDir), []);
        assert.deepEqual(fs.readdirSync(controlDir), []);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    });
  },
);
