/**
 * The edges of the audit service. `*.lister.ts` files implement SiteLister for `file://`,
 * `ssh://` and `root://` (real `xrdfs`); `compare.engine.ts` implements CompareEngine.
 */
import type { CompareOptions, CompareResult, ListingResult } from './audit.types.js';

export interface ListOptions {
  /** Top-level directories to check, relative to the storage root (`mc`, `data`). */
  directories: readonly string[];
  /** Where the listing dump is streamed (same format as an inventory dump). */
  dumpFile: string;
  /** Directories listed at once. */
  concurrency: number;
  /** Further attempts for a directory that fails, with backoff. */
  retries: number;
  /** Bound of one directory listing (one attempt), seconds. */
  timeoutSeconds: number;
  /** Checked before each directory: true stops the listing (the site was halted). */
  shouldStop?: () => boolean | Promise<boolean>;
  onProgress?: (progress: { directories: number; files: number; pending: number }) => void;
  signal?: AbortSignal;
}

export interface SiteLister {
  /** The storage URL as configured (no secrets). */
  readonly display: string;
  /**
   * Lists every directory under the given top-level directories, in parallel, streaming entries
   * to `dumpFile`. A directory that still fails after its retries is returned in `unlisted`
   * (with the reason) and its subtree is skipped; the listing goes on. Closes its sessions.
   */
  list(options: ListOptions): Promise<ListingResult>;
}

export interface SiteStorage {
  name: string;
  /** `file:///path`, `ssh://[user@]host[:port]/path` or `root://host[:port]//path`. */
  storage: string;
  sshIdentity?: string;
  sshOptions?: readonly string[];
}

export interface ListerFactory {
  create(site: SiteStorage): SiteLister;
}

export interface CompareEngine {
  /**
   * Compares the two dumps with bounded memory (scales to 10^8 entries each). Throws
   * InputError AUDIT_BAD_DUMP naming the file and line for unreadable or malformed input.
   */
  compare(options: CompareOptions): Promise<CompareResult>;
}
