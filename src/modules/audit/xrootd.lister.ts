/**
 * SiteLister for `root://host[:port]//path` sites, on the real `xrdfs` client. Sessions are
 * long-lived: `concurrency` interactive `xrdfs root://host:port` processes, each fed one
 * `ls -l <dir>` at a time on stdin, so a listing of thousands of directories starts a handful of
 * processes, not one per directory.
 *
 * How xrdfs 5.5 behaves without a terminal (found by experiment): it still prints its prompt
 * `[host:port] / > ` on stdout, then echoes the command line it read, then the answer, then the
 * next prompt; errors (`[ERROR] Server responded with an error: [3010] …`) go to stderr. So the
 * process runs under `sh -c 'exec xrdfs URL 2>&1'` (both streams in order on one pipe) and an
 * answer is what lies between the echoed line and the next prompt. TERM=dumb keeps readline from
 * wrapping a long echoed line (it scrolls it with carriage returns instead of newlines),
 * INPUTRC=/dev/null ignores the user's key bindings, HOME points to a scratch directory (xrdfs
 * writes its command history there) and TZ=UTC makes the printed times UTC whatever the client
 * version does with the zone. A session that times out, dies or answers out of turn is killed;
 * the next attempt starts a fresh one. Sessions are replaced after RECYCLE_AFTER commands, as
 * xrdfs keeps its history in memory.
 *
 * Below the top-level directories, a directory the walk reaches is first listed whole with one
 * `xrdfs URL ls -R -l <dir>` process (xrdfs 5.5 sends all its requests at once over one
 * connection: far fewer round trips and far less CPU than one `ls -l` per directory). Its output
 * (one `ls -l` line per entry, full paths, no grouping) is kept per directory and handed to the
 * walk as it reaches each one, so streaming, halting, progress and the dump stay the walker's.
 * `ls -R` only reports a failure as `[!] Some of the requests failed` (no path, exit status 0):
 * any line that is not an entry, a non-zero exit or running past half the attempt's bound discards
 * the whole subtree's output, and that subtree is then listed one directory at a time through the
 * sessions, which name each unlisted directory and its reason, with the walker's retries.
 * Memory stays bounded: a subtree with more than CHUNK_MAX_ENTRIES entries is abandoned (its
 * children are tried instead), and no subtree is started while CACHE_MAX_ENTRIES are held.
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
  parseStorageUrl,
  parseXrdfsListLine,
  parseXrdfsListing,
  parseXrdfsStat,
  quoteXrdfsArgument,
  redactStorage,
  toStoragePath,
  topLevelSitePath,
  xrootdEndpoint,
  type StorageLocation,
} from './storage-url.parser.js';

type RootLocation = Extract<StorageLocation, { scheme: 'root' }>;

export interface XrootdListerOptions {
  /** xrdfs program; default `xrdfs`. */
  xrdfs?: string;
  /** Commands one session serves before it is replaced; default 10,000. */
  recycleAfter?: number;
}

/** `[host:port] / > `; the host may be `[::1]:1094`. */
const PROMPT = /^\[[^\n]*\] \/ > $/;
const KILL_GRACE_MS = 2000;
/** Kept from a dead session's output for the message. */
const LAST_OUTPUT = 400;
/** Entries one `ls -R` may print before it is abandoned for its children (xrdfs holds them all too). */
const CHUNK_MAX_ENTRIES = 100_000;
/** Entries held for directories the walk has not reached; beyond it, no further `ls -R` starts. */
const CACHE_MAX_ENTRIES = 400_000;
/**
 * `ls -R` processes at once: with 8 fresh connections at once, xrdfs 5.5 against a local xrootd
 * often stalls about 5 s (measured; 4 never did), more than the listing itself.
 */
const SUBTREE_PROCESSES = 4;

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException('The operation was aborted', 'AbortError');
}

function tail(text: string): string {
  const trimmed = text.replace(/\0/g, '').trim();
  return trimmed.length > LAST_OUTPUT ? `…${trimmed.slice(-LAST_OUTPUT)}` : trimmed || '(no output)';
}

/** Whether the chunks, taken together, end with `suffix`. */
function endsWith(chunks: readonly Buffer[], suffix: Buffer): boolean {
  let remaining = suffix.length;
  for (let i = chunks.length - 1; i >= 0 && remaining > 0; i--) {
    const chunk = chunks[i] as Buffer;
    const take = Math.min(remaining, chunk.length);
    if (suffix.compare(chunk, chunk.length - take, chunk.length, remaining - take, remaining) !== 0)
      return false;
    remaining -= take;
  }
  return remaining === 0;
}

interface Pending {
  resolve: (answer: string) => void;
  reject: (error: Error) => void;
}

/** One interactive xrdfs process. */
export class XrdfsSession {
  private readonly child: ChildProcessByStdio<Writable, Readable, null>;
  private chunks: Buffer[] = [];
  /** `\n` and the prompt, as bytes, once known. */
  private prompt: Buffer | undefined;
  private promptText = '';
  private pending: Pending | undefined;
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
      this.pending = { resolve: () => resolve(), reject };
    });
    this.ready.catch(() => undefined);
    this.child.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    this.child.once('close', (code, signal) => {
      const output = Buffer.concat(this.chunks).toString('utf8');
      this.exited = `xrdfs ${code === null ? `was killed by ${signal ?? 'a signal'}` : `exited with ${code}`}: ${tail(output)}`;
      const pending = this.pending;
      this.pending = undefined;
      pending?.reject(new ListingError(this.exited));
    });
  }

  get alive(): boolean {
    return this.exited === undefined;
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    if (this.prompt === undefined) {
      // The first prompt: the last line printed before the first command (warnings may precede it).
      const text = Buffer.concat(this.chunks).toString('utf8');
      const last = text.slice(text.lastIndexOf('\n') + 1);
      if (PROMPT.test(last)) {
        this.promptText = last;
        this.prompt = Buffer.from(`\n${last}`);
        this.chunks = [];
        const pending = this.pending;
        this.pending = undefined;
        pending?.resolve('');
      } else if (text.length > 65536) {
        this.kill();
      }
      return;
    }
    if (this.pending === undefined) {
      // Output out of turn: the session cannot be trusted to delimit answers any more.
      this.kill();
      return;
    }
    if (!endsWith(this.chunks, this.prompt)) return;
    // The prompt is last, and xrdfs now waits for input; unless more arrives (a name that only
    // looked like a prompt), the answer is complete.
    const count = this.chunks.length;
    setImmediate(() => {
      if (this.pending === undefined || this.chunks.length !== count) return;
      const text = Buffer.concat(this.chunks).toString('utf8');
      this.chunks = [];
      const pending = this.pending;
      this.pending = undefined;
      const echoEnd = text.indexOf('\n');
      pending.resolve(text.slice(echoEnd + 1, text.length - this.promptText.length));
    });
  }

  /** Resolves once the first prompt arrived; rejects if xrdfs exits first or `signal` aborts. */
  async start(signal: AbortSignal): Promise<void> {
    await this.withSignal(this.ready, signal);
  }

  /** Runs one command line and resolves with its answer (stdout and stderr, the echoed line removed). */
  run(command: string, signal: AbortSignal): Promise<string> {
    if (this.exited !== undefined) return Promise.reject(new ListingError(this.exited));
    if (this.pending !== undefined || this.prompt === undefined) {
      return Promise.reject(new Error('xrdfs session is busy'));
    }
    const answer = new Promise<string>((resolve, reject) => {
      this.pending = { resolve, reject };
    });
    this.commands++;
    this.child.stdin.write(`${command}\n`);
    return this.withSignal(answer, signal);
  }

  private withSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
    if (signal.aborted) {
      this.kill();
      return Promise.reject(abortReason(signal));
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        this.kill();
        reject(abortReason(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(coerceError(error));
        },
      );
    });
  }

  kill(): void {
    if (this.exited === undefined) this.child.kill('SIGKILL');
  }

  /** Asks xrdfs to exit; kills it if it has not within the grace period. */
  async close(): Promise<void> {
    if (this.exited === undefined) {
      if (this.pending === undefined && this.prompt !== undefined) this.child.stdin.end('exit\n');
      else this.child.kill('SIGKILL');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), KILL_GRACE_MS);
      await this.closed;
      clearTimeout(timer);
    }
  }
}

/** Idle sessions for reuse; the walker bounds how many are busy at once. */
class SessionPool {
  private readonly idle: XrdfsSession[] = [];
  private readonly all = new Set<XrdfsSession>();

  constructor(
    private readonly create: () => XrdfsSession,
    private readonly recycleAfter: number,
  ) {}

  async acquire(signal: AbortSignal): Promise<XrdfsSession> {
    for (;;) {
      const session = this.idle.pop();
      if (session === undefined) break;
      if (session.alive) return session;
      this.all.delete(session);
    }
    const session = this.create();
    this.all.add(session);
    try {
      await session.start(signal);
    } catch (e) {
      this.all.delete(session);
      await session.close();
      if (signal.aborted) throw e;
      throw new ListingError(`xrdfs session did not start: ${coerceError(e).message}`);
    }
    return session;
  }

  /** Back to the pool, or ended when it failed, died or served its share. */
  release(session: XrdfsSession, healthy: boolean): void {
    if (healthy && session.alive && session.commands < this.recycleAfter) {
      this.idle.push(session);
      return;
    }
    this.all.delete(session);
    if (!healthy) session.kill();
    void session.close();
  }

  async closeAll(): Promise<void> {
    const sessions = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    await Promise.all(sessions.map((session) => session.close()));
  }
}

type SubtreeOutcome =
  | { kind: 'ok'; listings: Map<string, DumpEntry[]>; entries: number }
  | { kind: 'failed'; reason: string }
  | { kind: 'too-large' };

/**
 * Runs `xrdfs URL ls -R -l <directory>` as its own process and groups what it printed by parent
 * directory (storage paths). Anything short of a clean, complete listing is `failed`.
 */
function listSubtree(
  program: string,
  endpoint: string,
  env: NodeJS.ProcessEnv,
  directory: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<SubtreeOutcome> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<SubtreeOutcome>((resolve, reject) => {
    // As for sessions, the shell only joins stderr (where `[!]` and `[ERROR]` go) to stdout.
    const child = spawn(
      '/bin/sh',
      ['-c', 'exec "$0" "$@" 2>&1', program, endpoint, 'ls', '-R', '-l', directory],
      {
        env,
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    const prefix = `${directory}/`;
    const listings = new Map<string, DumpEntry[]>([[directory, []]]);
    const directories = new Set<string>([directory]);
    let entries = 0;
    let partial = '';
    let outcome: SubtreeOutcome | undefined;
    const settle = (value: SubtreeOutcome) => {
      outcome ??= value;
      child.kill('SIGKILL');
    };
    const onLine = (raw: string) => {
      const line = raw.replace(/\r$/, '').replace(/\0/g, '');
      if (line === '' || outcome !== undefined) return;
      if (++entries > CHUNK_MAX_ENTRIES) return settle({ kind: 'too-large' });
      // stderr's `[!]` may land inside a line of stdout when xrdfs flushes a full buffer.
      if (/\[(ERROR|FATAL|!)\]/.test(line)) return settle({ kind: 'failed', reason: line });
      const parsed = parseXrdfsListLine(line, 'utc');
      if (!parsed.ok) return settle({ kind: 'failed', reason: line.startsWith('[') ? line : parsed.problem });
      const slash = parsed.path.lastIndexOf('/');
      const parent = parsed.path.slice(0, slash);
      if (!parsed.path.startsWith(prefix) || slash === parsed.path.length - 1)
        return settle({
          kind: 'failed',
          reason: `xrdfs listed ${JSON.stringify(parsed.path)} outside ${directory}`,
        });
      let siblings = listings.get(parent);
      if (siblings === undefined) listings.set(parent, (siblings = []));
      siblings.push({
        path: parsed.path,
        size: parsed.directory ? 0 : parsed.size,
        mtime: parsed.mtime,
        directory: parsed.directory,
      });
      if (parsed.directory) {
        directories.add(parsed.path);
        if (!listings.has(parsed.path)) listings.set(parsed.path, []);
      }
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    });
    child.on('error', (error) => settle({ kind: 'failed', reason: error.message }));
    const timer = setTimeout(
      () => settle({ kind: 'failed', reason: `no answer within ${Math.round(timeoutMs / 1000)} s` }),
      timeoutMs,
    );
    const onAbort = () => settle({ kind: 'failed', reason: 'aborted' });
    signal.addEventListener('abort', onAbort, { once: true });
    child.once('close', (code, killedBy) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) return reject(abortReason(signal));
      onLine(partial);
      if (outcome === undefined && code !== 0)
        settle({ kind: 'failed', reason: `xrdfs ls -R exited with ${code ?? killedBy}` });
      // A line whose parent was never listed as a directory means the output is not what it seems.
      for (const parent of listings.keys()) {
        if (!directories.has(parent))
          settle({ kind: 'failed', reason: `xrdfs listed entries of ${parent} alone` });
      }
      resolve(outcome ?? { kind: 'ok', listings, entries });
    });
  });
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

/** Listings from `ls -R` the walk has not reached yet, and the subtrees `ls -R` failed on. */
class SubtreeCache {
  private readonly listings = new Map<string, DumpEntry[]>();
  private readonly failed = new Set<string>();
  size = 0;

  add(listings: Map<string, DumpEntry[]>, entries: number): void {
    // A retried directory whose subtree was already held replaces its listings, not adds to them.
    for (const directory of listings.keys()) this.size -= this.listings.get(directory)?.length ?? 0;
    for (const [directory, children] of listings) this.listings.set(directory, children);
    this.size += entries;
  }

  take(directory: string): DumpEntry[] | undefined {
    const children = this.listings.get(directory);
    if (children !== undefined) {
      this.listings.delete(directory);
      this.size -= children.length;
    }
    return children;
  }

  markFailed(directory: string): void {
    this.failed.add(directory);
  }

  /** Whether `directory` or one above it is a subtree `ls -R` failed on. */
  insideFailed(directory: string): boolean {
    for (let at = directory; at !== ''; at = at.slice(0, at.lastIndexOf('/'))) {
      if (this.failed.has(at)) return true;
    }
    return false;
  }
}

export class XrootdLister implements SiteLister {
  readonly display: string;
  private readonly location: RootLocation;
  private readonly program: string;
  private readonly recycleAfter: number;

  /** Throws InputError AUDIT_BAD_STORAGE for a malformed or non-root:// URL. */
  constructor(storage: string, options: XrootdListerOptions = {}) {
    const location = parseStorageUrl(storage);
    if (location.scheme !== 'root')
      throw new Error(`XrootdLister needs a root:// URL, not ${location.scheme}://`);
    this.location = location;
    this.display = redactStorage(storage);
    this.program = options.xrdfs ?? 'xrdfs';
    this.recycleAfter = options.recycleAfter ?? 10_000;
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
    const pool = new SessionPool(() => new XrdfsSession(this.program, endpoint, env), this.recycleAfter);
    const cache = new SubtreeCache();
    const slots = new Slots(Math.min(options.concurrency, SUBTREE_PROCESSES));
    const topLevel = new Set(roots.map((root) => root.replace(/\/+$/, '')));
    // Half the attempt's bound: a subtree that fails late still leaves time for its own `ls -l`.
    const subtreeTimeoutMs = (options.timeoutSeconds * 1000) / 2;
    try {
      await this.probe(pool, options);
      const listDirectory: ListDirectory = async (sitePath, signal) => {
        const storagePath = toStoragePath(this.location, sitePath);
        const cached = cache.take(storagePath);
        if (cached !== undefined) return { entries: cached.map((entry) => this.toSite(entry)) };
        if (!topLevel.has(sitePath) && cache.size < CACHE_MAX_ENTRIES && !cache.insideFailed(storagePath)) {
          let outcome: SubtreeOutcome;
          try {
            await slots.acquire(signal);
            try {
              outcome = await listSubtree(this.program, endpoint, env, storagePath, subtreeTimeoutMs, signal);
            } finally {
              slots.release();
            }
          } catch (e) {
            // The attempt timed out or the walk ends: a retry goes directory by directory.
            cache.markFailed(storagePath);
            throw e;
          }
          if (outcome.kind === 'ok') {
            cache.add(outcome.listings, outcome.entries);
            return { entries: (cache.take(storagePath) ?? []).map((entry) => this.toSite(entry)) };
          }
          if (outcome.kind === 'failed') cache.markFailed(storagePath);
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
