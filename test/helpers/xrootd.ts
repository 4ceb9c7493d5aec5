import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { freePort, tempDir } from './cli.js';
import { hasProgram } from './environment.js';

/**
 * A real XRootD server for audit tests (DESIGN §4): on a free loopback port, exporting `/store`
 * (or the given paths) from `root` (oss.localroot). xrootd refuses to run as root, so as root it is
 * started with `-R xrootd` (the package's user) and its admin, pid and log directories belong to
 * that user; the exported tree must be readable by it (`root` itself is made 0755 here). It runs
 * as a daemon (`-b`) and is stopped by the pid it writes.
 */
export interface TestXrootd {
  port: number;
  /** The server process (benchmarks read its CPU time from /proc). */
  pid: number;
  /** `root://127.0.0.1:port//store` for `/store`. */
  url(exportedPath: string): string;
  /** The server's log so far. */
  log(): string;
  /** Stops the server. Idempotent. */
  stop(): Promise<void>;
}

const RUN_AS = 'xrootd';

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function userIds(user: string): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/** xrootd and xrdfs are installed (and, as root, the `xrootd` user exists to run the server as). */
export function hasXrootd(): boolean {
  return hasProgram('xrootd') && hasProgram('xrdfs') && (!isRoot() || userIds(RUN_AS) !== undefined);
}

function isGone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) === 'Z';
  } catch {
    return true;
  }
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

async function stopPid(pid: number): Promise<void> {
  kill(pid, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (!isGone(pid)) {
    if (Date.now() > deadline) {
      kill(pid, 'SIGKILL');
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  while (!isGone(pid)) await new Promise((resolve) => setTimeout(resolve, 25));
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function launch(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('xrootd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (error) => resolve({ code: null, output: error.message }));
    child.on('close', (code) => resolve({ code, output }));
  });
}

async function startOnce(dir: string, root: string, exports: readonly string[]): Promise<TestXrootd> {
  const admin = path.join(dir, 'admin');
  const run = path.join(dir, 'run');
  for (const d of [admin, run]) {
    fs.rmSync(d, { recursive: true, force: true });
    fs.mkdirSync(d, { recursive: true });
  }
  const owner = isRoot() ? userIds(RUN_AS) : undefined;
  if (owner) for (const d of [admin, run]) fs.chownSync(d, owner.uid, owner.gid);
  const port = await freePort();
  const config = path.join(dir, 'xrootd.cfg');
  fs.writeFileSync(
    config,
    [
      ...exports.map((exported) => `all.export ${exported}`),
      `oss.localroot ${root}`,
      `xrd.port ${port}`,
      `all.adminpath ${admin}`,
      `all.pidpath ${run}`,
      '',
    ].join('\n'),
  );
  const logFile = path.join(run, 'xrootd.log');
  const log = () => {
    try {
      return fs.readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const launched = await launch(['-c', config, '-l', logFile, '-b', ...(owner ? ['-R', RUN_AS] : [])]);
  const pidFile = path.join(run, 'xrootd.pid');
  const deadline = Date.now() + 10_000;
  let pid = readPid(pidFile);
  while (Date.now() < deadline) {
    pid ??= readPid(pidFile);
    if (pid !== undefined && !isGone(pid) && (await portOpen(port))) break;
    if (launched.code !== 0 || (pid !== undefined && isGone(pid))) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (pid === undefined || isGone(pid) || !(await portOpen(port))) {
    if (pid !== undefined) await stopPid(pid);
    throw new Error(
      `xrootd did not start on port ${port} (exit ${launched.code}): ${launched.output}\n${log()}`,
    );
  }
  const serverPid = pid;
  let stopped: Promise<void> | undefined;
  return {
    port,
    pid: serverPid,
    url: (exportedPath) => `root://127.0.0.1:${port}/${exportedPath}`,
    log,
    stop: () =>
      (stopped ??= (async () => {
        await stopPid(serverPid);
        fs.rmSync(dir, { recursive: true, force: true });
      })()),
  };
}

/** Starts xrootd exporting `exports` (default `/store`) of `root` on a free port (retrying when another process takes the port first). */
export async function startXrootd(
  root: string,
  exports: readonly string[] = ['/store'],
): Promise<TestXrootd> {
  const dir = tempDir('custodian-xrootd-');
  fs.chmodSync(dir, 0o755);
  // The server's user must be able to reach the exported tree.
  fs.chmodSync(root, 0o755);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(dir, root, exports);
    } catch (error) {
      lastError = error;
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw lastError;
}
