// `custodian transfer once` on an `ssh://` source, as an operator runs it (the built binary, a
// real sshd on loopback): the command starts its ssh connection while it opens the database, and
// the whole pass still logs in once and leaves no ssh process or control socket behind, nor does
// a command whose database cannot be opened. A source that hangs up on every connection is
// reported in the pass (exit 1) after a single try.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, runCli, tempDir, writeConfig, type CliResult } from '../../helpers/cli.js';
import { requirement } from '../../helpers/environment.js';
import { processesMentioning } from '../../helpers/processes.js';
import { hasSshd, startHangUpServer, startSshd, type TestSshd } from '../../helpers/sshd.js';
import { writeExposure } from '../../modules/transfer/transfer-fixture.js';

const STREAM = 'desi_spectro_data';
// Far from today's night: the pass's own catch-up and archive of "yesterday" never touch it.
const NIGHT = '20240315';

interface Pass {
  streams: {
    stream: string;
    error?: string;
    exposures: { exposure: string; action: string; failed: string[] }[];
  }[];
}

function pass(result: CliResult): Pass {
  try {
    return JSON.parse(result.stdout) as Pass;
  } catch {
    throw new Error(`not one JSON document (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}

describe(
  'custodian transfer once over ssh (CLI)',
  { skip: requirement(hasSshd(), 'apt-get install -y openssh-server openssh-client rsync') },
  () => {
    let sshd: TestSshd;
    const dir = tempDir('custodian-transfer-ssh-');
    // The CLI's ssh control sockets go under TMPDIR: a directory of this test's own, so it finds
    // any process the command left behind.
    const tmp = tempDir('cst-');
    const source = path.join(dir, 'source');

    const config = (url: string, database = 'sqlite:./custodian.db') =>
      writeConfig(
        dir,
        [
          `database: ${database}`,
          'logging: { level: warn }',
          'transfer:',
          '  catchupHour: 23',
          '  archiveHour: 23',
          '  streams:',
          `    - name: ${STREAM}`,
          `      source: ${JSON.stringify(url)}`,
          `      sshIdentity: ${JSON.stringify(sshd.identity)}`,
          `      sshOptions: [${sshd.sshOptions.join(', ')}]`,
          '      staging: ./staging',
          '      destination: ./spectro',
          '      archive: ./archive',
          '',
        ].join('\n'),
      );
    const once = () => runCli(['transfer', 'once', '--json'], { cwd: dir, env: { TMPDIR: tmp } });

    before(async () => {
      sshd = await startSshd();
      for (const exposure of ['00000101', '00000102', '00000103'])
        writeExposure(source, { night: NIGHT, exposure });
    });

    after(async () => {
      await sshd?.stop();
      spawnSync('chmod', ['-R', 'u+w', dir]);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(tmp, { recursive: true, force: true });
    });

    it('transfers every exposure over one login and leaves no ssh process or socket behind', async () => {
      config(sshd.url(source));
      const before = sshd.connections();
      const result = await once();
      assert.equal(result.code, 0, result.stderr);
      const [stream] = pass(result).streams;
      assert.equal(stream?.error, undefined);
      assert.deepEqual(
        stream?.exposures.map((e) => [e.exposure, e.action, e.failed]),
        ['00000101', '00000102', '00000103'].map((e) => [e, 'transferred', []]),
      );
      assert.equal(fs.readdirSync(path.join(dir, 'spectro', NIGHT)).length, 3);
      assert.equal(sshd.connections() - before, 1, 'the whole command logged in once');
      assert.deepEqual(processesMentioning(tmp), []);
      assert.deepEqual(fs.readdirSync(tmp), []);
    });

    it('a database that cannot be opened after the ssh connection started: the error, and nothing left behind', async () => {
      const closedPort = await freePort();
      config(sshd.url(source), `postgres://custodian@127.0.0.1:${closedPort}/custodian`);
      const result = await runCli(['transfer', 'once', '--json'], { cwd: dir, env: { TMPDIR: tmp } });
      assert.notEqual(result.code, 0);
      assert.match(result.stdout, /"error"/);
      assert.deepEqual(processesMentioning(tmp), []);
      assert.deepEqual(fs.readdirSync(tmp), []);
    });

    it('a source that hangs up is the stream error of the pass (exit 1), after one try', async () => {
      const hangUp = await startHangUpServer();
      try {
        config(sshd.url(source).replace(`:${sshd.port}/`, `:${hangUp.port}/`));
        const result = await once();
        assert.equal(result.code, 1, result.stderr);
        const [stream] = pass(result).streams;
        assert.match(stream?.error ?? '', /Cannot connect to ssh:\/\//);
        assert.deepEqual(stream?.exposures, []);
        assert.equal(hangUp.tries(), 1);
        assert.deepEqual(processesMentioning(tmp), []);
        assert.deepEqual(fs.readdirSync(tmp), []);
      } finally {
        await hangUp.close();
      }
    });
  },
);
