import { sql, type Kysely } from 'kysely';
import { tables, type Database } from '../../core/db/database.js';
import type { AuditRunsTable, AuditTables } from './audit.table.js';
import type {
  AuditEntry,
  AuditRun,
  EntryKind,
  RunOutcome,
  SiteMode,
  SiteStatus,
  UnlistedDirectory,
} from './audit.types.js';

export interface SiteRow {
  name: string;
  status: SiteStatus;
  mode: SiteMode;
  haltRequested: boolean;
}

export interface RunCounts {
  files: number;
  directories: number;
  missing: number;
  missingBytes: number;
  orphans: number;
  orphanBytes: number;
  sizeMismatches: number;
  emptyDirs: number;
  unlisted: UnlistedDirectory[];
}

const ENTRIES_PER_STATEMENT = 500;
const iso = (ms: number) => new Date(ms).toISOString();

function toRun(row: AuditRunsTable & { id: number }): AuditRun {
  return {
    id: row.id,
    site: row.site,
    startedAt: iso(row.started_at),
    finishedAt: row.finished_at === null ? null : iso(row.finished_at),
    durationSeconds: row.finished_at === null ? null : (row.finished_at - row.started_at) / 1000,
    files: row.files,
    directories: row.directories,
    missing: row.missing,
    missingBytes: row.missing_bytes,
    orphans: row.orphans,
    orphanBytes: row.orphan_bytes,
    sizeMismatches: row.size_mismatches,
    emptyDirs: row.empty_dirs,
    unlisted: row.unlisted,
    outcome: row.outcome as RunOutcome,
    message: row.message,
  };
}

/** All SQL of the audit module; portable across SQLite and PostgreSQL. */
export class AuditRepository {
  private readonly db: Kysely<AuditTables>;

  constructor(database: Database) {
    this.db = tables<AuditTables>(database);
  }

  /** Adds configured sites not seen before: ready, in dry mode (report only until set to act). */
  async ensureSites(names: readonly string[], now: number): Promise<void> {
    for (const name of names) {
      await this.db
        .insertInto('audit_sites')
        .values({ name, status: 'ready', mode: 'dry', halt_requested: 0, updated_at: now })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
    }
  }

  async findSite(name: string): Promise<SiteRow | undefined> {
    const row = await this.db
      .selectFrom('audit_sites')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    return row
      ? {
          name: row.name,
          status: row.status as SiteStatus,
          mode: row.mode as SiteMode,
          haltRequested: row.halt_requested === 1,
        }
      : undefined;
  }

  async updateSite(
    name: string,
    change: { status?: SiteStatus; mode?: SiteMode; haltRequested?: boolean },
    now: number,
  ): Promise<void> {
    await this.db
      .updateTable('audit_sites')
      .set({
        ...(change.status === undefined ? {} : { status: change.status }),
        ...(change.mode === undefined ? {} : { mode: change.mode }),
        ...(change.haltRequested === undefined ? {} : { halt_requested: change.haltRequested ? 1 : 0 }),
        updated_at: now,
      })
      .where('name', '=', name)
      .execute();
  }

  /** ready → running, atomically; false when the site is not ready (running elsewhere, halted, disabled). */
  async claimSite(name: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('audit_sites')
      .set({ status: 'running', halt_requested: 0, updated_at: now })
      .where('name', '=', name)
      .where('status', '=', 'ready')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Ready sites among `names`, in audit order: never audited first, then the one audited
   * longest ago.
   */
  async pickOrder(names: readonly string[]): Promise<string[]> {
    if (names.length === 0) return [];
    const rows = await this.db
      .selectFrom('audit_sites as s')
      .leftJoin('audit_runs as r', 'r.site', 's.name')
      .select(['s.name', sql<number | null>`max(r.started_at)`.as('last')])
      .where('s.status', '=', 'ready')
      .where('s.name', 'in', [...names])
      .groupBy('s.name')
      .execute();
    return rows
      .sort((a, b) => {
        if (a.last === null || b.last === null) return a.last === null ? (b.last === null ? 0 : -1) : 1;
        return Number(a.last) - Number(b.last) || (a.name < b.name ? -1 : 1);
      })
      .map((r) => r.name);
  }

  async startRun(site: string, now: number): Promise<number> {
    const row = await this.db
      .insertInto('audit_runs')
      .values({
        site,
        started_at: now,
        finished_at: null,
        files: 0,
        directories: 0,
        missing: 0,
        missing_bytes: 0,
        orphans: 0,
        orphan_bytes: 0,
        size_mismatches: 0,
        empty_dirs: 0,
        unlisted: 0,
        outcome: 'running',
        message: null,
        unlisted_json: '[]',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return Number(row.id);
  }

  async finishRun(
    id: number,
    outcome: RunOutcome,
    counts: Partial<RunCounts>,
    message: string | null,
    now: number,
  ): Promise<void> {
    await this.db
      .updateTable('audit_runs')
      .set({
        finished_at: now,
        outcome,
        message,
        ...(counts.files === undefined ? {} : { files: counts.files }),
        ...(counts.directories === undefined ? {} : { directories: counts.directories }),
        ...(counts.missing === undefined ? {} : { missing: counts.missing }),
        ...(counts.missingBytes === undefined ? {} : { missing_bytes: counts.missingBytes }),
        ...(counts.orphans === undefined ? {} : { orphans: counts.orphans }),
        ...(counts.orphanBytes === undefined ? {} : { orphan_bytes: counts.orphanBytes }),
        ...(counts.sizeMismatches === undefined ? {} : { size_mismatches: counts.sizeMismatches }),
        ...(counts.emptyDirs === undefined ? {} : { empty_dirs: counts.emptyDirs }),
        ...(counts.unlisted === undefined
          ? {}
          : { unlisted: counts.unlisted.length, unlisted_json: JSON.stringify(counts.unlisted) }),
      })
      .where('id', '=', id)
      .execute();
  }

  /** Runs of a site, newest first. */
  async runs(site: string, limit: number): Promise<AuditRun[]> {
    const rows = await this.db
      .selectFrom('audit_runs')
      .selectAll()
      .where('site', '=', site)
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => toRun(r as AuditRunsTable & { id: number }));
  }

  /** The latest run that compared (ok or over-threshold), and the one before it. */
  async comparedRuns(site: string): Promise<{ id: number; outcome: RunOutcome }[]> {
    const rows = await this.db
      .selectFrom('audit_runs')
      .select(['id', 'outcome'])
      .where('site', '=', site)
      .where('outcome', 'in', ['ok', 'over-threshold'])
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(2)
      .execute();
    return rows.map((r) => ({ id: Number(r.id), outcome: r.outcome as RunOutcome }));
  }

  async unlistedOf(runId: number): Promise<UnlistedDirectory[]> {
    const row = await this.db
      .selectFrom('audit_runs')
      .select('unlisted_json')
      .where('id', '=', runId)
      .executeTakeFirst();
    return row ? (JSON.parse(row.unlisted_json) as UnlistedDirectory[]) : [];
  }

  /** Records that run `runId` reported these paths: first/last seen, and the run before. */
  async recordEntries(
    site: string,
    kind: EntryKind,
    runId: number,
    paths: readonly string[],
    now: number,
  ): Promise<void> {
    for (let i = 0; i < paths.length; i += ENTRIES_PER_STATEMENT) {
      const values = paths.slice(i, i + ENTRIES_PER_STATEMENT).map((path) => ({
        site,
        kind,
        path,
        first_run: runId,
        first_seen: now,
        last_run: runId,
        last_seen: now,
        previous_run: null,
        acted_at: null,
      }));
      await this.db
        .insertInto('audit_entries')
        .values(values)
        .onConflict((oc) =>
          oc.columns(['site', 'kind', 'path']).doUpdateSet({
            previous_run: sql`audit_entries.last_run`,
            last_run: runId,
            last_seen: now,
          }),
        )
        .execute();
    }
  }

  /**
   * Entries the run reported; with `confirmedBy`, only those the run `confirmedBy` reported too
   * (the two-run confirmation of missing files).
   */
  async entries(
    site: string,
    kind: EntryKind,
    runId: number,
    options: { confirmedBy?: number; limit?: number } = {},
  ): Promise<AuditEntry[]> {
    let query = this.db
      .selectFrom('audit_entries')
      .selectAll()
      .where('site', '=', site)
      .where('kind', '=', kind)
      .where('last_run', '=', runId);
    if (options.confirmedBy !== undefined) query = query.where('previous_run', '=', options.confirmedBy);
    if (options.limit !== undefined) query = query.limit(options.limit);
    const rows = await query.orderBy('path').execute();
    return rows.map((r) => ({
      path: r.path,
      firstSeen: iso(r.first_seen),
      lastSeen: iso(r.last_seen),
      actedAt: r.acted_at === null ? null : iso(r.acted_at),
    }));
  }

  async markActed(
    site: string,
    kind: EntryKind,
    runId: number,
    now: number,
    options: { confirmedBy?: number } = {},
  ): Promise<void> {
    let query = this.db
      .updateTable('audit_entries')
      .set({ acted_at: now })
      .where('site', '=', site)
      .where('kind', '=', kind)
      .where('last_run', '=', runId);
    if (options.confirmedBy !== undefined) query = query.where('previous_run', '=', options.confirmedBy);
    await query.execute();
  }
}
