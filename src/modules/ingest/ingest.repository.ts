import { sql, type Kysely, type Transaction } from 'kysely';
import { tables, type Database, type DialectName } from '../../core/db/database.js';
import { chunks } from '../../core/db/chunks.js';
import type { IngestTables } from './ingest.table.js';

/** A run as the organizer saw it; the time columns are derived from its files. */
export interface RunRecord {
  run: number;
  mode: string;
  replay: boolean;
}

export interface FileRecord {
  run: number;
  subsystem: string;
  /** Unix ms. */
  timestamp: number;
  size: number;
  /** Relative to dataDir. */
  path: string;
}

export interface RunRow {
  run: number;
  mode: string;
  replay: boolean;
  firstFileAt: number;
  lastFileAt: number;
  lengthMinutes: number;
}

export interface FileCount {
  run: number;
  subsystem: string;
  count: number;
}

/** Everything stored, in a stable order and without surrogate keys or bookkeeping times (tests compare these). */
export interface IngestSnapshot {
  runs: RunRow[];
  files: FileRecord[];
}

// 7 parameters a run row: 28,000 stays below both engines' bound-parameter limits (SQLite
// 32766, PostgreSQL 65535).
const RUNS_PER_INSERT = 4000;
/** Files per JSON-parameter insert (a few MB of JSON at most). */
const FILES_PER_STATEMENT = 20_000;
const IDS_PER_QUERY = 1000;

/*
 * The only dialect-specific SQL of the module: a JSON array of [run, subsystem, timestamp,
 * size, path] rows as a row source. SQLite (3.38+) has json_each and ->>, PostgreSQL
 * jsonb_array_elements and typed casts.
 */
function jsonRows(dialect: DialectName, json: string) {
  return dialect === 'postgres'
    ? sql`jsonb_array_elements(${json}::jsonb) as e(value)`
    : sql`json_each(${json}) as e`;
}

function jsonRowColumns(dialect: DialectName) {
  return dialect === 'postgres'
    ? sql`(e.value ->> 0)::bigint, e.value ->> 1, (e.value ->> 2)::bigint, (e.value ->> 3)::bigint, e.value ->> 4`
    : sql`e.value ->> 0, e.value ->> 1, e.value ->> 2, e.value ->> 3, e.value ->> 4`;
}

function toRunRow(row: {
  run: number;
  mode: string;
  replay: number;
  first_file_at: number;
  last_file_at: number;
  length_minutes: number;
}): RunRow {
  return {
    run: Number(row.run),
    mode: row.mode,
    replay: Number(row.replay) === 1,
    firstFileAt: Number(row.first_file_at),
    lastFileAt: Number(row.last_file_at),
    lengthMinutes: Number(row.length_minutes),
  };
}

/**
 * All SQL of the ingest module, portable across SQLite and PostgreSQL. Writes of a pass happen in
 * one transaction with multi-row statements: recording 10,000 files is a handful of statements.
 */
export class IngestRepository {
  private readonly db: Kysely<IngestTables>;
  private readonly dialect: DialectName;

  constructor(database: Database) {
    this.db = tables<IngestTables>(database);
    this.dialect = database.dialect;
  }

  /**
   * Upserts runs and files of a pass and recomputes the runs' first/last file times and length
   * from the files table, so recording is idempotent. A run keeps its first mode unless it was a
   * replay run and now has files outside ReplayData/ (the tree's runInfo.yaml rule).
   */
  async recordFiles(runs: readonly RunRecord[], files: readonly FileRecord[], nowMs: number): Promise<void> {
    if (runs.length === 0 && files.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      await this.upsertRuns(trx, runs, files, nowMs);
      await this.upsertFiles(trx, files);
      await this.refreshRuns(
        trx,
        runs.map((r) => r.run),
        nowMs,
      );
    });
  }

  /** Replaces both tables (rebuild from the tree). */
  async replaceAll(runs: readonly RunRecord[], files: readonly FileRecord[], nowMs: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('ingest_files').execute();
      await trx.deleteFrom('ingest_runs').execute();
      await this.upsertRuns(trx, runs, files, nowMs);
      await this.upsertFiles(trx, files);
      await this.refreshRuns(
        trx,
        runs.map((r) => r.run),
        nowMs,
      );
    });
  }

  private async upsertRuns(
    trx: Transaction<IngestTables>,
    runs: readonly RunRecord[],
    files: readonly FileRecord[],
    nowMs: number,
  ): Promise<void> {
    // Provisional times (NOT NULL columns); refreshRuns sets the real ones from the files table.
    const span = new Map<number, { first: number; last: number }>();
    for (const file of files) {
      const s = span.get(file.run);
      if (!s) span.set(file.run, { first: file.timestamp, last: file.timestamp });
      else {
        if (file.timestamp < s.first) s.first = file.timestamp;
        if (file.timestamp > s.last) s.last = file.timestamp;
      }
    }
    for (const chunk of chunks(runs, RUNS_PER_INSERT)) {
      await trx
        .insertInto('ingest_runs')
        .values(
          chunk.map((r) => ({
            run: r.run,
            mode: r.mode,
            replay: r.replay ? 1 : 0,
            first_file_at: span.get(r.run)?.first ?? 0,
            last_file_at: span.get(r.run)?.last ?? 0,
            length_minutes: 0,
            updated_at: nowMs,
          })),
        )
        .onConflict((oc) =>
          oc.column('run').doUpdateSet({
            mode: sql<string>`case when excluded.replay < ingest_runs.replay then excluded.mode else ingest_runs.mode end`,
            replay: sql<number>`case when excluded.replay < ingest_runs.replay then excluded.replay else ingest_runs.replay end`,
            updated_at: (eb) => eb.ref('excluded.updated_at'),
          }),
        )
        .execute();
    }
  }

  /**
   * Files go in as one JSON parameter per chunk, expanded by the database: a pass of 10,000
   * files is two statements, and no query builder walks 50,000 value nodes (that cost more than
   * the inserts themselves). The JSON is built here from numbers and strings only, bound as a
   * parameter, never spliced into the SQL.
   */
  private async upsertFiles(trx: Transaction<IngestTables>, files: readonly FileRecord[]): Promise<void> {
    for (const chunk of chunks(files, FILES_PER_STATEMENT)) {
      const json = JSON.stringify(chunk.map((f) => [f.run, f.subsystem, f.timestamp, f.size, f.path]));
      await sql`insert into ingest_files (run, subsystem, timestamp, size, path)
        select ${jsonRowColumns(this.dialect)} from ${jsonRows(this.dialect, json)}
        where true -- SQLite reads "on conflict" right after a FROM as a join constraint without it
        on conflict (path) do update set
          run = excluded.run, subsystem = excluded.subsystem, timestamp = excluded.timestamp, size = excluded.size`.execute(
        trx,
      );
    }
  }

  private async refreshRuns(
    trx: Transaction<IngestTables>,
    runs: readonly number[],
    nowMs: number,
  ): Promise<void> {
    const first = sql<number>`(select min(f.timestamp) from ingest_files f where f.run = ingest_runs.run)`;
    const last = sql<number>`(select max(f.timestamp) from ingest_files f where f.run = ingest_runs.run)`;
    for (const chunk of chunks([...new Set(runs)], IDS_PER_QUERY)) {
      await trx
        .updateTable('ingest_runs')
        .set({
          first_file_at: first,
          last_file_at: last,
          // OVERWATCH: (last − first + 60) div 60 in seconds; the times here are whole seconds in ms.
          length_minutes: sql<number>`(${last} - ${first}) / 60000 + 1`,
          updated_at: nowMs,
        })
        .where('run', 'in', chunk)
        .execute();
    }
  }

  async listRuns(limit: number, offset: number): Promise<{ rows: RunRow[]; total: number }> {
    const rows = await this.db
      .selectFrom('ingest_runs')
      .select(['run', 'mode', 'replay', 'first_file_at', 'last_file_at', 'length_minutes'])
      .orderBy('run', 'desc')
      .limit(limit)
      .offset(offset)
      .execute();
    const total = await this.db
      .selectFrom('ingest_runs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return { rows: rows.map(toRunRow), total: Number(total.n) };
  }

  async findRun(run: number): Promise<RunRow | undefined> {
    const row = await this.db
      .selectFrom('ingest_runs')
      .select(['run', 'mode', 'replay', 'first_file_at', 'last_file_at', 'length_minutes'])
      .where('run', '=', run)
      .executeTakeFirst();
    return row ? toRunRow(row) : undefined;
  }

  async countFiles(runs: readonly number[]): Promise<FileCount[]> {
    const counts: FileCount[] = [];
    for (const chunk of chunks(runs, IDS_PER_QUERY)) {
      const rows = await this.db
        .selectFrom('ingest_files')
        .select(['run', 'subsystem', (eb) => eb.fn.countAll<number>().as('n')])
        .where('run', 'in', chunk)
        .groupBy(['run', 'subsystem'])
        .execute();
      for (const row of rows)
        counts.push({ run: Number(row.run), subsystem: row.subsystem, count: Number(row.n) });
    }
    return counts;
  }

  async listFiles(run: number): Promise<FileRecord[]> {
    const rows = await this.db
      .selectFrom('ingest_files')
      .select(['run', 'subsystem', 'timestamp', 'size', 'path'])
      .where('run', '=', run)
      .orderBy('subsystem')
      .orderBy('timestamp')
      .orderBy('path')
      .execute();
    return rows.map((r) => ({
      run: Number(r.run),
      subsystem: r.subsystem,
      timestamp: Number(r.timestamp),
      size: Number(r.size),
      path: r.path,
    }));
  }

  async snapshot(): Promise<IngestSnapshot> {
    const runs = await this.db
      .selectFrom('ingest_runs')
      .select(['run', 'mode', 'replay', 'first_file_at', 'last_file_at', 'length_minutes'])
      .orderBy('run')
      .execute();
    const files = await this.db
      .selectFrom('ingest_files')
      .select(['run', 'subsystem', 'timestamp', 'size', 'path'])
      .execute();
    // Sorted here, not in SQL: PostgreSQL collations and SQLite's binary order differ.
    return {
      runs: runs.map(toRunRow),
      files: files
        .map((r) => ({
          run: Number(r.run),
          subsystem: r.subsystem,
          timestamp: Number(r.timestamp),
          size: Number(r.size),
          path: r.path,
        }))
        .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
    };
  }
}
