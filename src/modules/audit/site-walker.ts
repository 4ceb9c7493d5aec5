/**
 * The listing engine every SiteLister shares: given a way to list one directory's children, it
 * walks the tree breadth-first with `concurrency` directories in flight, bounds each attempt by
 * `timeoutSeconds` (the attempt's signal is aborted), retries with exponential backoff, and records
 * a directory that still fails as unlisted (its subtree is skipped; the walk goes on).
 *
 * Memory does not grow with the site's files: entries go to the dump file as each directory is
 * listed, through a write stream whose backpressure holds the workers back; only the queue of
 * directories still to list is kept. A lister that lists a whole subtree at once hands it over
 * with the directory (`below`): it is checked directory by directory and written at once, and
 * its directories are not queued.
 */
import { once, setMaxListeners } from 'node:events';
import fs from 'node:fs';
import { InputError, coerceError } from '../../core/errors.js';
import type { DumpEntry, ListingResult, UnlistedDirectory } from './audit.types.js';
import { hasControlCharacter } from './storage-url.parser.js';
import { abortReason } from '../../core/lifecycle/abort.js';

/** The children of one directory, with site paths (`/store/mc/a.root`, no trailing slash). */
export interface DirectoryListing {
  entries: DumpEntry[];
  /**
   * Children of directories below this one, already listed (one recursive listing gives a whole
   * subtree), by directory. The walk takes a subdirectory's children from here instead of listing
   * it, checks them the same way, and writes the subtree at once; a subdirectory missing here is
   * listed as usual.
   */
  below?: ReadonlyMap<string, readonly DumpEntry[]>;
}

/** Lists one directory (its site path); must give up when `signal` aborts. */
export type ListDirectory = (sitePath: string, signal: AbortSignal) => Promise<DirectoryListing>;

/** A failed attempt. `permanent`: another attempt would fail the same way (permission, absence). */
export class ListingError extends Error {
  readonly permanent: boolean;

  constructor(message: string, options: { permanent?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ListingError';
    this.permanent = options.permanent ?? false;
  }
}

export interface WalkOptions {
  /** Site paths of the top-level directories (`/store/mc`); they are listed, not written. */
  roots: readonly string[];
  listDirectory: ListDirectory;
  dumpFile: string;
  concurrency: number;
  retries: number;
  timeoutSeconds: number;
  shouldStop?: () => boolean | Promise<boolean>;
  onProgress?: (progress: { directories: number; files: number; pending: number }) => void;
  signal?: AbortSignal;
  /** Delay before retry n (0-based) is min(maxMs, initialMs × 2^n); default 200 ms, 10 s. */
  backoff?: { initialMs: number; maxMs: number };
}

/** One dump line (with its newline): `path<TAB>size<TAB>mtime`, a directory's path ending in `/`. */
export function formatDumpLine(entry: DumpEntry): string {
  const path = entry.directory && !entry.path.endsWith('/') ? `${entry.path}/` : entry.path;
  const size = entry.directory ? 0 : entry.size;
  return entry.mtime === undefined ? `${path}\t${size}\n` : `${path}\t${size}\t${entry.mtime}\n`;
}

/** Why an entry cannot go into the dump (or undefined). */
function entryProblem(directory: string, entry: DumpEntry): string | undefined {
  const prefix = `${directory}/`;
  const name = entry.path.startsWith(prefix) ? entry.path.slice(prefix.length) : undefined;
  if (name === undefined || name === '' || name.includes('/') || name === '.' || name === '..') {
    return `the listing returned ${JSON.stringify(entry.path)}, which is not an entry of ${directory}`;
  }
  if (hasControlCharacter(name)) {
    return `it holds ${JSON.stringify(name)}, a name with a control character, which a dump cannot represent; rename it`;
  }
  if (name.includes('\uFFFD')) {
    return `it holds ${JSON.stringify(name)}, a name that is not valid UTF-8, which a dump cannot represent; rename it`;
  }
  if (!Number.isSafeInteger(entry.size) || entry.size < 0) {
    return `the listing gave ${JSON.stringify(entry.path)} the size ${entry.size}`;
  }
  if (entry.mtime !== undefined && !Number.isSafeInteger(entry.mtime)) {
    return `the listing gave ${JSON.stringify(entry.path)} the time ${entry.mtime}`;
  }
  return undefined;
}

function checkOptions(options: WalkOptions): void {
  const bad = (message: string) => new InputError('AUDIT_BAD_LISTING_OPTIONS', message);
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1)
    throw bad(`concurrency must be a whole number ≥ 1; got ${options.concurrency}.`);
  if (!Number.isInteger(options.retries) || options.retries < 0)
    throw bad(`retries must be a whole number ≥ 0; got ${options.retries}.`);
  if (!(options.timeoutSeconds > 0) || !Number.isFinite(options.timeoutSeconds))
    throw bad(`timeoutSeconds must be a positive number; got ${options.timeoutSeconds}.`);
}

/** Roots without duplicates and without those inside another root (they would be listed twice). */
function distinctRoots(roots: readonly string[]): string[] {
  const sorted = [...new Set(roots.map((root) => root.replace(/\/+$/, '')))].sort();
  return sorted.filter((root) => !sorted.some((other) => other !== root && root.startsWith(`${other}/`)));
}

/** A FIFO of directory paths that does not copy itself on every shift. */
class PathQueue {
  private items: string[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: string): void {
    this.items.push(item);
  }

  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

type Outcome = { ok: true; listing: DirectoryListing } | { ok: false; reason: string };

/** Why `entries` cannot be the children of `directory` (or undefined). */
function listingProblem(directory: string, entries: readonly DumpEntry[]): string | undefined {
  for (const entry of entries) {
    const problem = entryProblem(directory, entry);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * Lists everything under `roots`, streaming entries to `dumpFile` (overwritten). Rejects only
 * when `signal` aborts, the dump cannot be written, or `shouldStop`/`onProgress` throw; a
 * directory that cannot be listed is a value in `unlisted`.
 */
export async function walkSite(options: WalkOptions): Promise<ListingResult> {
  checkOptions(options);
  options.signal?.throwIfAborted();
  const { listDirectory, retries, shouldStop, onProgress } = options;
  const timeoutMs = options.timeoutSeconds * 1000;
  const backoff = options.backoff ?? { initialMs: 200, maxMs: 10_000 };

  const queue = new PathQueue();
  for (const root of distinctRoots(options.roots)) queue.push(root);
  const unlisted: UnlistedDirectory[] = [];
  let files = 0;
  let directories = 0;
  let bytes = 0;
  let active = 0;
  let stopped = false;
  let halted = false;
  let failure: unknown;
  let waiting: Array<() => void> = [];
  const wake = () => {
    const current = waiting;
    waiting = [];
    for (const resolve of current) resolve();
  };

  // Aborted by the caller's signal or by a fatal failure: ends attempts, backoff sleeps and waits.
  const walk = new AbortController();
  // Every attempt in flight listens on it: more than the default 10 is not a leak.
  setMaxListeners(options.concurrency * 2 + 10, walk.signal);
  const fail = (error: unknown) => {
    failure ??= error;
    stopped = true;
    walk.abort(coerceError(error));
    wake();
  };
  const onCallerAbort = () => fail(abortReason(options.signal as AbortSignal));
  options.signal?.addEventListener('abort', onCallerAbort, { once: true });

  const stream = fs.createWriteStream(options.dumpFile, { flags: 'w' });
  stream.on('error', fail);

  const attempt = async (directory: string): Promise<DirectoryListing> => {
    const controller = new AbortController();
    const onWalkAbort = () => controller.abort(abortReason(walk.signal));
    walk.signal.addEventListener('abort', onWalkAbort, { once: true });
    const timer = setTimeout(
      () => controller.abort(new ListingError(`timed out after ${options.timeoutSeconds} s`)),
      timeoutMs,
    );
    // A lister that ignores its signal still loses the race: the walk does not wait for it.
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(abortReason(controller.signal)), {
        once: true,
      });
    });
    const listing = listDirectory(directory, controller.signal);
    listing.catch(() => undefined);
    aborted.catch(() => undefined);
    try {
      return await Promise.race([listing, aborted]);
    } catch (error) {
      // Whatever the lister made of its abort, the reason is the timeout (or the walk's end).
      throw controller.signal.aborted ? abortReason(controller.signal) : error;
    } finally {
      clearTimeout(timer);
      walk.signal.removeEventListener('abort', onWalkAbort);
    }
  };

  const listWithRetries = async (directory: string): Promise<Outcome> => {
    for (let n = 0; ; n++) {
      let listing: DirectoryListing;
      try {
        listing = await attempt(directory);
      } catch (e) {
        if (walk.signal.aborted) throw abortReason(walk.signal);
        const error = coerceError(e);
        const permanent = error instanceof ListingError && error.permanent;
        if (permanent || n >= retries) {
          const after = n === 0 ? '' : ` (after ${n + 1} attempts)`;
          return { ok: false, reason: `${error.message}${after}` };
        }
        await sleep(Math.min(backoff.maxMs, backoff.initialMs * 2 ** n), walk.signal);
        continue;
      }
      const problem = listingProblem(directory, listing.entries);
      return problem === undefined ? { ok: true, listing } : { ok: false, reason: problem };
    }
  };

  /**
   * Writes a listed directory's entries, and those of the directories below it the listing holds
   * (each checked like a listing of its own); queues the other subdirectories.
   */
  const accept = async (listing: DirectoryListing): Promise<void> => {
    const { below } = listing;
    let chunk = '';
    const pending: Array<readonly DumpEntry[]> = [listing.entries];
    for (let entries = pending.pop(); entries !== undefined; entries = pending.pop()) {
      for (const entry of entries) {
        chunk += formatDumpLine(entry);
        if (!entry.directory) {
          files++;
          bytes += entry.size;
          continue;
        }
        directories++;
        const subdirectory = entry.path.endsWith('/') ? entry.path.replace(/\/+$/, '') : entry.path;
        const children = below?.get(subdirectory);
        if (children === undefined) {
          queue.push(subdirectory);
          continue;
        }
        const problem = listingProblem(subdirectory, children);
        if (problem === undefined) pending.push(children);
        else unlisted.push({ path: subdirectory, reason: problem });
      }
    }
    if (chunk !== '' && !stream.write(chunk)) await once(stream, 'drain', { signal: walk.signal });
  };

  const next = async (): Promise<string | undefined> => {
    for (;;) {
      if (stopped) return undefined;
      const directory = queue.shift();
      if (directory !== undefined) {
        active++;
        if (shouldStop !== undefined && (await shouldStop())) {
          halted = true;
          stopped = true;
        }
        if (!stopped) return directory;
        active--;
        wake();
        return undefined;
      }
      if (active === 0) {
        stopped = true;
        wake();
        return undefined;
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
  };

  const worker = async (): Promise<void> => {
    for (;;) {
      let directory: string | undefined;
      try {
        directory = await next();
      } catch (e) {
        fail(e);
        return;
      }
      if (directory === undefined) return;
      try {
        const outcome = await listWithRetries(directory);
        if (outcome.ok) {
          await accept(outcome.listing);
        } else {
          unlisted.push({ path: directory, reason: outcome.reason });
        }
        onProgress?.({ directories, files, pending: queue.size + active - 1 });
      } catch (e) {
        fail(e);
      } finally {
        active--;
        wake();
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: options.concurrency }, () => worker()));
  } finally {
    options.signal?.removeEventListener('abort', onCallerAbort);
  }
  if (failure === undefined) {
    stream.end();
    try {
      await once(stream, 'finish');
    } catch (e) {
      failure = e;
    }
  }
  if (failure !== undefined) {
    stream.destroy();
    if (!stream.closed) await once(stream, 'close').catch(() => undefined);
    throw options.signal?.aborted ? abortReason(options.signal) : coerceError(failure);
  }
  if (!stream.closed) await once(stream, 'close');
  unlisted.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, directories, bytes, unlisted, halted };
}
