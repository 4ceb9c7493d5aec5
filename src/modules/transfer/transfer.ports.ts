/**
 * The edges of the transfer service. `rsync.adapter.ts` implements SourceConnector with real
 * `rsync` and `ssh`; `archive.adapter.ts` implements Archiver (POSIX tar plus index);
 * `publish.adapter.ts` implements ExposureFiles on the local filesystem. Paths here are absolute.
 */
import type { ArchiveMember, ArchiveVerifyResult, Discovery } from './transfer.types.js';

/** Where a stream's exposures come from: a local directory or `ssh://user@host:port/path`. */
export interface StreamSource {
  name: string;
  /** A local path (absolute once the config is loaded) or an `ssh://` URL. */
  source: string;
  /** Private key for ssh sources (absolute path). */
  sshIdentity?: string;
  /** Extra `-o Key=Value` options for ssh. */
  sshOptions?: readonly string[];
}

/** A copy either happened (with the relative paths that were new or changed) or failed, as a value. */
export type SyncOutcome =
  | { ok: true; changed: string[] }
  /** `changed`: what a failed run still copied, when it got that far. */
  | { ok: false; message: string; changed?: string[] };

/**
 * One stream's source, for one pass or for the life of a worker. For `ssh://` sources every
 * command of the session goes over one multiplexed ssh connection (ControlMaster), opened on
 * first use and closed by `close()`.
 */
export interface SourceSession {
  /** The source as shown to users (no secrets). */
  readonly display: string;
  /**
   * `<source>/<NIGHT>/<EXPOSURE>` directories, or symlinks to directories, with an 8-digit night
   * and 8-digit exposure, sorted; anything else at those two levels is returned in `skipped`.
   * `nights` limits the listing to those nights. Throws UnavailableError (code
   * TRANSFER_SOURCE_UNREACHABLE) when the source cannot be listed.
   */
  discover(options?: { nights?: readonly string[]; signal?: AbortSignal }): Promise<Discovery>;
  /** Whether `<source>/<relativePath>` exists (the pause file). Throws UnavailableError when unreachable. */
  exists(relativePath: string, signal?: AbortSignal): Promise<boolean>;
  /**
   * `rsync -a <source>/<night>/<exposure>/ <targetDir>/` (targetDir and its parents are created;
   * nothing is ever deleted at either end). With `dryRun` nothing is written, the changes are
   * only listed. `changed` holds paths relative to the exposure (`file.fits`, `sub/x`).
   */
  syncExposure(
    night: string,
    exposure: string,
    targetDir: string,
    options?: { dryRun?: boolean; signal?: AbortSignal },
  ): Promise<SyncOutcome>;
  /**
   * The copy of syncExposure for several exposures of one night in one rsync run:
   * `<source>/<night>/{E1,E2,…}/` into `<targetNightDir>/{E1,E2,…}/`, so a pass pays one rsync
   * start-up (remote login shell, file-list exchange) per batch rather than per exposure.
   * `changed` holds `EXPOSURE/relative/path`. A failure is the batch's as a whole (rsync does
   * not say which exposure a failed file belongs to in a way worth parsing): callers copy the
   * batch again one exposure at a time to learn which failed and why.
   */
  syncExposures(
    night: string,
    exposures: readonly string[],
    targetNightDir: string,
    options?: { signal?: AbortSignal },
  ): Promise<SyncOutcome>;
  /**
   * A dry run of `<source>/<night>/` against `targetNightDir/`: the files that are new or
   * differ at the source, as `EXPOSURE/relative/path`. Writes nothing.
   */
  diffNight(night: string, targetNightDir: string, signal?: AbortSignal): Promise<SyncOutcome>;
  /** Ends the multiplexed connection (a no-op for local sources). Idempotent. */
  close(): Promise<void>;
}

export interface SourceConnector {
  /** Does not connect yet: the first command does (or a `prestart` of the same stream did). */
  open(stream: StreamSource): SourceSession;
  /**
   * Starts connecting to the stream's source in the background, so the handshake overlaps the
   * caller's own start-up; the next `open` of the same stream (same name, source, key and
   * options) gets that session. Never throws: a failure surfaces at the session's first command.
   */
  prestart?(stream: StreamSource): void;
  /** Closes the sessions prestarted and never opened. Idempotent. */
  close?(): Promise<void>;
}

export interface ArchiveWriteResult {
  tar: string;
  index: string;
  members: ArchiveMember[];
  /** Size of the tar file. */
  bytes: number;
}

export interface Archiver {
  /**
   * Packs `<root>/<dir>` (every directory and regular file under it, sorted, member paths
   * `dir/...`) into `tarPath` as POSIX (pax/ustar) tar, and writes the index to `indexPath`.
   * Both are written under temporary names in the same directory, read back and checked (every
   * member matches the index and the file under root), and only then renamed into place.
   * A failure removes the temporaries and throws (IntegrityError when the read-back differs,
   * UnavailableError when the archive location cannot be written).
   */
  write(options: {
    root: string;
    dir: string;
    tarPath: string;
    indexPath: string;
    signal?: AbortSignal;
  }): Promise<ArchiveWriteResult>;
  /**
   * Reads `tarPath` and its index (default `<tarPath>.idx`) and checks every member: header at
   * the indexed offset, size, sha256 of the data, no member missing from either side. With
   * `against`, each member is also compared with the file `<against>/<member path>`.
   * Problems are returned as values; throws NotFoundError (TRANSFER_ARCHIVE_NOT_FOUND) only when
   * the tar file does not exist.
   */
  verify(tarPath: string, options?: { indexPath?: string; against?: string }): Promise<ArchiveVerifyResult>;
}

export type EntryKind = 'file' | 'directory' | 'symlink' | 'other' | 'missing';

/** Local filesystem work on staged and published exposures. */
export interface ExposureFiles {
  kind(path: string): Promise<EntryKind>;
  /** Directories 2750, files 0440, recursively (the top directory included). */
  makeReadOnly(dir: string): Promise<void>;
  /** Adds user-write back (directories and files), recursively, before a re-sync. */
  makeWritable(dir: string): Promise<void>;
  /** Removes user-write from every directory under (and including) `dir`. */
  lockDirectories(dir: string): Promise<void>;
  /**
   * Moves `from` (a staged exposure directory) to `to` (its place in the destination), creating
   * the parent; never replaces an existing `to` (ConflictError). Same filesystem: one rename;
   * across filesystems a verified copy then removal of `from`. The move is durable only after
   * `flush` of both parents.
   */
  publish(from: string, to: string): Promise<void>;
  /** Makes the entries added to or removed from these directories durable (fsync). */
  flush(dirs: readonly string[]): Promise<void>;
  /** Creates `dir` and its parents when missing. */
  ensureDirectory(dir: string): Promise<void>;
  /** Sorted names of the subdirectories of `dir` ([] when it does not exist). */
  listDirectories(dir: string): Promise<string[]>;
}
