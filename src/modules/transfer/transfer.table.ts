import type { Generated } from 'kysely';

/** Tables of the transfer module (snake_case; times are unix milliseconds UTC, booleans 0/1). */

/** The latest attempt of each stage of each exposure (one row per stage). */
export interface TransferStagesTable {
  stream: string;
  night: string;
  exposure: string;
  /** rsync | checksum | publish | backup */
  stage: string;
  ok: number;
  at: number;
  message: string;
}

/** Every attempt, for the per-exposure history. */
export interface TransferStageHistoryTable {
  id: Generated<number>;
  stream: string;
  night: string;
  exposure: string;
  stage: string;
  ok: number;
  at: number;
  message: string;
}

/** Once-per-night work: when the catch-up and the archive of a stream's night last ran. */
export interface TransferNightsTable {
  stream: string;
  night: string;
  catchup_at: number | null;
  archive_at: number | null;
  /** 1 archived and verified, 0 failed (retried next pass), null not attempted. */
  archive_ok: number | null;
  archive_message: string | null;
}

export interface TransferTables {
  transfer_stages: TransferStagesTable;
  transfer_stage_history: TransferStageHistoryTable;
  transfer_nights: TransferNightsTable;
}
