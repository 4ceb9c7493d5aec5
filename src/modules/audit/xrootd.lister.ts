/**
 * SiteLister for `root://host[:port]//path` sites, on the real `xrdfs` client. Sessions are
 * long-lived: up to `concurrency` interactive `xrdfs root://host:port` processes, each fed one
 * command at a time on stdin, so a listing of any size starts a handful of processes, not one per
 * directory or subtree.
 *
 * How xrdfs 5.5 behaves without a terminal (found by experiment): it still prints its prompt
 * `[host:port] / > ` on stdout, then echoes the command line it read, then the answer, then the
 * next prompt; errors (`[ERROR] Server responded with an error: [3010] …`, `[!] Some of the
 * requests failed`) go to stderr. So the process runs under `sh -c 'exec xrdfs URL 2>&1'` (both
 * streams in order on one pipe) and an answer is what lies between the echoed line and the next
 * prompt. TERM=dumb keeps readline from wrapping a long echoed line (it scrolls it with carriage
 * returns instead of newlines), INPUTRC=/dev/null ignores the user's key bindings, HOME points to
 * a scratch directory (xrdfs writes its command history there) and TZ=UTC makes the printed times
 * UTC whatever the client version does with the zone. A session that times out, dies or answers
 * out of turn is killed; a fresh one replaces it. Sessions are replaced after `recycleAfter`
 * commands, as xrdfs keeps its history in memory.
 *
 * Below the top-level directories, a directory the walk reaches is listed whole with `ls -R -l
 * <dir>` in a session (xrdfs 5.5 pipelines the requests of a level over its connection: far fewer
 * round trips and far less CPU than one `ls -l` per directory), at most `subtreeSessions` at once.
 * The answer is parsed as it arrives (XrdfsSubtreeReader) and handed to the walk with the
 * directory (`below`), which checks and writes the whole subtree at once: memory holds only the
 * subtrees being read, and the dump is written while other subtrees are still listed.
 * `ls -R` reports a failure only as `[!] Some of the requests failed` (no path, and the directory
 * it could not read looks empty): any line that is not an entry below the directory, a dead
 * session or running past half the attempt's bound discards the subtree, which is then listed one
 * directory at a time with `ls -l`, naming each unlisted directory and its reason, with the
 * walker's retries. A subtree of more than CHUNK_MAX_ENTRIES entries is abandoned (its session
 * ends) and its children are tried instead.
 *
 * Why sessions, not an `xrdfs URL ls -R` process per subtree (the previous design), measured on
 * the 200,000-file bench on 2 CPUs: each spawn cost this process ~6 ms of CPU (0.9 s for 141
 * subtrees), and every xrdfs start resolves the machine's own addresses by reverse DNS (a static
 * initializer of libXrdUtils); with several starting at once a lost DNS packet costs the
 * resolver's 5 s timeout, the "stalls when 8 processes connect". Sessions start once, and the pool
 * gives a waiter whichever session is ready first, so a slow start delays nobody while another
 * session is up. Why not the walk's breadth-first order over cached subtrees (also the previous
 * design): it reached the 20,000 leaf directories only after every subtree was listed, leaving
 * ~0.6 s of parsing and writing to the end and the whole tree in memory meanwhile. What remains is
 * CPU: xrdfs formats each entry (~1.6 s for the tree, as for the anchor `xrdfs ls -R -l`), the
 * server stats each entry (~1.1 s), this process parses and writes (~0.6 s); on 2 CPUs the
 * listing cannot take less than half their sum.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { UnavailableError, coerceError } from '../../core/errors.js';
import type { ListOptions, SiteLister } from './audit.ports.js';
import type { DumpEntry, ListingResult } from './audit.types.js';
import { ListingError, walkSite, type DirectoryListing, type ListDirectory } from './site-walker.js';
import {
  XrdfsSubtreeReader,
  parseStorageUrl,
  parseXrdfsListing,
  parseXrdfsStat,
  quoteXrdfsArgument,
  redactStorage,
  toStoragePath,
  topLevelSitePath,
  xrootdEndpoint,
  type StorageLocation,
  type SubtreeListing,
} from './storage-url.parser.js';
import { abortReason, raceAbort } from '../../core/lifecycle/abort.js';

type RootLocation = Extract<StorageLocation, { scheme: 'root' }>;

export interface XrootdListerOptions {
  /** xrdfs program; default `xrdfs`. */
  xrdfs?: string;
  /** Commands one session serves before it is replaced; default 10,000. */
  recycleAfter?: number;
  /** Sessions that run `ls -R` at once (never more than the listing's concurrency); default 2 per CPU. */
  subtreeSessions?: number;
}

/** `[host:port] / > `; the host may be `[::1]:1094`. */
const PROMPT = /^\[[^\n]*\] \/ > $/;
const KILL_GRACE_MS = 2000;
/** Kept from a dead session's output for the message. */
const LAST_OUTPUT = 400;
/** Entries one `ls -R` may print before it is abandoned for its children (xrdfs holds them all too). */
const CHUNK_MAX_ENTRIES = 100_000;
/**
 * `ls -R` at once, unless set: each keeps an xrdfs formatting every entry and this process parsing
 * it, so beyond about two per local CPU they only contend (2-CPU test machine: 3 or 4 fastest, 6
 * and 8 no faster).
 */
function defaultSubtreeSessions(): number {
  return 2 * os.availableParallelism();
}

function tail(text: string): string {
  const trimmed = text.replace(/\0/g, '').trim();
  return trimmed.length > LAST_OUTPUT ? `…${trimmed.slice(-LAST_OUTPUT)}` : trimmed || '(no output)';
}

/** Where an answer's text goes: kept whole for `run`, handed on line by line for `stream`. */
type Sink = (text: string) => void;

interface Pending {
  resolve: () => void;
  reject: (error: Error) => void;
  sink: Sink;
  /** Whether the echoed command line has gone by. */
  echoed: boolean;
}

/** One interactive xrdfs process. */
export class XrdfsSession {
  private readonly child: ChildProcessByStdio<Writable, Readable, null>;
  /** Before the first prompt, all output; then what follows the last newline of the answer. */
  private buffer = '';
  private promptText: string | undefined;
  private pending: Pending | undefined;
  /** Output events so far: tells whether more arrived after a prompt-like ending. */
  private received = 0;
  /** The last two pieces of output, for the message when xrdfs dies. */
  private recent: [string, string] = ['', ''];
  private exited: string | undefined;
  private readonly closed: Promise<void>;
  private readonly ready: Promise<void>;
  commands = 0;

  constructor(program: string, endpoint: string, env: NodeJS.ProcessEnv) {
    // The shell only joins stderr to stdout, in order; the program and URL are arguments, never parsed.
    this.child = spawn('/bin/sh', ['-c', 'exec "$0" "$1" 2>&1', program, endpoint], {
      env,
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    this.child.stdin.on('error', () => undefined);
    this.child.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.child.once('close', () => resolve()));
    this.ready = new Promise<void>((resolve, reject) => {
      this.pending = { resolve, reject, sink: () => undefined, echoed: true };
    });
    this.ready.catch(() => undefined);
    // The decoder keeps a character split between two reads whole.
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (text: string) => this.onData(text));
    this.child.once('close', (code, signal) => {
      const output = this.promptText === undefined ? this.buffer : this.recent.join('');
      this.exited = `xrdfs ${code === null ? `was killed by ${signal ?? 'a signal'}` : `exited with ${code}`}: ${tail(output)}`;
      const pending = this.pending;
      this.pending = undefined;
      pending?.reject(new ListingError(this.exited));
    });
  }

  get alive(): boolean {
    return this.exited === undefined;
  }

  private onData(text: string): void {
    this.received++;
    this.recent = [this.recent[1], text];
    if (this.promptText === undefined) {
      // The first prompt: the last line printed before the first command (warnings may precede it).
      this.buffer += text;
      const last = this.buffer.slice(this.buffer.lastIndexOf('\n') + 1);
      if (PROMPT.test(last)) {
        this.promptText = last;
        this.buffer = '';
        const pending = this.pending;
        this.pending = undefined;
        pending?.resolve();
      } else if (this.buffer.length > 65536) {
        this.kill();
      }
      return;
    }
    const pending = this.pending;
    if (pending === undefined) {
      // Output out of turn: the session cannot be trusted to delimit answers any more.
      this.kill();
      return;
    }
    let rest = this.buffer + text;
    if (!pending.echoed) {
      const echoEnd = rest.indexOf('\n');
      if (echoEnd < 0) {
        this.buffer = rest;
        return;
      }
      rest = rest.slice(echoEnd + 1);
      pending.echoed = true;
    }
    // Whole lines belong to the answer: the prompt that ends it has no newline.
    const cut = rest.lastIndexOf('\n') + 1;
    this.buffer = cut === 0 ? rest : rest.slice(cut);
    if (cut > 0) pending.sink(rest.slice(0, cut));
    if (this.buffer !== this.promptText) return;
    // The prompt is last, and xrdfs now waits for input; unless more arrives (a name that only
    // looked like a prompt), the answer is complete.
    const mark = this.received;
    setImmediate(() => {
      if (this.pending !== pending || this.received !== mark) return;
      this.buffer = '';
      this.pending = undefined;
      pending.resolve();
    });
  }

  /** Resolves once the first prompt arrived; rejects if xrdfs exits first or `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    await raceAbort(this.ready, signal, () => this.kill());
  }

  /** Runs one command line and resolves with its answer (stdout and stderr, the echoed line removed). */
  async run(command: string, signal: AbortSignal): Promise<string> {
    const parts: string[] = [];
    await this.stream(command, signal, (text) => parts.push(text));
    return parts.join('');
  }

  /**
   * Runs one command line and hands its answer to `sink` as it arrives, in pieces of whole lines
   * (the echoed line removed); resolves once the answer is complete.
   */
  stream(command: string, signal: AbortSignal, sink: Sink): Promise<void> {
    if (this.exited !== undefined) return Promise.reject(new ListingError(this.exited));
    if (this.pending !== undefined || this.promptText === undefined) {
      return Promise.reject(new Error('xrdfs session is busy'));
    }
    const answer = new Promise<void>((resolve, reject) => {
      this.pending = { resolve, reject, sink, echoed: false };
    });
    this.commands++;
    this.child.stdin.write(`${command}\n`);
    return raceAbort(answer, signal, () => this.kill());
  }

  kill(): void {
    if (this.exited === undefined) this.child.kill('SIGKILL');
  }

  /** Asks xrdfs to exit; kills it if it has not within the grace period. */
  async close(): Promise<void> {
    if (this.exited === undefined) {
      if (this.pending === undefined && this.promptText !== undefined) this.child.stdin.end('exit\n');
      else this.child.kill('SIGKILL');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), KILL_GRACE_MS);
      await this.closed;
      clearTimeout(timer);
    }
  }
}

interface Waiter {
  resolve: (session: XrdfsSession) => void;
  reject: (error: Error) => void;
}

/**
 * Up to `max` sessions, started when someone waits and none is idle. A waiter takes whichever
 * session is free first, not the one started for it: a session slow to start (a lost DNS packet
 * costs xrdfs 5 s at start-up on the test machine) delays nobody while others are up.
 */
class SessionPool {
  private readonly idle: XrdfsSession[] = [];
  private readonly all = new Set<XrdfsSession>();
  private waiters: Waiter[] = [];
  private starting = 0;
  private closing = false;

  constructor(
    private readonly create: () => XrdfsSession,
    private readonly recycleAfter: number,
    private readonly max: number,
    /** A start that takes longer fails (xrdfs retries an unreachable host for minutes). */
    private readonly startTimeoutMs: number,
  ) {}

  acquire(signal: AbortSignal): Promise<XrdfsSession> {
    if (signal.aborted) return Promise.reject(abortReason(signal));
    for (;;) {
      const session = this.idle.pop();
      if (session === undefined) break;
      if (session.alive) return Promise.resolve(session);
      this.all.delete(session);
    }
    return new Promise<XrdfsSession>((resolve, reject) => {
      const onAbort = () => {
        this.waiters = this.waiters.filter((other) => other !== waiter);
        reject(abortReason(signal));
      };
      const waiter: Waiter = {
        resolve: (session) => {
          signal.removeEventListener('abort', onAbort);
          resolve(session);
        },
        reject: (error) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
      this.fill();
    });
  }

  /** Starts sessions ahead of demand (no more than `max` in all). */
  warm(count: number): void {
    while (this.all.size < Math.min(count, this.max)) this.spawn();
  }

  /** Starts sessions for the waiters no starting session will serve. */
  private fill(): void {
    while (!this.closing && this.waiters.length > this.starting && this.all.size < this.max) this.spawn();
  }

  private spawn(): void {
    const session = this.create();
    this.all.add(session);
    this.starting++;
    session.start(AbortSignal.timeout(this.startTimeoutMs)).then(
      () => {
        this.starting--;
        this.offer(session);
      },
      (e: unknown) => {
        this.starting--;
        this.all.delete(session);
        void session.close();
        if (this.closing) return;
        // Those waiting learn why, unless a session already up or starting can serve them.
        if (this.all.size === 0) {
          const waiters = this.waiters;
          this.waiters = [];
          const error = new ListingError(`xrdfs session did not start: ${coerceError(e).message}`);
          for (const waiter of waiters) waiter.reject(error);
        } else {
          this.fill();
        }
      },
    );
  }

  private offer(session: XrdfsSession): void {
    if (this.closing) {
      this.all.delete(session);
      void session.close();
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter.resolve(session);
    else this.idle.push(session);
  }

  /** Back to the pool, or ended when it failed, died or served its share. */
  release(session: XrdfsSession, healthy: boolean): void {
    if (healthy && session.alive && session.commands < this.recycleAfter) {
      this.offer(session);
      return;
    }
    this.all.delete(session);
    if (!healthy) session.kill();
    void session.close();
    this.fill();
  }

  async closeAll(): Promise<void> {
    this.closing = true;
    const sessions = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    await Promise.all(sessions.map((session) => session.close()));
  }
}

/** A counting semaphore whose waiters give up when their signal aborts. */
class Slots {
  private waiters: Array<() => void> = [];

  constructor(private free: number) {}

  async acquire(signal: AbortSignal): Promise<void> {
    while (this.free === 0) {
      signal.throwIfAborted();
      await new Promise<void>((resolve) => {
        const wake = () => {
          signal.removeEventListener('abort', wake);
          this.waiters = this.waiters.filter((waiter) => waiter !== wake);
          resolve();
        };
        this.waiters.push(wake);
        signal.addEventListener('abort', wake, { once: true });
      });
    }
    signal.throwIfAborted();
    this.free--;
  }

  release(): void {
    this.free++;
    this.waiters[0]?.();
  }
}

/** Whether `directory` or one above it is in `subtrees`. */
function inside(subtrees: ReadonlySet<string>, directory: string): boolean {
  for (let at = directory; at !== ''; at = at.slice(0, at.lastIndexOf('/'))) {
    if (subtrees.has(at)) return true;
  }
  return false;
}

export class XrootdLister implements SiteLister {
  readonly display: string;
  private readonly location: RootLocation;
  private readonly program: string;
  private readonly recycleAfter: number;
  private readonly subtreeSessions: number;

  /** Throws InputError AUDIT_BAD_STORAGE for a malformed or non-root:// URL. */
  constructor(storage: string, options: XrootdListerOptions = {}) {
    const location = parseStorageUrl(storage);
    if (location.scheme !== 'root')
      throw new Error(`XrootdLister needs a root:// URL, not ${location.scheme}://`);
    this.location = location;
    this.display = redactStorage(storage);
    this.program = options.xrdfs ?? 'xrdfs';
    this.recycleAfter = options.recycleAfter ?? 10_000;
    this.subtreeSessions = Math.max(1, Math.floor(options.subtreeSessions ?? defaultSubtreeSessions()));
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
    const home = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'cst-xrdfs-'));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TERM: 'dumb',
      LC_ALL: 'C.UTF-8',
      TZ: 'UTC',
      INPUTRC: '/dev/null',
      HOME: home,
    };
    const endpoint = xrootdEndpoint(this.location);
    // Nonsense is refused by the walk, after the probe.
    const concurrency = Number.isInteger(options.concurrency) ? Math.max(1, options.concurrency) : 1;
    const subtreeSessions = Math.min(concurrency, this.subtreeSessions);
    const pool = new SessionPool(
      () => new XrdfsSession(this.program, endpoint, env),
      this.recycleAfter,
      concurrency,
      Math.max(1, options.timeoutSeconds) * 1000,
    );
    // Subtrees `ls -R` failed on: below them, directories are listed one at a time.
    const failed = new Set<string>();
    const slots = new Slots(subtreeSessions);
    const topLevel = new Set(roots.map((root) => root.replace(/\/+$/, '')));
    // Half the attempt's bound: a subtree that fails late still leaves time for its own `ls -l`.
    const subtreeTimeoutMs = (options.timeoutSeconds * 1000) / 2;
    try {
      // The sessions the subtrees need start while the probe runs.
      pool.warm(subtreeSessions);
      await this.probe(pool, options);
      const listDirectory: ListDirectory = async (sitePath, signal) => {
        if (!topLevel.has(sitePath) && !inside(failed, sitePath)) {
          let outcome: SubtreeListing;
          try {
            await slots.acquire(signal);
            try {
              outcome = await this.listSubtree(pool, sitePath, subtreeTimeoutMs, signal);
            } finally {
              slots.release();
            }
          } catch (e) {
            // The attempt timed out or the walk ends: a retry goes directory by directory.
            failed.add(sitePath);
            throw e;
          }
          if (outcome.ok) return { entries: outcome.listings.get(sitePath) ?? [], below: outcome.listings };
          // Too large: its children are tried as subtrees; failed: listed one directory at a time.
          if (!outcome.tooLarge) failed.add(sitePath);
        }
        return this.listDirectory(pool, sitePath, signal);
      };
      return await walkSite({ ...options, roots, listDirectory: wrap(listDirectory) });
    } finally {
      await pool.closeAll();
      await fs.promises.rm(home, { recursive: true, force: true });
    }
  }

  private unreachable(message: string): UnavailableError {
    return new UnavailableError('AUDIT_SITE_UNREACHABLE', `Storage ${this.display}: ${message}`, {
      details: { storage: this.display },
    });
  }

  /** The storage root must be a directory the server knows: otherwise the whole site is unreachable. */
  private async probe(pool: SessionPool, options: ListOptions): Promise<void> {
    const timeout = AbortSignal.timeout(Math.max(1, options.timeoutSeconds) * 1000);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    let answer: string;
    try {
      const session = await pool.acquire(signal);
      let healthy = false;
      try {
        answer = await session.run(`stat ${quoteXrdfsArgument(this.location.path)}`, signal);
        healthy = true;
      } finally {
        pool.release(session, healthy);
      }
    } catch (e) {
      if (options.signal?.aborted) throw e;
      const reason = timeout.aborted
        ? `no answer within ${options.timeoutSeconds} s`
        : coerceError(e).message;
      throw this.unreachable(
        `xrdfs cannot reach the server (${reason}); check the URL, and that xrootd-client is installed.`,
      );
    }
    const stat = parseXrdfsStat(answer);
    if (!stat.ok) {
      throw this.unreachable(
        stat.missing
          ? `${this.location.path} does not exist on the server (${stat.reason}); check the site's storage URL.`
          : `cannot stat ${this.location.path}: ${stat.reason}.`,
      );
    }
    if (!stat.directory)
      throw this.unreachable(`${this.location.path} is not a directory; check the site's storage URL.`);
  }

  /**
   * `ls -R -l` of one directory in a session, read as it arrives. Anything short of a clean,
   * complete listing within `timeoutMs` is a failed outcome; only the attempt's end rejects.
   */
  private async listSubtree(
    pool: SessionPool,
    sitePath: string,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<SubtreeListing> {
    const storagePath = toStoragePath(this.location, sitePath);
    const reader = new XrdfsSubtreeReader(storagePath, CHUNK_MAX_ENTRIES, {
      storage: this.location.path,
      site: this.location.namespace,
    });
    const session = await pool.acquire(signal);
    // A listing too large to hold, or past its bound, ends the session: xrdfs cannot be interrupted.
    const tooLarge = new AbortController();
    const timeout = AbortSignal.timeout(timeoutMs);
    let healthy = false;
    try {
      await session.stream(
        `ls -R -l ${quoteXrdfsArgument(storagePath)}`,
        AbortSignal.any([signal, tooLarge.signal, timeout]),
        (text) => {
          // After a failed line the rest is ignored, but read to the prompt: the session stays usable.
          if (!reader.push(text) && reader.tooLarge) tooLarge.abort();
        },
      );
      healthy = true;
    } catch (e) {
      if (signal.aborted) throw abortReason(signal);
      if (!reader.tooLarge) {
        const reason = timeout.aborted
          ? `no answer within ${Math.round(timeoutMs / 1000)} s`
          : coerceError(e).message;
        return { ok: false, reason, tooLarge: false };
      }
    } finally {
      pool.release(session, healthy);
    }
    return reader.finish();
  }

  private async listDirectory(
    pool: SessionPool,
    sitePath: string,
    signal: AbortSignal,
  ): Promise<DirectoryListing> {
    const storagePath = toStoragePath(this.location, sitePath);
    const session = await pool.acquire(signal);
    let healthy = false;
    let answer: string;
    try {
      answer = await session.run(`ls -l ${quoteXrdfsArgument(storagePath)}`, signal);
      healthy = true;
    } finally {
      pool.release(session, healthy);
    }
    const parsed = parseXrdfsListing(answer, storagePath, 'utc');
    if (!parsed.ok) throw new ListingError(parsed.reason, { permanent: parsed.permanent });
    return { entries: parsed.entries.map((entry) => this.toSite(entry)) };
  }

  /** The entry with its site path instead of its storage path. */
  private toSite(entry: DumpEntry): DumpEntry {
    return { ...entry, path: `${this.location.namespace}${entry.path.slice(this.location.path.length)}` };
  }
}
