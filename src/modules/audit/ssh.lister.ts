/**
 * SiteLister for `ssh://[user@]host[:port]/path` sites. One ssh master connection
 * (ControlMaster, socket `<controlDir>/cst-XXXXXX/%C`) carries the whole listing, so it
 * authenticates once. On it run `concurrency` long-lived remote `sh -s` workers (WORKER_SCRIPT),
 * each listing one directory at a time with GNU `find DIR -mindepth 1 -maxdepth 1 -printf
 * '%y %s %T@ %P\0'`: a directory costs one find, not one ssh session and one login shell (the
 * login shell may source slow rc files: 0.4 s per command on the test machine). The server's
 * MaxSessions (OpenSSH default 10) bounds the sessions of one connection: keep `concurrency` below it.
 *
 * The login shell only ever parses `sh -s`: the script comes on stdin, then paths, one per line
 * (paths with control characters are refused before). Only regular files and directories are
 * kept; symlinks are never followed. A worker that times out or dies is replaced; a dead master
 * is reconnected.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import os from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { InputError, UnavailableError, coerceError } from '../../core/errors.js';
import { raceAbort } from '../../core/lifecycle/abort.js';
import {
  STDERR_CAP,
  childEnv,
  howItEnded,
  summarize,
  type ChildResult,
  type SummaryLimits,
} from '../../core/process/child.runner.js';
import {
  SshMaster,
  shQuote,
  type SshFailure,
  type SshMasterOptions,
} from '../../core/ssh/ssh-master.adapter.js';
import type { ListOptions, SiteLister } from './audit.ports.js';
import type { ListingResult } from './audit.types.js';
import { ListingError, walkSite, type DirectoryListing, type ListDirectory } from './site-walker.js';
import {
  hasControlCharacter,
  parseFindRecords,
  parseStorageUrl,
  redactStorage,
  toStoragePath,
  topLevelSitePath,
  type StorageLocation,
} from './storage-url.parser.js';

type SshLocation = Extract<StorageLocation, { scheme: 'ssh' }>;

/** The ssh connection's settings; each documents its default in SshMasterOptions. */
export type SshListerOptions = Pick<
  SshMasterOptions,
  'ssh' | 'identity' | 'sshOptions' | 'controlDir' | 'connectTimeoutSeconds' | 'controlPersistSeconds'
>;

/** An ssh client gets this long to exit after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 2000;
/** How much of a program's stderr a message quotes. */
const SUMMARY: SummaryLimits = { lines: 3, chars: 500 };

/** Exit codes of the remote scripts (ssh itself uses 255, find 1). */
const REMOTE_ABSENT = 96;
const REMOTE_NOT_DIRECTORY = 97;

function unreachable(
  display: string,
  message: string,
  details: Record<string, unknown> = {},
): UnavailableError {
  return new UnavailableError('AUDIT_SITE_UNREACHABLE', `Storage ${display}: ${message}`, {
    details: { storage: display, ...details },
  });
}

/** The error of a master that cannot reach the host, worded for a site. */
function masterUnreachable(display: string, failure: SshFailure): UnavailableError {
  switch (failure.kind) {
    case 'connect-failed':
      return unreachable(
        display,
        `cannot connect: ssh ${howItEnded(failure.result)}: ${summarize(failure.result.stderr, SUMMARY)}. ` +
          'Check host, port, user and key (the host must accept the key without a password).',
        { exitCode: failure.result.code },
      );
    case 'socket-silent':
      return unreachable(
        display,
        `the ssh master did not answer on its socket: ${summarize(failure.result.stderr, SUMMARY)}.`,
      );
    case 'closed':
      return unreachable(display, 'the ssh connection was closed.');
  }
}

/**
 * A remote `sh -s` that lists directories one at a time: it reads one path per line and answers
 * with find's NUL-terminated records, then `!END <find's status> <its stderr, 400 bytes>\0` (a
 * find record starts with a letter, never `!`). The loop sits inside `{ }` so that the shell has
 * read the whole script before it prints `!READY`; only then are paths sent (dash reads its
 * script from a pipe in blocks, and would otherwise swallow them as commands).
 */
export const WORKER_SCRIPT = [
  'LC_ALL=C; export LC_ALL',
  'exec 3>&1',
  '{',
  "printf '!READY\\0'",
  'while IFS= read -r d; do',
  `  if [ ! -e "$d" ]; then printf '!END ${REMOTE_ABSENT} \\0'; continue; fi`,
  `  if [ ! -d "$d" ]; then printf '!END ${REMOTE_NOT_DIRECTORY} \\0'; continue; fi`,
  '  err=$(find -H "$d" -mindepth 1 -maxdepth 1 -printf \'%y %s %T@ %P\\0\' 2>&1 >&3); rc=$?',
  '  printf \'!END %s %.400s\\0\' "$rc" "$err"',
  'done',
  '}',
  '',
].join('\n');

const READY = Buffer.from('!READY\0');
const END = Buffer.from('!END ');
/** The end record is at most this long (status, message capped at 400 bytes). */
const END_MAX = 512;

interface WorkerAnswer {
  status: number;
  message: string;
  /** find's records, each ending in NUL. */
  records: string;
}

/** The last `n` bytes of the chunks. */
function lastBytes(chunks: readonly Buffer[], n: number): Buffer {
  const parts: Buffer[] = [];
  let needed = n;
  for (let i = chunks.length - 1; i >= 0 && needed > 0; i--) {
    const chunk = chunks[i] as Buffer;
    parts.unshift(chunk.length <= needed ? chunk : chunk.subarray(chunk.length - needed));
    needed -= chunk.length;
  }
  return Buffer.concat(parts);
}

class SshWorker {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private chunks: Buffer[] = [];
  private total = 0;
  private started = false;
  private pending: { resolve: (answer: WorkerAnswer) => void; reject: (error: Error) => void } | undefined;
  private readonly ready: Promise<void>;
  private readonly closed: Promise<void>;
  private stderr = '';
  private exited: string | undefined;

  constructor(
    program: string,
    args: readonly string[],
    readonly masterDir: string,
  ) {
    this.child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'], env: childEnv() });
    this.child.stdin.on('error', () => undefined);
    this.child.on('error', () => undefined);
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-STDERR_CAP);
    });
    this.closed = new Promise((resolve) => this.child.once('close', () => resolve()));
    this.ready = new Promise<void>((resolve, reject) => {
      this.pending = { resolve: () => resolve(), reject };
    });
    this.ready.catch(() => undefined);
    this.child.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    this.child.once('close', (code, signal) => {
      this.exited = `ssh ${howItEnded({ code, signal })}: ${summarize(this.stderr, SUMMARY)}`;
      const pending = this.pending;
      this.pending = undefined;
      pending?.reject(new ListingError(this.exited));
    });
    this.child.stdin.write(WORKER_SCRIPT);
  }

  get alive(): boolean {
    return this.exited === undefined;
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.total += chunk.length;
    if (!this.started) {
      const head = Buffer.concat(this.chunks);
      if (head.length < READY.length) {
        if (!READY.subarray(0, head.length).equals(head)) this.kill();
        return;
      }
      if (!head.subarray(0, READY.length).equals(READY)) {
        this.kill();
        return;
      }
      this.started = true;
      this.chunks = head.length > READY.length ? [head.subarray(READY.length)] : [];
      this.total = head.length - READY.length;
      const pending = this.pending;
      this.pending = undefined;
      pending?.resolve({ status: 0, message: '', records: '' });
      if (this.total > 0) this.kill();
      return;
    }
    if (this.pending === undefined) {
      // Output out of turn: the session cannot be trusted any more.
      this.kill();
      return;
    }
    const tail = lastBytes(this.chunks, Math.min(this.total, END_MAX));
    if (tail[tail.length - 1] !== 0) return;
    const previous = tail.lastIndexOf(0, tail.length - 2);
    const recordStart = previous + 1;
    if (previous < 0 && this.total > END_MAX) return;
    if (!tail.subarray(recordStart, recordStart + END.length).equals(END)) return;
    const all = Buffer.concat(this.chunks);
    this.chunks = [];
    this.total = 0;
    const endAt = all.length - (tail.length - recordStart);
    const record = all.subarray(endAt + END.length, all.length - 1).toString('utf8');
    const match = /^(\d+) ?([\s\S]*)$/.exec(record);
    const pending = this.pending;
    this.pending = undefined;
    if (!match) {
      pending.reject(new ListingError(`unexpected end record ${JSON.stringify(record.slice(0, 100))}`));
      this.kill();
      return;
    }
    pending.resolve({
      status: Number(match[1]),
      message: (match[2] ?? '').trim(),
      records: all.subarray(0, endAt).toString('utf8'),
    });
  }

  async start(signal: AbortSignal): Promise<void> {
    await raceAbort(this.ready, signal, () => this.kill());
  }

  list(remoteDir: string, signal: AbortSignal): Promise<WorkerAnswer> {
    if (this.exited !== undefined) return Promise.reject(new ListingError(this.exited));
    if (this.pending !== undefined || !this.started) return Promise.reject(new Error('ssh worker is busy'));
    const answer = new Promise<WorkerAnswer>((resolve, reject) => {
      this.pending = { resolve, reject };
    });
    this.child.stdin.write(`${remoteDir}\n`);
    return raceAbort(answer, signal, () => this.kill());
  }

  kill(): void {
    if (this.exited === undefined) this.child.kill('SIGTERM');
  }

  /** Ends the remote loop (end of input); kills the client if it lingers. */
  async close(): Promise<void> {
    if (this.exited === undefined) {
      if (this.pending === undefined) this.child.stdin.end();
      else this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), KILL_GRACE_MS);
      await this.closed;
      clearTimeout(timer);
    }
  }
}

/** Idle workers for reuse; the walker bounds how many are busy at once. */
class WorkerPool {
  private readonly idle: SshWorker[] = [];
  private readonly all = new Set<SshWorker>();

  constructor(
    private readonly master: SshMaster,
    private readonly program: string,
  ) {}

  async acquire(signal: AbortSignal): Promise<SshWorker> {
    for (;;) {
      const worker = this.idle.pop();
      if (worker === undefined) break;
      if (worker.alive) return worker;
      this.all.delete(worker);
    }
    // A master that died since (a dropped connection) is noticed here and reconnected once.
    for (let attempt = 0; ; attempt++) {
      const dir = await this.master.connect(signal);
      const worker = new SshWorker(this.program, this.master.shellArgs(dir), dir);
      this.all.add(worker);
      try {
        await worker.start(signal);
        return worker;
      } catch (e) {
        this.all.delete(worker);
        await worker.close();
        if (signal.aborted) throw e;
        if (!(await this.master.recover(dir)) || attempt > 0) {
          throw new ListingError(`ssh session did not start: ${coerceError(e).message}`);
        }
      }
    }
  }

  release(worker: SshWorker, healthy: boolean): void {
    if (healthy && worker.alive) {
      this.idle.push(worker);
      return;
    }
    this.all.delete(worker);
    if (!healthy) worker.kill();
    void worker.close().then(() => this.master.recover(worker.masterDir));
  }

  async closeAll(): Promise<void> {
    const workers = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    await Promise.all(workers.map((worker) => worker.close()));
  }
}

export class SshLister implements SiteLister {
  readonly display: string;
  private readonly location: SshLocation;
  private readonly settings: Required<Omit<SshListerOptions, 'identity'>> & { identity?: string };

  /** Throws InputError AUDIT_BAD_STORAGE for a malformed URL or ssh option. */
  constructor(storage: string, options: SshListerOptions = {}) {
    const location = parseStorageUrl(storage);
    if (location.scheme !== 'ssh')
      throw new Error(`SshLister needs an ssh:// URL, not ${location.scheme}://`);
    for (const option of options.sshOptions ?? []) {
      if (hasControlCharacter(option) || option.startsWith('-') || !option.includes('=')) {
        throw new InputError(
          'AUDIT_BAD_SSH_OPTION',
          `ssh option ${JSON.stringify(option)} is not of the form Name=value (write it without "-o").`,
        );
      }
    }
    if (
      options.identity !== undefined &&
      (options.identity === '' || hasControlCharacter(options.identity))
    ) {
      throw new InputError('AUDIT_BAD_SSH_OPTION', 'sshIdentity must be the path of a private key file.');
    }
    this.location = location;
    this.display = redactStorage(storage);
    this.settings = {
      ssh: options.ssh ?? 'ssh',
      sshOptions: [...(options.sshOptions ?? [])],
      controlDir: options.controlDir ?? os.tmpdir(),
      connectTimeoutSeconds: options.connectTimeoutSeconds ?? 10,
      controlPersistSeconds: options.controlPersistSeconds ?? 600,
      ...(options.identity === undefined ? {} : { identity: options.identity }),
    };
  }

  async list(options: ListOptions): Promise<ListingResult> {
    return this.listWith((listDirectory) => listDirectory, options);
  }

  /** Like list, with the per-directory function wrapped (tests inject failures this way). */
  async listWith(
    wrap: (listDirectory: ListDirectory) => ListDirectory,
    options: ListOptions,
  ): Promise<ListingResult> {
    const roots = options.directories.map((directory) => topLevelSitePath(this.location, directory));
    const master = new SshMaster(this.location, {
      ...this.settings,
      killGraceMs: KILL_GRACE_MS,
      unreachable: (failure) => masterUnreachable(this.display, failure),
    });
    const pool = new WorkerPool(master, this.settings.ssh);
    try {
      await master.ensure(options.signal);
      const timeout = AbortSignal.timeout(options.timeoutSeconds * 1000);
      let probe: ChildResult;
      try {
        probe = await master.remote(
          `if [ -d ${shQuote(this.location.path)} ]; then exit 0; else exit ${REMOTE_ABSENT}; fi\n`,
          options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
        );
      } catch (e) {
        if (options.signal?.aborted) throw e;
        throw unreachable(this.display, `no answer within ${options.timeoutSeconds} s to a first command.`);
      }
      if (probe.code === REMOTE_ABSENT) {
        throw unreachable(
          this.display,
          `${this.location.path} is not a directory on ${this.location.host}; check the site's storage URL.`,
        );
      }
      if (probe.code !== 0) {
        throw unreachable(
          this.display,
          `cannot run commands: ssh ${howItEnded(probe)}: ${summarize(probe.stderr, SUMMARY)}.`,
        );
      }
      const listDirectory: ListDirectory = (sitePath, signal) => this.listDirectory(pool, sitePath, signal);
      return await walkSite({ ...options, roots, listDirectory: wrap(listDirectory) });
    } finally {
      await pool.closeAll();
      await master.close();
    }
  }

  private async listDirectory(
    pool: WorkerPool,
    sitePath: string,
    signal: AbortSignal,
  ): Promise<DirectoryListing> {
    const remoteDir = toStoragePath(this.location, sitePath);
    if (hasControlCharacter(remoteDir)) {
      throw new ListingError('the path holds a control character', { permanent: true });
    }
    const worker = await pool.acquire(signal);
    let healthy = false;
    let answer: WorkerAnswer;
    try {
      answer = await worker.list(remoteDir, signal);
      healthy = true;
    } finally {
      pool.release(worker, healthy);
    }
    if (answer.status === REMOTE_ABSENT) throw new ListingError('does not exist', { permanent: true });
    if (answer.status === REMOTE_NOT_DIRECTORY)
      throw new ListingError('not a directory', { permanent: true });
    if (answer.status === 0) {
      const parsed = parseFindRecords(answer.records, sitePath);
      if (parsed.ok) return { entries: parsed.entries };
      throw new ListingError(parsed.reason);
    }
    if (/Permission denied/.test(answer.message))
      throw new ListingError('permission denied', { permanent: true });
    throw new ListingError(`find exited with ${answer.status}: ${answer.message || '(no message)'}`);
  }
}
