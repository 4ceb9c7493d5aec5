/**
 * Domain types of the transfer module (no I/O). Nights and exposures are 8-digit strings
 * (`20261121`, `00001234`): fixed width, so text order is numeric order.
 */
import type { VerifyResult } from './verify.service.js';

export const STAGES = ['rsync', 'checksum', 'publish', 'backup'] as const;
export type Stage = (typeof STAGES)[number];

export interface ExposureRef {
  night: string;
  exposure: string;
}

/** The latest attempt of one stage; `at` is ISO 8601 UTC. */
export interface StageState {
  ok: boolean;
  at: string;
  message: string;
}

/** One line of `transfer status --json` (issue 3 contract). */
export interface ExposureStatus {
  stream: string;
  night: string;
  exposure: string;
  rsync: StageState | null;
  checksum: StageState | null;
  publish: StageState | null;
  backup: StageState | null;
}

export interface StageAttempt extends StageState {
  stage: Stage;
}

/** `GET /api/v1/transfer/status/:stream/:night/:exposure`. */
export interface ExposureHistory extends ExposureStatus {
  /** Every attempt, oldest first. */
  history: StageAttempt[];
}

/**
 * Colour of a night on the status page: red when the latest attempt of any stage failed, green
 * when every exposure has rsync, checksum and publish ok, yellow otherwise (still in progress).
 */
export type NightState = 'green' | 'yellow' | 'red';

export interface NightSummary {
  stream: string;
  night: string;
  state: NightState;
  exposures: ExposureStatus[];
  /** Exposures with a failed latest attempt. */
  failed: number;
  /** Every exposure has backup ok. */
  archived: boolean;
  /** When the night's catch-up / archive ran (ISO), null when not yet. */
  catchupAt: string | null;
  archiveAt: string | null;
}

/** `GET /api/v1/transfer/status`: nights newest first. */
export interface TransferStatusPage {
  streams: string[];
  nights: NightSummary[];
}

/** A `<source>` entry that is not `<NIGHT>/<EXPOSURE>`, skipped with a warning. */
export interface SkippedEntry {
  path: string;
  reason: string;
}

export interface Discovery {
  /** Sorted by night, then exposure. */
  exposures: ExposureRef[];
  skipped: SkippedEntry[];
}

/** What one exposure went through in a pass (`transfer once --json`, the job's log line). */
export type ExposureAction =
  /** Already in the destination. */
  | 'published-before'
  /** Another worker holds this exposure's lock right now. */
  | 'busy'
  /** Copied, checked and published now (some stages may have failed: see `failed`). */
  | 'transferred'
  /** --dry-run: would be transferred. */
  | 'would-transfer';

export interface ExposureOutcome extends ExposureRef {
  stream: string;
  action: ExposureAction;
  /** Stages that failed in this attempt (alerted). */
  failed: Stage[];
  /** Set when the checksum stage ran. */
  verify?: VerifyResult;
  message?: string;
}

export interface CatchupExposure extends ExposureRef {
  /** Paths under the exposure that were new or changed at the source. */
  changed: string[];
  /** The re-verification after the sync (absent on --dry-run). */
  verify?: VerifyResult;
}

export interface CatchupResult {
  stream: string;
  night: string;
  dryRun: boolean;
  /** `nothing-changed`, `synced`, `would-sync`, or `failed` (rsync dry-run or sync failed). */
  action: 'nothing-changed' | 'synced' | 'would-sync' | 'failed';
  exposures: CatchupExposure[];
  message?: string;
}

export interface ArchiveMember {
  /** Path inside the tar, `/`-separated, `NIGHT/EXPOSURE/...`. */
  path: string;
  /** Byte offset of the member's first header block (a PAX header when one is needed). */
  headerOffset: number;
  /** Byte offset of the member's data. */
  dataOffset: number;
  size: number;
  sha256: string;
}

export interface ArchiveProblem {
  path?: string;
  problem: string;
}

/** `transfer verify-archive --json`. */
export interface ArchiveVerifyResult {
  ok: boolean;
  tar: string;
  index: string;
  members: number;
  bytes: number;
  problems: ArchiveProblem[];
}

export interface ArchiveResult {
  stream: string;
  night: string;
  dryRun: boolean;
  /**
   * `archived` written now and verified; `already-archived` a valid archive was there (not
   * rewritten); `would-archive` --dry-run; `failed` recorded and alerted; `nothing-to-archive`
   * the night has no published exposure.
   */
  action: 'archived' | 'already-archived' | 'would-archive' | 'failed' | 'nothing-to-archive';
  tar: string;
  index: string;
  members: number;
  bytes: number;
  exposures: string[];
  catchup?: CatchupResult;
  message?: string;
}

/** `transfer once --json`: one entry per stream. */
export interface StreamPassResult {
  stream: string;
  dryRun: boolean;
  /** Skipped because the pause file exists at the source. */
  paused: boolean;
  /** Discovery failed (source unreachable): message; nothing else was done for the stream. */
  error?: string;
  skipped: SkippedEntry[];
  /** Exposures found at the source that were already published (not listed one by one). */
  published: number;
  /** Exposures handed to the job queue (`transfer watch`); their outcomes are in the status. */
  queued: number;
  exposures: ExposureOutcome[];
  catchup?: CatchupResult;
  archive?: ArchiveResult;
}

export interface PassResult {
  dryRun: boolean;
  streams: StreamPassResult[];
}
