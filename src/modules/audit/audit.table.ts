import type { Generated } from 'kysely';

/** Tables of the audit module (snake_case; times are unix milliseconds UTC, booleans 0/1). */

export interface AuditSitesTable {
  name: string;
  /** ready | running | halted | disabled */
  status: string;
  /** dry | act */
  mode: string;
  halt_requested: number;
  updated_at: number;
}

export interface AuditRunsTable {
  id: Generated<number>;
  site: string;
  started_at: number;
  finished_at: number | null;
  files: number;
  directories: number;
  missing: number;
  missing_bytes: number;
  orphans: number;
  orphan_bytes: number;
  size_mismatches: number;
  empty_dirs: number;
  unlisted: number;
  /** running | ok | over-threshold | halted | failed */
  outcome: string;
  message: string | null;
  /** JSON array of {path, reason}. */
  unlisted_json: string;
}

/** Every reported entry of a site, with the runs that first and last reported it. */
export interface AuditEntriesTable {
  site: string;
  /** missing | orphan | empty | size-mismatch */
  kind: string;
  path: string;
  first_run: number;
  first_seen: number;
  last_run: number;
  last_seen: number;
  /** The run that reported it before `last_run` (null: only one run so far). */
  previous_run: number | null;
  acted_at: number | null;
}

export interface AuditTables {
  audit_sites: AuditSitesTable;
  audit_runs: AuditRunsTable;
  audit_entries: AuditEntriesTable;
}
