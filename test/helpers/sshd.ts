import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, tempDir } from './cli.js';
import { hasProgram } from './environment.js';

/**
 * A real OpenSSH server for transfer tests: on 127.0.0.1, a free port, its own host key, and one
 * authorized user key (the current user's login). It runs in the foreground (`sshd -D`) as our
 * child and logs to stderr (`-e`), captured in a file: with `-E`, the per-connection processes'
 * lines ('Accepted publickey') never reached the file.
 */
export interface TestSshd {
  port: number;
  /** Private key the server accepts. */
  identity: string;
  /** The user to log in as (the current user). */
  user: string;
  /** `-o` values (without `-o`) a client needs for this throwaway server. */
  sshOptions: string[];
  /** `ssh://user@127.0.0.1:port/path`, the path percent-encoded. */
  url(remotePath: string): string;
  /** Successful logins so far ('Accepted publickey' lines in the log). */
  connections(): number;
  /** The server's log so far. */
  log(): string;
  /** Ends every open connection from the server side, as a server restart would; the server keeps listening. */
  dropConnections(): Promise<void>;
  /** Stops the server and every process it started (sessions, remote commands). Idempotent. */
  stop(): Promise<void>;
}

const SSHD = '/usr/sbin/sshd';

export function hasSshd(): boolean {
  return fs.existsSync(SSHD) && ['ssh', 'rsync', 'ssh-keygen'].every((program) => hasProgram(program));
}

function keygen(file: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'custodian-test', '-f', file], {
    stdio: 'ignore',
  });
}

/** Pids of `pid`'s descendants (read from /proc), deepest last. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const child of children.get(p) ?? []) {
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function waitForPort(port: number, child: ChildProcess, logFile: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        reject(
          new Error(
            `sshd exited (${child.exitCode ?? child.signalCode}): ${fs.readFileSync(logFile, 'utf8')}`,
          ),
        );
        return;
      }
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`sshd did not listen on port ${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

async function startOnce(dir: string): Promise<TestSshd> {
  const hostKey = path.join(dir, 'host_ed25519');
  const identity = path.join(dir, 'user_ed25519');
  const authorized = path.join(dir, 'authorized_keys');
  if (!fs.existsSync(hostKey)) keygen(hostKey);
  if (!fs.existsSync(identity)) keygen(identity);
  fs.copyFileSync(`${identity}.pub`, authorized);
  // sshd refuses to start without its privilege-separation directory.
  fs.mkdirSync('/run/sshd', { recursive: true });
  const port = await freePort();
  const config = path.join(dir, 'sshd_config');
  fs.writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorized}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      'UseDNS no',
      'LogLevel INFO',
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      'MaxStartups 100',
      // Every command multiplexed over one connection is a session of it.
      'MaxSessions 100',
      // bash runs ~/.bashrc for every command sshd starts unless SHLVL says it is nested; the
      // tests measure Custodian, not the test machine's dotfiles (root's runs pyenv here, which
      // costs 0.3 s per command and can deadlock on a stale lock when a session is killed).
      'SetEnv SHLVL=1',
      '',
    ].join('\n'),
  );
  const logFile = path.join(dir, 'sshd.log');
  const logFd = fs.openSync(logFile, 'a');
  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', logFd] });
  fs.closeSync(logFd);
  child.on('error', () => undefined);
  try {
    await waitForPort(port, child, logFile);
  } catch (error) {
    kill(child.pid ?? 0, 'SIGKILL');
    throw error;
  }
  const user = os.userInfo().username;
  const log = () => fs.readFileSync(logFile, 'utf8');
  let stopped: Promise<void> | undefined;
  return {
    port,
    identity,
    user,
    sshOptions: ['StrictHostKeyChecking=no', 'UserKnownHostsFile=/dev/null', 'LogLevel=ERROR'],
    url: (remotePath) =>
      `ssh://${encodeURIComponent(user)}@127.0.0.1:${port}${remotePath.split('/').map(encodeURIComponent).join('/')}`,
    connections: () => log().match(/Accepted publickey/g)?.length ?? 0,
    log,
    dropConnections: async () => {
      const sessions = descendants(child.pid ?? 0);
      for (const p of sessions) kill(p, 'SIGKILL');
      const deadline = Date.now() + 5000;
      while (sessions.some((p) => !isGone(p)) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    stop: () =>
      (stopped ??= (async () => {
        const pid = child.pid;
        if (pid !== undefined && child.exitCode === null && child.signalCode === null) {
          // Sessions outlive the listener (they are its children, not its threads): stop them all.
          const all = [pid, ...descendants(pid)];
          const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
          for (const p of all) kill(p, 'SIGTERM');
          const timer = setTimeout(() => all.forEach((p) => kill(p, 'SIGKILL')), 3000);
          await exited;
          clearTimeout(timer);
          const deadline = Date.now() + 3000;
          while (all.some((p) => !isGone(p)) && Date.now() < deadline) {
            await new Promise((resolve) => setTimeout(resolve, 25));
          }
          for (const p of all) if (!isGone(p)) kill(p, 'SIGKILL');
        }
        fs.rmSync(dir, { recursive: true, force: true });
      })()),
  };
}

/** Exited (a zombie waiting for its reaper counts as exited). */
function isGone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) === 'Z';
  } catch {
    return true;
  }
}

/** Starts sshd on a free port (retrying when another process takes the port first). */
export async function startSshd(): Promise<TestSshd> {
  const dir = tempDir('custodian-sshd-');
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(dir);
    } catch (error) {
      lastError = error;
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

/** A host that accepts TCP connections and hangs up at once: ssh to it fails immediately. */
export interface HangUpServer {
  port: number;
  /** Connections accepted so far: how many times something tried. */
  tries(): number;
  close(): Promise<void>;
}

export async function startHangUpServer(): Promise<HangUpServer> {
  let tries = 0;
  const server = net.createServer((socket) => {
    tries++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    tries: () => tries,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
