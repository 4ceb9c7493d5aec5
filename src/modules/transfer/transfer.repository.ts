import type { Kysely } from 'kysely';
import { tables, type Database } from '../../core/db/database.js';
import { chunks } from '../../core/db/chunks.js';
import type { TransferTables } from './transfer.table.js';
import {
  STAGES,
  type ExposureRef,
  type ExposureStatus,
  type Stage,
  type StageAttempt,
} from './transfer.types.js';

export interface StageRecord extends ExposureRef {
  stream: string;
  stage: Stage;
  ok: boolean;
  /** unix ms */
  at: number;
  message: string;
}

export interface NightRow {
  stream: string;
  night: string;
  catchupAt: number | null;
  archiveAt: number | null;
  archiveOk: boolean | null;
  archiveMessage: string | null;
}

export interface StatusFilter {
  stream?: string;
  night?: string;
  /** Only the newest N nights (per the whole listing); undefined or 0 = all. */
  nights?: number;
}

/** Stage rows without history, in a stable order (tests compare these). */
export interface TransferSnapshot {
  stages: StageRecord[];
  history: StageRecord[];
  nights: NightRow[];
}

function emptyStatus(stream: string, night: string, exposure: string): ExposureStatus {
  return { stream, night, exposure, rsync: null, checksum: null, publish: null, backup: null };
}

/**
 * Records per statement: 7 parameters each stays far below SQLite's and PostgreSQL's limits
 * (32,766 and 65,535), and a night's `set-status … all` still takes few statements.
 */
const RECORD_CHUNK = 500;

const isStage = (value: string): value is Stage => (STAGES as readonly string[]).includes(value);

/** All SQL of the transfer module; portable across SQLite and PostgreSQL. */
export class TransferRepository {
  private readonly db: Kysely<TransferTables>;

  constructor(database: Database) {
    this.db = tables<TransferTables>(database);
  }

  /** Records one attempt: the latest state of the stage and a history row, atomically. */
  async recordStage(record: StageRecord): Promise<void> {
    await this.recordStages([record]);
  }

  /**
   * Records attempts in one transaction, a few statements per RECORD_CHUNK records rather than two
   * per record: `transfer once` records three stages of every exposure, and with one statement
   * each, compiling and running them cost more CPU than anything but hashing. When a stage comes
   * twice, the later record is its latest state; history keeps both.
   */
  async recordStages(records: readonly StageRecord[]): Promise<void> {
    if (records.length === 0) return;
    const row = (r: StageRecord) => ({
      stream: r.stream,
      night: r.night,
      exposure: r.exposure,
      stage: r.stage,
      ok: r.ok ? 1 : 0,
      at: r.at,
      message: r.message,
    });
    const latest = [
      ...new Map(records.map((r) => [JSON.stringify([r.stream, r.night, r.exposure, r.stage]), r])).values(),
    ];
    await this.db.transaction().execute(async (trx) => {
      for (const chunk of chunks(latest, RECORD_CHUNK))
        await trx
          .insertInto('transfer_stages')
          .values(chunk.map(row))
          .onConflict((oc) =>
            oc.columns(['stream', 'night', 'exposure', 'stage']).doUpdateSet((eb) => ({
              ok: eb.ref('excluded.ok'),
              at: eb.ref('excluded.at'),
              message: eb.ref('excluded.message'),
            })),
          )
          .execute();
      for (const chunk of chunks(records, RECORD_CHUNK))
        await trx.insertInto('transfer_stage_history').values(chunk.map(row)).execute();
    });
  }

  /** The latest state of every stage, one entry per exposure, sorted by stream, night, exposure. */
  async listStatus(filter: StatusFilter = {}): Promise<ExposureStatus[]> {
    let query = this.db.selectFrom('transfer_stages').selectAll();
    if (filter.stream !== undefined) query = query.where('stream', '=', filter.stream);
    if (filter.night !== undefined) query = query.where('night', '=', filter.night);
    if (filter.nights !== undefined && filter.nights > 0) {
      const newest = await this.newestNights(filter);
      if (newest.length === 0) return [];
      query = query.where('night', 'in', newest);
    }
    const rows = await query.orderBy('stream').orderBy('night').orderBy('exposure').execute();
    const byKey = new Map<string, ExposureStatus>();
    for (const row of rows) {
      if (!isStage(row.stage)) continue;
      const key = `${row.stream}\u0000${row.night}\u0000${row.exposure}`;
      let status = byKey.get(key);
      if (!status) {
        status = emptyStatus(row.stream, row.night, row.exposure);
        byKey.set(key, status);
      }
      status[row.stage] = { ok: row.ok === 1, at: new Date(row.at).toISOString(), message: row.message };
    }
    return [...byKey.values()];
  }

  private async newestNights(filter: StatusFilter): Promise<string[]> {
    let query = this.db.selectFrom('transfer_stages').select('night').distinct();
    if (filter.stream !== undefined) query = query.where('stream', '=', filter.stream);
    if (filter.night !== undefined) query = query.where('night', '=', filter.night);
    const rows = await query
      .orderBy('night', 'desc')
      .limit(filter.nights ?? 0)
      .execute();
    return rows.map((r) => r.night);
  }

  /** Every attempt of one exposure, oldest first. */
  async history(stream: string, ref: ExposureRef): Promise<StageAttempt[]> {
    const rows = await this.db
      .selectFrom('transfer_stage_history')
      .selectAll()
      .where('stream', '=', stream)
      .where('night', '=', ref.night)
      .where('exposure', '=', ref.exposure)
      .orderBy('at')
      .orderBy('id')
      .execute();
    return rows.flatMap((row) =>
      isStage(row.stage)
        ? [{ stage: row.stage, ok: row.ok === 1, at: new Date(row.at).toISOString(), message: row.message }]
        : [],
    );
  }

  /** `night/exposure` of the given nights whose latest publish attempt is recorded (ok or not). */
  async publishRecorded(stream: string, nights: readonly string[]): Promise<Set<string>> {
    if (nights.length === 0) return new Set();
    const rows = await this.db
      .selectFrom('transfer_stages')
      .select(['night', 'exposure'])
      .where('stream', '=', stream)
      .where('stage', '=', 'publish')
      .where('night', 'in', [...nights])
      .execute();
    return new Set(rows.map((r) => `${r.night}/${r.exposure}`));
  }

  /** Exposures of a night that have any stage recorded, sorted. */
  async exposuresOfNight(stream: string, night: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('transfer_stages')
      .select('exposure')
      .distinct()
      .where('stream', '=', stream)
      .where('night', '=', night)
      .orderBy('exposure')
      .execute();
    return rows.map((r) => r.exposure);
  }

  async findNight(stream: string, night: string): Promise<NightRow | undefined> {
    const row = await this.db
      .selectFrom('transfer_nights')
      .selectAll()
      .where('stream', '=', stream)
      .where('night', '=', night)
      .executeTakeFirst();
    return row ? toNightRow(row) : undefined;
  }

  async listNights(filter: { stream?: string; nights: readonly string[] }): Promise<NightRow[]> {
    if (filter.nights.length === 0) return [];
    let query = this.db.selectFrom('transfer_nights').selectAll().where('night', 'in', filter.nights);
    if (filter.stream !== undefined) query = query.where('stream', '=', filter.stream);
    return (await query.execute()).map(toNightRow);
  }

  async markCatchup(stream: string, night: string, at: number): Promise<void> {
    await this.db
      .insertInto('transfer_nights')
      .values({ stream, night, catchup_at: at, archive_at: null, archive_ok: null, archive_message: null })
      .onConflict((oc) => oc.columns(['stream', 'night']).doUpdateSet({ catchup_at: at }))
      .execute();
  }

  async markArchive(stream: string, night: string, at: number, ok: boolean, message: string): Promise<void> {
    const values = { archive_at: at, archive_ok: ok ? 1 : 0, archive_message: message };
    await this.db
      .insertInto('transfer_nights')
      .values({ stream, night, catchup_at: null, ...values })
      .onConflict((oc) => oc.columns(['stream', 'night']).doUpdateSet(values))
      .execute();
  }

  async snapshot(): Promise<TransferSnapshot> {
    const toRecord = (row: {
      stream: string;
      night: string;
      exposure: string;
      stage: string;
      ok: number;
      at: number;
      message: string;
    }): StageRecord => ({
      stream: row.stream,
      night: row.night,
      exposure: row.exposure,
      stage: row.stage as Stage,
      ok: row.ok === 1,
      at: row.at,
      message: row.message,
    });
    const stages = await this.db
      .selectFrom('transfer_stages')
      .selectAll()
      .orderBy('stream')
      .orderBy('night')
      .orderBy('exposure')
      .orderBy('stage')
      .execute();
    const history = await this.db.selectFrom('transfer_stage_history').selectAll().orderBy('id').execute();
    const nights = await this.db
      .selectFrom('transfer_nights')
      .selectAll()
      .orderBy('stream')
      .orderBy('night')
      .execute();
    return { stages: stages.map(toRecord), history: history.map(toRecord), nights: nights.map(toNightRow) };
  }
}

function toNightRow(row: {
  stream: string;
  night: string;
  catchup_at: number | null;
  archive_at: number | null;
  archive_ok: number | null;
  archive_message: string | null;
}): NightRow {
  return {
    stream: row.stream,
    night: row.night,
    catchupAt: row.catchup_at,
    archiveAt: row.archive_at,
    archiveOk: row.archive_ok === null ? null : row.archive_ok === 1,
    archiveMessage: row.archive_message,
  };
}
