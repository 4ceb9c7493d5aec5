/**
 * SiteLister for `file:///path` sites: node:fs directly. Each directory is read with
 * readdir(withFileTypes) and its entries lstat'ed, so a symlink is never followed: symlinks (and
 * sockets, pipes, devices) are left out of the dump, as their target may lie outside the site.
 * The top-level directories themselves are followed if they are links (the operator named them).
 */
import fs from 'node:fs';
import path from 'node:path';
import { UnavailableError, coerceError } from '../../core/errors.js';
import type { ListOptions, SiteLister } from './audit.ports.js';
import type { DumpEntry, ListingResult } from './audit.types.js';
import { ListingError, walkSite, type DirectoryListing, type ListDirectory } from './site-walker.js';
import {
  parseStorageUrl,
  redactStorage,
  toStoragePath,
  topLevelSitePath,
  type StorageLocation,
} from './storage-url.parser.js';

type FileLocation = Extract<StorageLocation, { scheme: 'file' }>;

/** lstat calls in flight for one directory. */
const STAT_BATCH = 64;

function errnoCode(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

const PERMANENT: Record<string, string> = {
  ENOENT: 'does not exist',
  ENOTDIR: 'not a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ELOOP: 'too many levels of symbolic links',
};

/** A readdir failure as a failed attempt: absence and permission are permanent. */
export function describeFsError(error: unknown): ListingError {
  const reason = PERMANENT[errnoCode(error) ?? ''];
  if (reason !== undefined) return new ListingError(reason, { permanent: true, cause: error });
  return new ListingError(coerceError(error).message, { cause: error });
}

/** Lists the children of one local directory (`fsPath`) as entries under `sitePath`. */
export async function listLocalDirectory(
  fsPath: string,
  sitePath: string,
  signal: AbortSignal,
): Promise<DirectoryListing> {
  signal.throwIfAborted();
  let dirents: fs.Dirent[];
  try {
    dirents = await fs.promises.readdir(fsPath, { withFileTypes: true });
  } catch (e) {
    throw describeFsError(e);
  }
  const entries: DumpEntry[] = [];
  const candidates = dirents.filter((d) => d.isFile() || d.isDirectory());
  for (let i = 0; i < candidates.length; i += STAT_BATCH) {
    signal.throwIfAborted();
    const batch = candidates.slice(i, i + STAT_BATCH);
    const stats = await Promise.all(
      batch.map((dirent) =>
        fs.promises.lstat(path.join(fsPath, dirent.name)).catch((e: unknown) => {
          // Removed since readdir: it is gone, not unreadable.
          if (errnoCode(e) === 'ENOENT') return undefined;
          throw describeFsError(e);
        }),
      ),
    );
    batch.forEach((dirent, index) => {
      const stat = stats[index];
      if (stat === undefined || !(stat.isFile() || stat.isDirectory())) return;
      const directory = stat.isDirectory();
      entries.push({
        path: `${sitePath}/${dirent.name}`,
        size: directory ? 0 : stat.size,
        mtime: Math.floor(stat.mtimeMs / 1000),
        directory,
      });
    });
  }
  return { entries };
}

export class LocalLister implements SiteLister {
  readonly display: string;
  private readonly location: FileLocation;

  /** Throws InputError AUDIT_BAD_STORAGE for a malformed or non-file:// URL. */
  constructor(storage: string) {
    const location = parseStorageUrl(storage);
    if (location.scheme !== 'file')
      throw new Error(`LocalLister needs a file:// URL, not ${location.scheme}://`);
    this.location = location;
    this.display = redactStorage(storage);
  }

  /** The per-directory function the walker calls (exposed so tests can wrap it). */
  readonly listDirectory: ListDirectory = (sitePath, signal) =>
    listLocalDirectory(toStoragePath(this.location, sitePath), sitePath, signal);

  async list(options: ListOptions): Promise<ListingResult> {
    return this.listWith(this.listDirectory, options);
  }

  /** Like list, with another per-directory function (a wrapper of `listDirectory`). */
  async listWith(listDirectory: ListDirectory, options: ListOptions): Promise<ListingResult> {
    const roots = options.directories.map((directory) => topLevelSitePath(this.location, directory));
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(this.location.path);
    } catch (e) {
      throw new UnavailableError(
        'AUDIT_SITE_UNREACHABLE',
        `Storage ${this.display}: ${this.location.path} cannot be read (${errnoCode(e) ?? coerceError(e).message}); check the site's storage URL and that the file system is mounted.`,
        { details: { storage: this.display } },
      );
    }
    if (!stat.isDirectory()) {
      throw new UnavailableError(
        'AUDIT_SITE_UNREACHABLE',
        `Storage ${this.display}: ${this.location.path} is not a directory; check the site's storage URL.`,
        { details: { storage: this.display } },
      );
    }
    return walkSite({ ...options, roots, listDirectory });
  }
}
