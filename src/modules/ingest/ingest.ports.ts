/**
 * The filesystem port of the ingest service. `move.adapter.ts` implements it on the real
 * filesystem; paths are relative (`source` to dropDir, everything else to dataDir, `/`-separated).
 */

export type EntryType = 'file' | 'directory' | 'symlink' | 'other';

export interface DropEntry {
  name: string;
  type: EntryType;
  size: number;
  mtimeMs: number;
}

export interface DataEntry {
  name: string;
  type: EntryType;
  size: number;
}

export interface MoveRequest {
  /** A name in dropDir. */
  source: string;
  /** Relative to dataDir. */
  target: string;
}

export type MoveOutcome =
  /**
   * The target holds the file (moved now, or an identical copy was already there; the source is
   * gone). Its size is the size listed for the source: the target is not stat'ed again.
   */
  | { kind: 'moved' }
  /**
   * A different file held the target name: the newcomer was kept as `target` (a `.dup-<n>` name);
   * `originalSize` is the size of the file already at the requested name.
   */
  | { kind: 'duplicate'; target: string; originalSize: number }
  /** The source disappeared before it could be moved (another pass moved it). */
  | { kind: 'vanished' }
  | { kind: 'failed'; message: string };

/** Work in progress recorded on disk before files move, so a crashed pass can be finished. */
export interface Journal {
  readonly id: string;
  /** Run directories (relative to dataDir) the pass may write into. */
  readonly runDirs: readonly string[];
}

export interface IngestFileSystem {
  /**
   * Entries of dropDir (not recursive), sorted by name; dot-files are listed but not stat'ed.
   * Temp files of Custodian's own uploads whose writer is gone are removed, not listed.
   */
  listDrop(): Promise<DropEntry[]>;
  /** Entries of a directory under dataDir; `[]` when it does not exist. */
  listData(dir: string): Promise<DataEntry[]>;
  /**
   * Makes sure `<runDir>/runInfo.yaml` exists, writing `hltMode: <mode>` only if it is absent
   * (atomically, never replacing), and returns the mode the file holds.
   */
  ensureRunInfo(runDir: string, mode: string): Promise<string | undefined>;
  /** The `hltMode` of `<runDir>/runInfo.yaml`, undefined when absent or unreadable. */
  readRunInfo(runDir: string): Promise<string | undefined>;
  /** Moves files one by one without ever replacing a target; one outcome per request, in order. */
  moveFiles(requests: readonly MoveRequest[], onProgress?: (done: number) => void): Promise<MoveOutcome[]>;
  beginJournal(runDirs: readonly string[]): Promise<Journal>;
  /** The pass finished its work (files moved and recorded): the journal goes. */
  endJournal(journal: Journal): Promise<void>;
  /**
   * The pass failed before recording its work: the journal stays on disk and becomes abandoned,
   * so the next pass (in this process or another) re-reads its runs from disk.
   */
  leaveJournal(journal: Journal): Promise<void>;
  /** Journals left by passes that died (or failed) before finishing. */
  abandonedJournals(): Promise<Journal[]>;
  /**
   * Removes temporary files left by crashed writers (copies across filesystems, runInfo.yaml)
   * in the given dataDir directories and their subdirectories.
   */
  removeStaleTemps(dataDirs: readonly string[]): Promise<number>;
  /** Stores bytes as `name` in dropDir atomically; `identical` when that exact content is already there. */
  storeInDrop(name: string, bytes: Uint8Array): Promise<'stored' | 'identical'>;
}
