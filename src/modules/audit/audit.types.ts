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

// ---- sites, runs and entries (service, API, web) ------------------------------------------------

export const SITE_STATUSES = ['ready', 'running', 'halted', 'disabled'] as const;
export type SiteStatus = (typeof SITE_STATUSES)[number];
export const SITE_MODES = ['dry', 'act'] as const;
export type SiteMode = (typeof SITE_MODES)[number];
/** `audit set-status SITE <action>`. */
export const STATUS_ACTIONS = ['ready', 'halt', 'disable', 'act', 'dry'] as const;
export type StatusAction = (typeof STATUS_ACTIONS)[number];

/** ok: compared and stored; over-threshold: stored, alerted, nothing marked for action; halted: stopped by an operator; failed: see message. */
export type RunOutcome = 'running' | 'ok' | 'over-threshold' | 'halted' | 'failed';

export interface AuditRun {
  id: number;
  site: string;
  /** ISO 8601 */
  startedAt: string;
  finishedAt: string | null;
  durationSeconds: number | null;
  files: number;
  directories: number;
  missing: number;
  missingBytes: number;
  orphans: number;
  orphanBytes: number;
  sizeMismatches: number;
  emptyDirs: number;
  unlisted: number;
  outcome: RunOutcome;
  message: string | null;
}

/** One row of the sites summary (`audit sites --json`, `GET /api/v1/audit/sites`). */
export interface SiteSummary {
  name: string;
  storage: string;
  status: SiteStatus;
  mode: SiteMode;
  /** A halt was requested and the running audit has not stopped yet. */
  haltRequested: boolean;
  lastRun: AuditRun | null;
  /** Thresholds from the config, for colouring. */
  maxMissing: number;
  maxOrphans: number;
}

/** `audit report SITE --json`, `GET /api/v1/audit/sites/:site`: the site and its runs, newest first. */
export interface SiteReport extends SiteSummary {
  runs: AuditRun[];
  unlistedDirectories: UnlistedDirectory[];
}

export const ENTRY_KINDS = ['missing', 'orphan', 'empty', 'size-mismatch'] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];

export interface AuditEntry {
  path: string;
  /** ISO 8601: the first and the latest run that reported it. */
  firstSeen: string;
  lastSeen: string;
  /** When a caller said it acted on the list (`--acting`), null before. */
  actedAt: string | null;
}

/** `audit missing|orphans|empty-dirs SITE --json`, `GET /api/v1/audit/sites/:site/entries/:kind`. */
export interface EntryList {
  site: string;
  kind: EntryKind;
  /** The latest finished run the list comes from (null: never audited). */
  runId: number | null;
  /**
   * Whether the list may be acted on: the site is in `act` mode and the run was within the
   * thresholds. Missing files are listed only when the previous run missed them too.
   */
  forAction: boolean;
  reason: string | null;
  /** Set when this call recorded `--acting`. */
  actedAt: string | null;
  entries: AuditEntry[];
}
