/**
 * One ssh master connection (ControlMaster) to a host and the ssh commands that ride on it, so
 * that a session of many commands (a transfer pass, an audit listing) authenticates once. Its
 * control socket is `<controlDir>/cst-XXXXXX/%C` (%C: a hash of host, port and user, short enough
 * for the ~104-byte limit of a socket path).
 *
 * States: no master → started on demand (`ssh -M -f`: ssh authenticates, then leaves the master
 * in the background and exits), or ahead of the first command by `prestart` → up (socket
 * directory and master pid known) → dropped, when it is found dead (the next command starts a
 * new one) or on `close`. Starting, checking and dropping happen one at a time. A master is found dead by its process (Linux /proc; a zombie counts as
 * dead, since a container's init may never reap a daemonized master) or, after a command over it
 * failed, by `ssh -O check`; such a command is run once more over a new master.
 *
 * Which error a host that cannot be reached gives (its code, its words) belongs to the module
 * that uses the master: it passes `unreachable`, which receives the reason as a value.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { coerceError } from '../errors.js';
import type { Logger } from '../logger.js';
import { runChild, type ChildResult } from '../process/child.runner.js';

/** Where to connect; `%C` in the socket name depends on all three. */
export interface SshEndpoint {
  /** A host name, or an IPv6 address without brackets (`::1`). */
  host: string;
  port?: number;
  user?: string;
}

/** Why the host could not be reached. */
export type SshFailure =
  /** ssh could not be started (`result.error`), or could not connect or log in (`result.code`, `result.stderr`). */
  | { kind: 'connect-failed'; result: ChildResult }
  /** The master was started but did not answer `ssh -O check` on its socket. */
  | { kind: 'socket-silent'; result: ChildResult }
  /** The master was closed while a command waited for it. */
  | { kind: 'closed' };

export interface SshMasterOptions {
  /** ssh program; default `ssh`. */
  ssh?: string;
  /** Private key (ssh -i, with IdentitiesOnly). */
  identity?: string;
  /** Extra ssh `-o` options (`Name=value`, without `-o`); they come first, and the first value ssh sees wins. */
  sshOptions?: readonly string[];
  /** Where the control-socket directory goes; default os.tmpdir(). Keep it short (socket paths ≤ ~104 bytes). */
  controlDir?: string;
  /** ssh ConnectTimeout; default 10. */
  connectTimeoutSeconds?: number;
  /** An idle master exits after this many seconds, so a crashed process leaves no connection for long; default 600. */
  controlPersistSeconds?: number;
  /** How long an aborted ssh may take to exit after SIGTERM before SIGKILL; default 5000. */
  killGraceMs?: number;
  /** Where connects, reconnects and closes are told; default nowhere. */
  logger?: Logger;
  /** The error thrown when the host cannot be reached (its code and wording are the caller's). */
  unreachable: (failure: SshFailure) => Error;
}

/** Quotes a word for POSIX sh (paths in the scripts sent to the host). */
export function shQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export class SshMaster {
  /** The master's socket directory while one is believed to be up. */
  private dir: string | undefined;
  private pid: number | undefined;
  /** Starting, checking and closing happen one at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  /** A start begun by `prestart` that no `connect` has waited for yet: its error, or undefined. */
  private early: Promise<Error | undefined> | undefined;
  private readonly ssh: string;
  private readonly controlDir: string;
  private readonly killGraceMs: number | undefined;
  private readonly logger: Logger | undefined;

  constructor(
    private readonly endpoint: SshEndpoint,
    private readonly options: SshMasterOptions,
  ) {
    this.ssh = options.ssh ?? 'ssh';
    this.controlDir = options.controlDir ?? os.tmpdir();
    this.killGraceMs = options.killGraceMs;
    this.logger = options.logger;
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Options every ssh invocation needs. */
  private baseArgs(): string[] {
    const args: string[] = [];
    for (const option of this.options.sshOptions ?? []) args.push('-o', option);
    args.push(
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=accept-new',
      '-o',
      `ConnectTimeout=${this.options.connectTimeoutSeconds ?? 10}`,
    );
    if (this.options.identity !== undefined)
      args.push('-i', this.options.identity, '-o', 'IdentitiesOnly=yes');
    if (this.endpoint.port !== undefined) args.push('-p', String(this.endpoint.port));
    if (this.endpoint.user !== undefined) args.push('-l', this.endpoint.user);
    return args;
  }

  private socket(dir: string): string {
    return path.join(dir, '%C');
  }

  /** Options of an ssh client that rides on the master in `dir` (it never becomes a master itself); no host. */
  clientArgs(dir: string): string[] {
    return ['-S', this.socket(dir), '-o', 'ControlMaster=no', ...this.baseArgs()];
  }

  /** Arguments of an ssh client on the master in `dir` that runs `sh -s` on the host (the script comes on stdin). */
  shellArgs(dir: string): string[] {
    return [...this.clientArgs(dir), '--', this.endpoint.host, 'sh -s'];
  }

  private control(dir: string, command: 'check' | 'exit'): Promise<ChildResult> {
    return runChild(this.ssh, [
      '-S',
      this.socket(dir),
      '-O',
      command,
      ...this.baseArgs(),
      '--',
      this.endpoint.host,
    ]);
  }

  /**
   * Whether the master still runs, without spawning `ssh -O check` for every command: its
   * process is neither gone nor a zombie. Linux /proc; elsewhere undefined (ask ssh).
   */
  private masterProcessAlive(): boolean | undefined {
    if (this.pid === undefined || this.dir === undefined) return false;
    const state = processState(this.pid);
    return state === undefined ? undefined : state === 'running';
  }

  /** Whether the master answers on its socket. */
  private async masterAnswers(): Promise<boolean> {
    return this.dir !== undefined && (await this.control(this.dir, 'check')).code === 0;
  }

  private async start(signal: AbortSignal | undefined): Promise<void> {
    // Synchronous (microseconds on a local disk), so that ssh is spawned in this same turn of the
    // event loop: a prestart would otherwise wait for the loop while the caller loads modules.
    fs.mkdirSync(this.controlDir, { recursive: true });
    const dir = fs.mkdtempSync(path.join(this.controlDir, 'cst-'));
    let result: ChildResult;
    try {
      result = await runChild(
        this.ssh,
        [
          '-M',
          '-S',
          this.socket(dir),
          '-f',
          '-N',
          '-o',
          `ControlPersist=${this.options.controlPersistSeconds ?? 600}`,
          // A vanished server (a reboot) ends the master within 45 s instead of a TCP timeout.
          '-o',
          'ServerAliveInterval=15',
          '-o',
          'ServerAliveCountMax=3',
          ...this.baseArgs(),
          '--',
          this.endpoint.host,
        ],
        { signal, killGraceMs: this.killGraceMs },
      );
    } catch (e) {
      await removeDir(dir);
      throw e;
    }
    if (result.error || result.code !== 0) {
      await removeDir(dir);
      throw this.options.unreachable({ kind: 'connect-failed', result });
    }
    const check = await this.control(dir, 'check');
    const pid = /pid=(\d+)/.exec(check.stderr)?.[1];
    if (check.code !== 0 || pid === undefined) {
      await this.stop(dir, undefined);
      throw this.options.unreachable({ kind: 'socket-silent', result: check });
    }
    this.dir = dir;
    this.pid = Number(pid);
    this.logger?.info({ pid: this.pid }, 'ssh master connection opened');
  }

  private async stop(dir: string, pid: number | undefined): Promise<void> {
    await this.control(dir, 'exit');
    if (pid !== undefined && !(await waitForExit(pid, 3000))) {
      this.logger?.warn({ pid }, 'ssh master did not exit; killing it');
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await removeDir(dir);
  }

  private async dropLocked(): Promise<void> {
    const { dir, pid } = this;
    this.dir = undefined;
    this.pid = undefined;
    if (dir !== undefined) await this.stop(dir, pid);
  }

  /** A live master: started, or restarted when it died (idle past ControlPersist, or dropped by the server). */
  ensure(signal?: AbortSignal): Promise<void> {
    return this.locked(async () => {
      if (this.dir !== undefined) {
        // A master that is alive but broken is caught by `recover` after a command failed.
        if (this.masterProcessAlive() ?? (await this.masterAnswers())) return;
        this.logger?.info('ssh master connection is gone; reconnecting');
        await this.dropLocked();
      }
      await this.start(signal);
    });
  }

  /**
   * Starts the master now, in the background, so that its handshake overlaps whatever the caller
   * does before its first command (a CLI opening its database). Nothing is thrown here: the next
   * `connect` waits for this start and throws its error, rather than trying again at once (an
   * unreachable host would cost the connect timeout twice). Not abortable: `close` waits for it.
   */
  prestart(): void {
    this.early ??= this.ensure().then(
      () => undefined,
      (thrown: unknown) => coerceError(thrown),
    );
  }

  /** The socket directory of a live master (started as needed), for clientArgs and shellArgs. */
  async connect(signal?: AbortSignal): Promise<string> {
    const early = this.early;
    this.early = undefined;
    const failure = early && (await early);
    if (failure) throw failure;
    await this.ensure(signal);
    const dir = this.dir;
    if (dir === undefined) throw this.options.unreachable({ kind: 'closed' });
    return dir;
  }

  /**
   * After a command over the master in `dir` failed: when that master is gone (its socket does
   * not answer, even if its pid lingers), forget it and return true, so that the next command
   * reconnects. False when it still answers, or when another master has replaced it already.
   */
  recover(dir: string): Promise<boolean> {
    return this.locked(async () => {
      if (this.dir !== dir) return this.dir === undefined;
      if (await this.masterAnswers()) return false;
      await this.dropLocked();
      return true;
    });
  }

  /**
   * Runs `command` over the master (started as needed). When its result is `failed` and the
   * master turns out to be dead, reconnects and runs it once more.
   */
  async run(
    command: (dir: string) => Promise<ChildResult>,
    failed: (result: ChildResult) => boolean,
    signal?: AbortSignal,
  ): Promise<ChildResult> {
    const dir = await this.connect(signal);
    const result = await command(dir);
    if (!failed(result) || result.error || !(await this.recover(dir))) return result;
    this.logger?.warn({ code: result.code }, 'command failed with the ssh master gone; retrying once');
    return command(await this.connect(signal));
  }

  /**
   * Runs a POSIX sh script on the host over the master. The script is sent on stdin, so the
   * login shell only ever parses `sh -s`. ssh's own failure (255) on a dead master is retried once.
   */
  remote(script: string, signal?: AbortSignal): Promise<ChildResult> {
    return this.run(
      (dir) =>
        runChild(this.ssh, this.shellArgs(dir), { input: script, signal, killGraceMs: this.killGraceMs }),
      (result) => result.code === 255,
      signal,
    );
  }

  /** Ends the master and removes its socket directory; the next command would start a new one. Idempotent. */
  close(): Promise<void> {
    // A prestart still running is ahead in the queue: what it opened is closed here too.
    this.early = undefined;
    return this.locked(async () => {
      if (this.dir !== undefined) this.logger?.info('closing ssh master connection');
      await this.dropLocked();
    });
  }
}

function removeDir(dir: string): Promise<void> {
  return fs.promises.rm(dir, { recursive: true, force: true });
}

function errnoCode(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** A process's state from Linux /proc (a zombie waiting for its reaper counts as gone); undefined without /proc. */
function processState(pid: number): 'running' | 'gone' | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state === 'Z' || state === 'X' ? 'gone' : 'running';
  } catch (e) {
    return errnoCode(e) === 'ENOENT' && fs.existsSync('/proc/self') ? 'gone' : undefined;
  }
}

function isRunning(pid: number): boolean {
  const state = processState(pid);
  if (state !== undefined) return state === 'running';
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  // A master told to exit is usually gone within a few milliseconds: look again soon, then less often.
  for (let pauseMs = 2; isRunning(pid); pauseMs = Math.min(pauseMs * 2, 25)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  return true;
}
