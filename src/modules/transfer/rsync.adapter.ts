/**
 * SourceConnector on real `rsync` and `ssh`. A local source is listed with node:fs and copied
 * with a local rsync; an `ssh://` source gets one ssh master connection per session
 * (ControlMaster, socket `<controlDir>/cst-XXXXXX/%C`) that discovery, `exists` and every rsync
 * (`rsync -e "ssh -S <socket>"`) reuse, so a pass over hundreds of exposures authenticates once.
 *
 * Remote commands are POSIX sh scripts sent on ssh's stdin (`ssh host sh -s`): the login shell
 * only ever parses `sh -s`, and paths are single-quoted for sh. The remote needs GNU find
 * (`-printf`) and rsync. Copies always pull (remote → local); nothing is ever deleted.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError, UnavailableError, coerceError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import type { SourceConnector, SourceSession, StreamSource, SyncOutcome } from './transfer.ports.js';
import type { Discovery, SkippedEntry } from './transfer.types.js';
import {
  hasControlCharacter,
  isEightDigits,
  parseDiscovery,
  parseFindErrors,
  parseFindListing,
  parseItemizedChanges,
  parseSource,
  type ListingEntry,
  type SourceLocation,
} from './source-url.parser.js';

export interface RsyncConnectorOptions {
  /** rsync program; default `rsync`. */
  rsync?: string;
  /** ssh program; default `ssh`. */
  ssh?: string;
  /**
   * Where per-session control-socket directories go; default os.tmpdir(). Keep it short: a unix
   * socket path is limited to about 104 bytes and ssh adds 17 to it while binding.
   */
  controlDir?: string;
  /** ssh ConnectTimeout; default 10. */
  connectTimeoutSeconds?: number;
  /**
   * Extra ssh `-o` options (`StrictHostKeyChecking=no`, without the `-o`). They come first on the
   * command line, and the first value ssh sees wins, so they override the defaults.
   */
  sshOptions?: string[];
  /**
   * An idle master exits after this many seconds (ssh ControlPersist), so a crashed process
   * leaves no connection behind for long; the next command reconnects. Default 600.
   */
  controlPersistSeconds?: number;
  logger?: Logger;
}

interface Settings {
  rsync: string;
  ssh: string;
  controlDir: string;
  connectTimeoutSeconds: number;
  sshOptions: string[];
  controlPersistSeconds: number;
  logger: Logger;
}

export class RsyncConnector implements SourceConnector {
  private readonly settings: Settings;

  constructor(options: RsyncConnectorOptions = {}) {
    for (const option of options.sshOptions ?? []) {
      if (hasControlCharacter(option) || option.startsWith('-') || !option.includes('=')) {
        throw new InputError(
          'TRANSFER_BAD_SSH_OPTION',
          `ssh option ${JSON.stringify(option)} is not of the form Name=value (write it without "-o").`,
        );
      }
    }
    this.settings = {
      rsync: options.rsync ?? 'rsync',
      ssh: options.ssh ?? 'ssh',
      controlDir: options.controlDir ?? os.tmpdir(),
      connectTimeoutSeconds: options.connectTimeoutSeconds ?? 10,
      sshOptions: [...(options.sshOptions ?? [])],
      controlPersistSeconds: options.controlPersistSeconds ?? 600,
      logger: options.logger ?? silentLogger(),
    };
  }

  /** Parses the source (InputError TRANSFER_BAD_SOURCE when malformed); does not connect. */
  open(stream: StreamSource): SourceSession {
    const location = parseSource(stream.source);
    if (location.kind === 'local') return new LocalSession(stream.source, this.settings, location.path);
    // The stream's own options come first: ssh keeps the first value it sees for an option.
    const settings = {
      ...this.settings,
      sshOptions: [...(stream.sshOptions ?? []), ...this.settings.sshOptions],
    };
    return new SshSession(stream.source, settings, location, stream.sshIdentity);
  }
}

// ---------------------------------------------------------------------------------------------
// Child processes

interface ChildResult {
  /** Exit code; null when killed by a signal or when the program could not be started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** The last STDERR_CAP bytes of stderr. */
  stderr: string;
  /** Set when the program could not be started (ENOENT, EACCES). */
  error?: Error;
}

const STDERR_CAP = 64 * 1024;
const KILL_GRACE_MS = 5000;

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException('The operation was aborted', 'AbortError');
}

/**
 * Runs a program with an argument array (never a local shell). Resolves with what it printed and
 * how it ended; rejects only when `signal` aborts, after killing the child (TERM, then KILL).
 */
function runChild(
  command: string,
  args: readonly string[],
  options: { input?: string; signal?: AbortSignal } = {},
): Promise<ChildResult> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn(command, args, {
        stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        // English messages from ssh, rsync and find, whatever the operator's locale.
        env: { ...process.env, LC_ALL: 'C' },
      });
    } catch (e) {
      resolve({ code: null, signal: null, stdout: '', stderr: '', error: coerceError(e) });
      return;
    }
    const stdout: Buffer[] = [];
    let stderr = Buffer.alloc(0);
    let spawnError: Error | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = Buffer.concat([stderr, chunk]);
      if (stderr.length > STDERR_CAP) stderr = stderr.subarray(stderr.length - STDERR_CAP);
    });
    child.on('error', (error) => (spawnError = error));
    if (child.stdin) {
      // The child may exit before reading everything (an unreachable host): not our error.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
    child.on('close', (code, exitSignal) => {
      signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      resolve({
        code: spawnError ? null : code,
        signal: exitSignal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: stderr.toString('utf8'),
        ...(spawnError ? { error: spawnError } : {}),
      });
    });
  });
}

/** The last lines of a program's stderr, for a message (ssh's own host-key notices left out). */
function summarize(stderr: string, lines = 5): string {
  const kept = stderr
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('Warning: Permanently added'));
  const text = kept.slice(-lines).join('; ');
  return text.length > 800 ? `…${text.slice(-800)}` : text || '(no message)';
}

function howItEnded(result: ChildResult): string {
  if (result.error) return `could not be started (${result.error.message})`;
  return result.code === null ? `was killed by ${result.signal ?? 'a signal'}` : `exited with ${result.code}`;
}

const RSYNC_EXIT: Record<number, string> = {
  1: 'syntax or usage error',
  2: 'protocol incompatibility',
  3: 'errors selecting input/output files, dirs',
  4: 'requested action not supported',
  5: 'error starting client-server protocol',
  10: 'error in socket I/O',
  11: 'error in file I/O',
  12: 'error in rsync protocol data stream',
  13: 'errors with program diagnostics',
  14: 'error in IPC code',
  20: 'received SIGUSR1 or SIGINT',
  21: 'some error returned by waitpid()',
  22: 'error allocating core memory buffers',
  23: 'partial transfer due to error',
  24: 'partial transfer due to vanished source files',
  25: 'the --max-delete limit stopped deletions',
  30: 'timeout in data send/receive',
  35: 'timeout waiting for daemon connection',
  255: 'the connection failed (ssh)',
};

function describeRsyncFailure(result: ChildResult): string {
  if (result.error)
    return `rsync could not be started (${result.error.message}): install rsync or set its path`;
  if (result.code === null) return `rsync was killed by ${result.signal ?? 'a signal'}`;
  const meaning = RSYNC_EXIT[result.code] ?? 'unknown error';
  return `rsync exited with ${result.code} (${meaning}): ${summarize(result.stderr)}`;
}

/** Quotes a word for POSIX sh. */
function shQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Quotes a word for rsync's own splitting of `-e` (quotes group; a doubled quote is literal). */
function rsyncQuote(text: string): string {
  return /^[A-Za-z0-9_./%=:,@+-]+$/.test(text) ? text : `'${text.replace(/'/g, "''")}'`;
}

/** With --secluded-args the remote rsync expands wildcards in source paths itself: make them literal. */
function rsyncGlobEscape(text: string): string {
  return text.replace(/[\\*?[\]]/g, '\\$&');
}

function joinRemote(root: string, relative: string): string {
  return `${root.replace(/\/+$/, '')}/${relative}`;
}

function checkRelative(relativePath: string): void {
  const segments = relativePath.split('/');
  if (
    relativePath === '' ||
    relativePath.startsWith('/') ||
    hasControlCharacter(relativePath) ||
    segments.includes('..')
  ) {
    throw new InputError(
      'TRANSFER_BAD_PATH',
      `${JSON.stringify(relativePath)} is not a relative path inside the source (no "..", no leading "/").`,
    );
  }
}

function checkNights(nights: readonly string[] | undefined): void {
  const bad = (nights ?? []).filter((night) => !isEightDigits(night));
  if (bad.length > 0) {
    throw new InputError('TRANSFER_BAD_NIGHT', `Nights must be 8 digits (YYYYMMDD); got ${bad.join(', ')}.`);
  }
}

function errnoCode(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

// ---------------------------------------------------------------------------------------------
// Sessions

const EIGHT_DIGIT_GLOB = '[0-9]'.repeat(8);

/** What both kinds of source share: how rsync is called and what its outcome means. */
abstract class RsyncSession implements SourceSession {
  constructor(
    readonly display: string,
    protected readonly settings: Settings,
  ) {}

  abstract discover(options?: { nights?: readonly string[]; signal?: AbortSignal }): Promise<Discovery>;
  abstract exists(relativePath: string, signal?: AbortSignal): Promise<boolean>;
  abstract close(): Promise<void>;

  /** The rsync source argument for a directory under the source, with a trailing slash. */
  protected abstract rsyncSource(relativeDir: string): string;

  /**
   * Runs `run` with the rsync arguments that reach the source (`-e ssh...` or nothing). May
   * throw UnavailableError when the source cannot be reached at all.
   */
  protected abstract attempt(
    run: (remoteShell: string[]) => Promise<ChildResult>,
    signal: AbortSignal | undefined,
  ): Promise<ChildResult>;

  async syncExposure(
    night: string,
    exposure: string,
    targetDir: string,
    options: { dryRun?: boolean; signal?: AbortSignal } = {},
  ): Promise<SyncOutcome> {
    options.signal?.throwIfAborted();
    if (!isEightDigits(night) || !isEightDigits(exposure)) {
      return { ok: false, message: `night and exposure must be 8 digits; got ${night}/${exposure}` };
    }
    const target = path.resolve(targetDir);
    if (!options.dryRun) {
      try {
        await fs.promises.mkdir(target, { recursive: true });
      } catch (e) {
        return { ok: false, message: `cannot create ${target}: ${coerceError(e).message}` };
      }
    }
    return this.rsync(
      `${night}/${exposure}`,
      target,
      // --inplace: a killed rsync leaves a short or stale file under its real name, which the
      // next run's size/mtime check sends again, instead of a `.name.XXXXXX` temp file that
      // nothing would ever remove (and that verification would report as unlisted).
      options.dryRun ? ['--dry-run'] : ['--inplace'],
      `copy of ${night}/${exposure}`,
      options.signal,
    );
  }

  async syncExposures(
    night: string,
    exposures: readonly string[],
    targetNightDir: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<SyncOutcome> {
    options.signal?.throwIfAborted();
    const invalid = [night, ...exposures].find((name) => !isEightDigits(name));
    if (invalid !== undefined || exposures.length === 0) {
      return {
        ok: false,
        message: `night and exposures must be 8 digits (and at least one exposure); got ${invalid ?? 'none'}`,
      };
    }
    const target = path.resolve(targetNightDir);
    try {
      await fs.promises.mkdir(target, { recursive: true });
    } catch (e) {
      return { ok: false, message: `cannot create ${target}: ${coerceError(e).message}` };
    }
    // Anchored includes pick the exposures at the top of the night; what lies below them is
    // included with them, and `/*` keeps everything else of the night out.
    const filters = [...exposures.map((exposure) => `--include=/${exposure}/`), '--exclude=/*'];
    return this.rsync(
      night,
      target,
      // --inplace for the reason given in syncExposure.
      ['--inplace', ...filters],
      `copy of ${exposures.length} exposures of ${night}`,
      options.signal,
    );
  }

  async diffNight(night: string, targetNightDir: string, signal?: AbortSignal): Promise<SyncOutcome> {
    signal?.throwIfAborted();
    if (!isEightDigits(night)) return { ok: false, message: `night must be 8 digits; got ${night}` };
    // Only NIGHT/<8 digits>/...: the night's stray files and oddly named directories are not exposures.
    const filters = [`--include=/${EIGHT_DIGIT_GLOB}/`, '--exclude=/*'];
    return this.rsync(
      night,
      path.resolve(targetNightDir),
      ['--dry-run', ...filters],
      `comparison of night ${night}`,
      signal,
    );
  }

  private async rsync(
    relativeDir: string,
    target: string,
    extra: string[],
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<SyncOutcome> {
    // -s: names reach the remote rsync through the protocol, untouched by a shell.
    // -8: names are printed as UTF-8, rsync escapes only control bytes (\#ooo).
    // -k: a symlink to a directory is copied as that directory, at any depth, so a symlinked
    //     exposure (or a symlinked subdirectory) arrives as data, and diffNight agrees with syncExposure.
    const args = (remoteShell: string[]) => [
      '-a',
      '-s',
      '-8',
      '-k',
      '--itemize-changes',
      '--out-format=%i %n',
      ...extra,
      ...remoteShell,
      '--',
      this.rsyncSource(relativeDir),
      `${target}/`,
    ];
    let result: ChildResult;
    try {
      result = await this.attempt(
        (remoteShell) => runChild(this.settings.rsync, args(remoteShell), { signal }),
        signal,
      );
    } catch (e) {
      if (signal?.aborted) throw e;
      return { ok: false, message: `${what} from ${this.display} failed: ${coerceError(e).message}` };
    }
    if (result.error || result.code !== 0) {
      const message = `${what} from ${this.display} failed: ${describeRsyncFailure(result)}`;
      this.settings.logger.warn({ source: this.display, code: result.code }, message);
      return { ok: false, message, changed: parseItemizedChanges(result.stdout) };
    }
    return { ok: true, changed: parseItemizedChanges(result.stdout) };
  }
}

class LocalSession extends RsyncSession {
  private readonly root: string;

  constructor(display: string, settings: Settings, root: string) {
    super(display, settings);
    this.root = path.resolve(root);
  }

  async discover(options: { nights?: readonly string[]; signal?: AbortSignal } = {}): Promise<Discovery> {
    checkNights(options.nights);
    options.signal?.throwIfAborted();
    const missing = () =>
      new UnavailableError(
        'TRANSFER_SOURCE_MISSING',
        `Source directory ${this.root} does not exist or is not a directory: check the stream's source.`,
        { details: { source: this.display } },
      );
    let rootStat: fs.Stats;
    try {
      rootStat = await fs.promises.stat(this.root);
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'ENOENT' || code === 'ENOTDIR') throw missing();
      throw new UnavailableError(
        'TRANSFER_SOURCE_UNREACHABLE',
        `Cannot read ${this.root}: ${coerceError(e).message}.`,
        {
          details: { source: this.display },
        },
      );
    }
    if (!rootStat.isDirectory()) throw missing();
    const entries: ListingEntry[] = [];
    const extraSkipped: SkippedEntry[] = [];
    const isDirectory = async (full: string) => {
      try {
        return (await fs.promises.stat(full)).isDirectory();
      } catch {
        return false; // a broken or looping symlink
      }
    };
    let nights: string[];
    try {
      nights = options.nights ? [...options.nights] : await fs.promises.readdir(this.root);
    } catch (e) {
      throw new UnavailableError(
        'TRANSFER_SOURCE_UNREACHABLE',
        `Cannot list ${this.root}: ${coerceError(e).message}.`,
        {
          details: { source: this.display },
        },
      );
    }
    for (const night of nights) {
      options.signal?.throwIfAborted();
      const full = path.join(this.root, night);
      if (options.nights) {
        const present = await fs.promises.lstat(full).then(
          () => true,
          () => false,
        );
        if (!present) continue;
      }
      const directory = await isDirectory(full);
      entries.push({ path: night, directory });
      if (!directory || !isEightDigits(night)) continue;
      let children: string[];
      try {
        children = await fs.promises.readdir(full);
      } catch (e) {
        extraSkipped.push({
          path: night,
          reason: `could not be listed: ${errnoCode(e) ?? coerceError(e).message}`,
        });
        continue;
      }
      for (const child of children) {
        entries.push({ path: `${night}/${child}`, directory: await isDirectory(path.join(full, child)) });
      }
    }
    return parseDiscovery(entries, { ...(options.nights ? { nights: options.nights } : {}), extraSkipped });
  }

  async exists(relativePath: string, signal?: AbortSignal): Promise<boolean> {
    checkRelative(relativePath);
    signal?.throwIfAborted();
    try {
      await fs.promises.stat(path.join(this.root, relativePath));
      return true;
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return false;
      throw new UnavailableError(
        'TRANSFER_SOURCE_UNREACHABLE',
        `Cannot check ${path.join(this.root, relativePath)}: ${coerceError(e).message}.`,
        { details: { source: this.display } },
      );
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  protected rsyncSource(relativeDir: string): string {
    return `${path.join(this.root, relativeDir)}/`;
  }

  protected attempt(run: (remoteShell: string[]) => Promise<ChildResult>): Promise<ChildResult> {
    return run([]);
  }
}

type SshLocation = Extract<SourceLocation, { kind: 'ssh' }>;

/** Exit codes of our remote scripts (ssh itself uses 255). */
const REMOTE_ABSENT = 96;
const REMOTE_NO_SOURCE = 97;
const REMOTE_CANNOT_ENTER = 98;

class SshSession extends RsyncSession {
  /** The master's socket directory while one is believed to be up. */
  private dir: string | undefined;
  private pid: number | undefined;
  /** Connecting, checking and closing happen one at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    display: string,
    settings: Settings,
    private readonly location: SshLocation,
    private readonly identity: string | undefined,
  ) {
    super(display, settings);
  }

  private get logger(): Logger {
    return this.settings.logger;
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Options every ssh invocation needs; %C in the socket name depends on host, port and user. */
  private baseArgs(): string[] {
    const args: string[] = [];
    for (const option of this.settings.sshOptions) args.push('-o', option);
    args.push(
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=accept-new',
      '-o',
      `ConnectTimeout=${this.settings.connectTimeoutSeconds}`,
    );
    if (this.identity !== undefined) args.push('-i', this.identity, '-o', 'IdentitiesOnly=yes');
    if (this.location.port !== undefined) args.push('-p', String(this.location.port));
    if (this.location.user !== undefined) args.push('-l', this.location.user);
    return args;
  }

  private socket(dir: string): string {
    return path.join(dir, '%C');
  }

  /** Arguments of a command that rides on the master (it never becomes a master itself). */
  private clientArgs(dir: string): string[] {
    return ['-S', this.socket(dir), '-o', 'ControlMaster=no', ...this.baseArgs()];
  }

  private control(dir: string, command: 'check' | 'exit'): Promise<ChildResult> {
    return runChild(this.settings.ssh, [
      '-S',
      this.socket(dir),
      '-O',
      command,
      ...this.baseArgs(),
      '--',
      this.location.host,
    ]);
  }

  /**
   * Whether the master still runs, without spawning `ssh -O check` for every command: its
   * process is neither gone nor a zombie (masters are daemonized, and a
   * container's init may never reap them). Linux /proc; elsewhere undefined (ask ssh).
   */
  private masterProcessAlive(): boolean | undefined {
    if (this.pid === undefined || this.dir === undefined) return false;
    try {
      const stat = fs.readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      return state !== 'Z' && state !== 'X';
    } catch (e) {
      return (coerceError(e) as NodeJS.ErrnoException).code === 'ENOENT' && fs.existsSync('/proc/self')
        ? false
        : undefined;
    }
  }

  private async masterAlive(): Promise<boolean> {
    if (this.dir === undefined) return false;
    return (await this.control(this.dir, 'check')).code === 0;
  }

  private async startMaster(signal: AbortSignal | undefined): Promise<void> {
    await fs.promises.mkdir(this.settings.controlDir, { recursive: true });
    const dir = await fs.promises.mkdtemp(path.join(this.settings.controlDir, 'cst-'));
    const removeDir = () => fs.promises.rm(dir, { recursive: true, force: true });
    let result: ChildResult;
    try {
      result = await runChild(
        this.settings.ssh,
        [
          '-M',
          '-S',
          this.socket(dir),
          '-f',
          '-N',
          '-o',
          `ControlPersist=${this.settings.controlPersistSeconds}`,
          // A vanished server (a reboot) ends the master within 45 s instead of a TCP timeout.
          '-o',
          'ServerAliveInterval=15',
          '-o',
          'ServerAliveCountMax=3',
          ...this.baseArgs(),
          '--',
          this.location.host,
        ],
        { signal },
      );
    } catch (e) {
      await removeDir();
      throw e;
    }
    if (result.error) {
      await removeDir();
      throw new UnavailableError(
        'TRANSFER_SOURCE_UNREACHABLE',
        `Cannot connect to ${this.display}: ssh could not be started (${result.error.message}); install openssh-client or set the ssh path.`,
        { details: { source: this.display } },
      );
    }
    if (result.code !== 0) {
      await removeDir();
      throw new UnavailableError(
        'TRANSFER_SOURCE_UNREACHABLE',
        `Cannot connect to ${this.display}: ssh ${howItEnded(result)}: ${summarize(result.stderr)}. ` +
          'Check host, port, user and key (the host must accept the key without a password), then retry.',
        { details: { source: this.display, exitCode: result.code } },
      );
    }
    const check = await this.control(dir, 'check');
    const pid = /pid=(\d+)/.exec(check.stderr)?.[1];
    if (check.code !== 0 || pid === undefined) {
      await this.stopMaster(dir, undefined);
      throw new UnavailableError(
        'TRANSFER_SOURCE_UNREACHABLE',
        `Connected to ${this.display} but the ssh master did not answer on its socket: ${summarize(check.stderr)}.`,
        { details: { source: this.display } },
      );
    }
    this.dir = dir;
    this.pid = Number(pid);
    this.logger.info({ source: this.display, pid: this.pid }, 'ssh master connection opened');
  }

  private async stopMaster(dir: string, pid: number | undefined): Promise<void> {
    await this.control(dir, 'exit');
    if (pid !== undefined && !(await waitForExit(pid, 3000))) {
      this.logger.warn({ source: this.display, pid }, 'ssh master did not exit; killing it');
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await fs.promises.rm(dir, { recursive: true, force: true });
  }

  /** A live master, started or restarted (once per call) as needed. */
  private ensureMaster(signal: AbortSignal | undefined): Promise<void> {
    return this.locked(async () => {
      if (this.dir !== undefined) {
        // A signal-0 probe of the master's pid instead of `ssh -O check` (a process spawn per
        // command); a master that is alive but broken is caught by overMaster's retry.
        if (this.masterProcessAlive() ?? (await this.masterAlive())) return;
        // Idle past ControlPersist, or dropped by the server (a restart): either way, connect again.
        this.logger.info({ source: this.display }, 'ssh master connection is gone; reconnecting');
        await this.dropMaster();
      }
      await this.startMaster(signal);
    });
  }

  private async dropMaster(): Promise<void> {
    const { dir, pid } = this;
    this.dir = undefined;
    this.pid = undefined;
    if (dir !== undefined) await this.stopMaster(dir, pid);
  }

  /** Runs over the master; when the command failed because the master died, reconnects and runs it once more. */
  private async overMaster(
    run: (dir: string) => Promise<ChildResult>,
    failed: (result: ChildResult) => boolean,
    signal: AbortSignal | undefined,
  ): Promise<ChildResult> {
    const current = async () => {
      await this.ensureMaster(signal);
      const dir = this.dir;
      if (dir === undefined)
        throw new UnavailableError('TRANSFER_SOURCE_UNREACHABLE', `${this.display} was closed.`);
      return run(dir);
    };
    const result = await current();
    if (!failed(result) || result.error || (await this.locked(() => this.masterAlive()))) return result;
    this.logger.warn(
      { source: this.display, code: result.code },
      'command failed with the ssh master gone; retrying once',
    );
    // Known dead (its socket does not answer), even if its pid lingers as a zombie.
    await this.locked(() => this.dropMaster());
    return current();
  }

  protected attempt(
    run: (remoteShell: string[]) => Promise<ChildResult>,
    signal: AbortSignal | undefined,
  ): Promise<ChildResult> {
    const shell = (dir: string) => [
      '-e',
      [this.settings.ssh, ...this.clientArgs(dir)].map(rsyncQuote).join(' '),
    ];
    return this.overMaster(
      (dir) => run(shell(dir)),
      (result) => result.code !== 0,
      signal,
    );
  }

  protected rsyncSource(relativeDir: string): string {
    const host = this.location.host.includes(':') ? `[${this.location.host}]` : this.location.host;
    return `${host}:${rsyncGlobEscape(joinRemote(this.location.path, relativeDir))}/`;
  }

  /** Runs a sh script on the source host (sent on stdin, so only `sh -s` meets the login shell). */
  private remote(script: string, signal: AbortSignal | undefined): Promise<ChildResult> {
    return this.overMaster(
      (dir) =>
        runChild(this.settings.ssh, [...this.clientArgs(dir), '--', this.location.host, 'sh -s'], {
          input: script,
          signal,
        }),
      (result) => result.code === 255,
      signal,
    );
  }

  private unreachable(result: ChildResult, what: string): UnavailableError {
    return new UnavailableError(
      'TRANSFER_SOURCE_UNREACHABLE',
      `Cannot ${what} ${this.display}: ssh ${howItEnded(result)}: ${summarize(result.stderr)}.`,
      { details: { source: this.display, exitCode: result.code } },
    );
  }

  async discover(options: { nights?: readonly string[]; signal?: AbortSignal } = {}): Promise<Discovery> {
    checkNights(options.nights);
    const root = shQuote(this.location.path);
    const lines = [
      'LC_ALL=C; export LC_ALL',
      `if [ ! -d ${root} ]; then exit ${REMOTE_NO_SOURCE}; fi`,
      `cd ${root} || exit ${REMOTE_CANNOT_ENTER}`,
    ];
    if (options.nights) {
      lines.push(
        'set --',
        `for n in ${options.nights.join(' ')}; do`,
        '  if [ -e "$n" ] || [ -L "$n" ]; then set -- "$@" "./$n"; fi',
        'done',
        '[ "$#" -gt 0 ] || exit 0',
        `exec find -L "$@" -maxdepth 1 -printf '%y %p\\0'`,
      );
    } else {
      // Every name at the top, but only 8-digit directories are entered.
      lines.push(
        `exec find -L . -mindepth 1 -maxdepth 2 -printf '%y %p\\0' ! -name '${EIGHT_DIGIT_GLOB}' -prune`,
      );
    }
    const result = await this.remote(`${lines.join('\n')}\n`, options.signal);
    if (result.code === REMOTE_NO_SOURCE) {
      throw new UnavailableError(
        'TRANSFER_SOURCE_MISSING',
        `Source directory ${this.location.path} does not exist (or is not a directory) on ${this.location.host}: check the stream's source ${this.display}.`,
        { details: { source: this.display } },
      );
    }
    if (result.code === REMOTE_CANNOT_ENTER) throw this.unreachable(result, 'enter the source directory of');
    const listing = parseFindListing(result.stdout);
    // find says 1 when some entries could not be read; what it did list is still good.
    if (result.code === 0 || (result.code === 1 && listing.length > 0)) {
      const extraSkipped = result.code === 0 ? [] : parseFindErrors(result.stderr);
      if (extraSkipped.length > 0) {
        this.logger.warn(
          { source: this.display, problems: extraSkipped.length },
          'source listing was incomplete',
        );
      }
      return parseDiscovery(listing, { ...(options.nights ? { nights: options.nights } : {}), extraSkipped });
    }
    throw this.unreachable(result, 'list');
  }

  async exists(relativePath: string, signal?: AbortSignal): Promise<boolean> {
    checkRelative(relativePath);
    const target = shQuote(joinRemote(this.location.path, relativePath));
    const result = await this.remote(
      `if [ -e ${target} ]; then exit 0; else exit ${REMOTE_ABSENT}; fi\n`,
      signal,
    );
    if (result.code === 0) return true;
    if (result.code === REMOTE_ABSENT) return false;
    throw this.unreachable(result, `check ${relativePath} on`);
  }

  close(): Promise<void> {
    return this.locked(async () => {
      if (this.dir !== undefined) this.logger.info({ source: this.display }, 'closing ssh master connection');
      await this.dropMaster();
    });
  }
}

/** Whether a process is running (a zombie waiting for its reaper counts as gone). */
function isRunning(pid: number): boolean {
  if (fs.existsSync('/proc/self/stat')) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const state = stat.charAt(stat.lastIndexOf(')') + 2);
      return state !== 'Z' && state !== 'X';
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return true;
}
