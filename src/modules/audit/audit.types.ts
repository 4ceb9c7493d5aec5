/**
 * Domain types of the audit module (no I/O). Paths are absolute in the site namespace, which
 * starts at the last component of the storage URL's path: for `root://host//store`,
 * `file:///srv/store` and `ssh://user@host/srv/store` alike, a file is `/store/mc/a.root`.
 */

/** One line of a dump (inventory or listing): `path<TAB>size[<TAB>mtime]`; a path ending in `/` is a directory. */
export interface DumpEntry {
  path: string;
  size: number;
  /** unix seconds, when known */
  mtime?: number;
  directory: boolean;
}

/** A directory the listing could not read (after retries): nothing at or below it is reported. */
export interface UnlistedDirectory {
  path: string;
  reason: string;
}

/** What `audit compare --json` prints (issue 4 contract). */
export interface CompareCounts {
  missing: number;
  orphans: number;
  sizeMismatches: number;
  emptyDirs: number;
  missingBytes: number;
  orphanBytes: number;
}

export interface CompareReports {
  /** One path per line, sorted (empty dirs: deepest first). */
  missing: string;
  orphan: string;
  sizeMismatch: string;
  empty: string;
}

export interface CompareResult extends CompareCounts {
  /** The report files written (when an output prefix was given). */
  reports?: CompareReports;
}

export interface CompareOptions {
  /** Dump of what should be at the site. */
  inventory: string;
  /** Dump of what is at the site. */
  listing: string;
  /** Writes PREFIX_missing.txt, PREFIX_orphan.txt, PREFIX_size_mismatch.txt, PREFIX_empty.txt. */
  out?: string;
  /** The clock for the age rule, unix seconds. */
  now: number;
  /** Entries younger than this (either side) are never reported. */
  ignoreAgeDays: number;
  /** Substrings: orphans and empty directories containing one are not reported. */
  ignorePatterns: readonly string[];
  /** Directories that could not be listed: nothing at or below them is reported. */
  unlisted?: readonly string[];
  /** Scratch space for the engine (default os.tmpdir()). */
  workDir?: string;
  signal?: AbortSignal;
}

export interface ListingResult {
  files: number;
  directories: number;
  bytes: number;
  unlisted: UnlistedDirectory[];
  /** Stopped early because `shouldStop` said so (the site was halted). */
  halted: boolean;
}
