import type { Generated } from 'kysely';

/** Tables of the ingest module (snake_case; times are unix milliseconds UTC, booleans 0/1). */
export interface IngestRunsTable {
  run: number;
  /** hltMode from runInfo.yaml, `U` when unknown. */
  mode: string;
  /** 1 when the run's files live under ReplayData/. */
  replay: number;
  first_file_at: number;
  last_file_at: number;
  /** `(last − first + 60 s) div 60 s`. */
  length_minutes: number;
  updated_at: number;
}

export interface IngestFilesTable {
  id: Generated<number>;
  run: number;
  subsystem: string;
  /** Time in the file name, unix ms. */
  timestamp: number;
  size: number;
  /** Relative to dataDir, `/`-separated; unique. */
  path: string;
}

export interface IngestTables {
  ingest_runs: IngestRunsTable;
  ingest_files: IngestFilesTable;
}
