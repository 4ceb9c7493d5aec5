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
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError, UnavailableError, coerceError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import {
  howItEnded,
  runChild,
  summarize,
  type ChildResult,
  type SummaryLimits,
} from '../../core/process/child.runner.js';
import { SshMaster, shQuote, type SshFailure } from '../../core/ssh/ssh-master.adapter.js';
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

/**
 * The transfer module's connector as the app builds it (createTransferModule), and as the CLI
 * builds it ahead of the app to prestart its sessions: both go through here so they agree.
 */
export function transferSourceConnector(appLogger: Logger): RsyncConnector {
  return new RsyncConnector({ logger: appLogger.child({ module: 'transfer' }) });
}

/** What makes two opens of a stream the same connection. */
function sessionKey(stream: StreamSource): string {
  return JSON.stringify([stream.name, stream.source, stream.sshIdentity ?? null, stream.sshOptions ?? []]);
}

export class RsyncConnector implements SourceConnector {
  private readonly settings: Settings;
  /** Sessions started by `prestart`, each handed to the first `open` of its stream. */
  private readonly prestarted = new Map<string, SourceSession>();

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

  /** Parses the source (InputError TRANSFER_BAD_SOURCE when malformed); does not connect, unless prestarted. */
  open(stream: StreamSource): SourceSession {
    const key = sessionKey(stream);
    const early = this.prestarted.get(key);
    if (early) {
      this.prestarted.delete(key);
      return early;
    }
    return this.create(stream);
  }

  /** For `ssh://` sources; a local one has nothing to connect, a malformed one fails at `open`. */
  prestart(stream: StreamSource): void {
    const key = sessionKey(stream);
    if (this.prestarted.has(key)) return;
    let session: SourceSession;
    try {
      session = this.create(stream);
    } catch {
      return;
    }
    if (!(session instanceof SshSession)) return;
    session.prestart();
    this.prestarted.set(key, session);
  }

  async close(): Promise<void> {
    const sessions = [...this.prestarted.values()];
    this.prestarted.clear();
    await Promise.allSettled(sessions.map((session) => session.close()));
  }

  private create(stream: StreamSource): SourceSession {
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

/** rsync and ssh get this long to exit after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 5000;
/** How much of a program's stderr a message quotes. */
const SUMMARY: SummaryLimits = { lines: 5, chars: 800 };

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
  return `rsync exited with ${result.code} (${meaning}): ${summarize(result.stderr, SUMMARY)}`;
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
        (remoteShell) =>
          runChild(this.settings.rsync, args(remoteShell), { signal, killGraceMs: KILL_GRACE_MS }),
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
  private readonly master: SshMaster;

  constructor(
    display: string,
    settings: Settings,
    private readonly location: SshLocation,
    identity: string | undefined,
  ) {
    super(display, settings);
    this.master = new SshMaster(location, {
      ssh: settings.ssh,
      identity,
      sshOptions: settings.sshOptions,
      controlDir: settings.controlDir,
      connectTimeoutSeconds: settings.connectTimeoutSeconds,
      controlPersistSeconds: settings.controlPersistSeconds,
      killGraceMs: KILL_GRACE_MS,
      logger: settings.logger.child({ source: display }),
      unreachable: (failure) => this.masterUnreachable(failure),
    });
  }

  private get logger(): Logger {
    return this.settings.logger;
  }

  private masterUnreachable(failure: SshFailure): UnavailableError {
    const code = 'TRANSFER_SOURCE_UNREACHABLE';
    const details = { source: this.display };
    switch (failure.kind) {
      case 'connect-failed': {
        const { result } = failure;
        if (result.error) {
          return new UnavailableError(
            code,
            `Cannot connect to ${this.display}: ssh could not be started (${result.error.message}); install openssh-client or set the ssh path.`,
            { details },
          );
        }
        return new UnavailableError(
          code,
          `Cannot connect to ${this.display}: ssh ${howItEnded(result)}: ${summarize(result.stderr, SUMMARY)}. ` +
            'Check host, port, user and key (the host must accept the key without a password), then retry.',
          { details: { ...details, exitCode: result.code } },
        );
      }
      case 'socket-silent':
        return new UnavailableError(
          code,
          `Connected to ${this.display} but the ssh master did not answer on its socket: ${summarize(failure.result.stderr, SUMMARY)}.`,
          { details },
        );
      case 'closed':
        return new UnavailableError(code, `${this.display} was closed.`);
    }
  }

  protected attempt(
    run: (remoteShell: string[]) => Promise<ChildResult>,
    signal: AbortSignal | undefined,
  ): Promise<ChildResult> {
    // rsync starts `ssh <client options> host rsync --server ...` itself, over the master.
    const shell = (dir: string) => [
      '-e',
      [this.settings.ssh, ...this.master.clientArgs(dir)].map(rsyncQuote).join(' '),
    ];
    return this.master.run(
      (dir) => run(shell(dir)),
      (result) => result.code !== 0,
      signal,
    );
  }

  protected rsyncSource(relativeDir: string): string {
    const host = this.location.host.includes(':') ? `[${this.location.host}]` : this.location.host;
    return `${host}:${rsyncGlobEscape(joinRemote(this.location.path, relativeDir))}/`;
  }

  private unreachable(result: ChildResult, what: string): UnavailableError {
    return new UnavailableError(
      'TRANSFER_SOURCE_UNREACHABLE',
      `Cannot ${what} ${this.display}: ssh ${howItEnded(result)}: ${summarize(result.stderr, SUMMARY)}.`,
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
    const result = await this.master.remote(`${lines.join('\n')}\n`, options.signal);
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
    const result = await this.master.remote(
      `if [ -e ${target} ]; then exit 0; else exit ${REMOTE_ABSENT}; fi\n`,
      signal,
    );
    if (result.code === 0) return true;
    if (result.code === REMOTE_ABSENT) return false;
    throw this.unreachable(result, `check ${relativePath} on`);
  }

  /** Starts the ssh master now; its outcome waits for the first command. */
  prestart(): void {
    this.master.prestart();
  }

  close(): Promise<void> {
    return this.master.close();
  }
}
