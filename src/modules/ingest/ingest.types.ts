/** Domain types of the ingest module. No I/O here. */

/** What `ingest parse-name` explains; one of the four kinds of names the organizer knows. */
export type ParsedName =
  | { kind: 'unprocessed'; subsystem: string; run: number; mode: string; timestamp: number }
  | { kind: 'processed'; subsystem: string; timestamp: number }
  | { kind: 'combined'; timestamp: number }
  | { kind: 'timeSlice'; start: number; end: number; duration: number };

/** Local wall-clock fields of a name, as written (unpadded values are fine). */
export interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export type HistogramExt = 'root' | 'json';

/** A drop-directory name taken apart, with what the organizer needs to build the target. */
export interface DropName {
  subsystem: string;
  run: number;
  mode: string;
  /** Unix seconds (UTC). */
  timestamp: number;
  local: LocalTime;
  ext: HistogramExt;
}

/** An organized name `<SYS>hists.<Y>_<M>_<D>_<h>_<m>_<s>.<ext>`. */
export interface ProcessedName {
  subsystem: string;
  timestamp: number;
  local: LocalTime;
  ext: HistogramExt;
}

/**
 * Why a file was left in the drop directory. Stable strings: scripts may compare them.
 * `vanished`: listed, then gone before it could be moved (another pass took it).
 */
export const SKIP_REASONS = [
  'dot-file',
  'not-settled',
  'unknown-subsystem',
  'unparsable-name',
  'not-a-regular-file',
  'vanished',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export interface MovedFile {
  /** Relative to dropDir. */
  source: string;
  /** Relative to dataDir, `/`-separated. Ends in `.dup-<n>` when a different file held the name. */
  target: string;
  run: number;
  subsystem: string;
  mode: string;
  /** Unix seconds. */
  timestamp: number;
}

export interface SkippedFile {
  source: string;
  reason: SkipReason;
}

export interface FileError {
  source: string;
  message: string;
}

/** The result of one organize pass; `ingest once --json` prints exactly this. */
export interface PassResult {
  moved: MovedFile[];
  skipped: SkippedFile[];
  errors: FileError[];
}

/** One run as the API and `ingest runs --json` show it. */
export interface RunSummary {
  run: number;
  mode: string;
  replay: boolean;
  /** ISO 8601 UTC. */
  firstFileAt: string;
  lastFileAt: string;
  /** `(last − first + 60) div 60`, in seconds → minutes, as OVERWATCH computes it. */
  lengthMinutes: number;
  /** Number of files per subsystem. */
  files: Record<string, number>;
}

export interface RunFile {
  /** Unix seconds. */
  timestamp: number;
  size: number;
  /** Relative to dataDir. */
  path: string;
}

export interface RunDetail extends RunSummary {
  /** Files of each subsystem, oldest first. */
  subsystems: Record<string, RunFile[]>;
}

export interface RunPage {
  items: RunSummary[];
  total: number;
}

export interface RebuildResult {
  runs: number;
  files: number;
}

export interface UploadInput {
  run: number;
  /** Unix seconds. */
  timestamp: number;
  agent: string;
  bytes: Uint8Array;
}

export interface UploadResult {
  /** Name of the stored file in dropDir. */
  stored: string;
  size: number;
}

/** Reports progress of long work (CLI progress bars); called often, must be cheap. */
export type ProgressListener = (done: number, total: number) => void;

/** The alerts port, shared by the modules (core/alerts). */
export type { AlertSink } from '../../core/alerts/alerts.types.js';

/** Wall clock in unix milliseconds; injected so settle checks are testable. */
export type Clock = () => number;
