import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FORCED_EXIT_CODE } from '../../../src/core/lifecycle/signals.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const fixture = path.join(projectRoot, 'test/core/lifecycle/fixtures/stop-signals.fixture.ts');

interface Daemon {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  waitFor: (stream: 'stdout' | 'stderr', text: string) => Promise<void>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startDaemon(mode: 'graceful' | 'stuck'): Daemon {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, mode], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  const waiters: (() => void)[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream]?.setEncoding('utf8');
    child[stream]?.on('data', (chunk: string) => {
      output[stream] += chunk;
      for (const waiter of waiters.splice(0)) waiter();
    });
  }
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const waitFor = async (stream: 'stdout' | 'stderr', text: string) => {
    const deadline = Date.now() + 20_000;
    while (!output[stream].includes(text)) {
      if (Date.now() > deadline || child.exitCode !== null) {
        throw new Error(`daemon never printed "${text}" on ${stream}:\n${output.stdout}\n${output.stderr}`);
      }
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  };
  return { child, stdout: () => output.stdout, stderr: () => output.stderr, waitFor, exit };
}

async function withDaemon(
  mode: 'graceful' | 'stuck',
  body: (daemon: Daemon) => Promise<void>,
): Promise<void> {
  const daemon = startDaemon(mode);
  try {
    await body(daemon);
  } finally {
    if (daemon.child.exitCode === null && daemon.child.signalCode === null) {
      daemon.child.kill('SIGKILL');
      await daemon.exit;
    }
  }
}

describe('stop signals (child process)', () => {
  it('first SIGTERM: finishes the current step, then exits normally', async () => {
    await withDaemon('graceful', async (daemon) => {
      await daemon.waitFor('stdout', 'iteration start');
      daemon.child.kill('SIGTERM');
      const { code } = await daemon.exit;
      assert.equal(code, 0, daemon.stderr());
      const lines = daemon.stdout().trim().split('\n');
      assert.equal(lines.at(-1), 'stopped by signal');
      assert.equal(lines.at(-2), 'iteration end', 'the step in progress completed');
      assert.match(daemon.stderr(), /stopping gracefully/);
    });
  });

  it('second signal: forces the exit with code 130', async () => {
    await withDaemon('stuck', async (daemon) => {
      await daemon.waitFor('stdout', 'iteration start');
      daemon.child.kill('SIGINT');
      await daemon.waitFor('stderr', 'stopping gracefully');
      daemon.child.kill('SIGTERM');
      const { code } = await daemon.exit;
      assert.equal(code, FORCED_EXIT_CODE);
      assert.match(daemon.stdout(), /forced/);
      assert.doesNotMatch(daemon.stdout(), /stopped by/);
    });
  });
});
