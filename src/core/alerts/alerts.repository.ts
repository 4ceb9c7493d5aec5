import { sql, type Kysely, type Selectable } from 'kysely';
import { tables, type Database } from '../db/database.js';
import type { AlertsTable, AlertsTables } from './alerts.table.js';
import { ALERT_SEVERITIES, type Alert, type AlertSeverity, type AlertState } from './alerts.types.js';

export interface AlertOccurrence {
  code: string;
  key: string | null;
  severity: AlertSeverity;
  message: string;
  details: unknown;
}

function encodeDetails(details: unknown): string | null {
  if (details === undefined || details === null) return null;
  try {
    return JSON.stringify(details) ?? null;
  } catch {
    // Circular or BigInt-bearing details: keep a note rather than fail the alert.
    return JSON.stringify({ unserializable: true, type: typeof details });
  }
}

function decodeDetails(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function nullableNumber(value: number | null): number | null {
  return value === null ? null : Number(value);
}

function toAlert(row: Selectable<AlertsTable>): Alert {
  const severity = (ALERT_SEVERITIES as readonly string[]).includes(row.severity)
    ? (row.severity as AlertSeverity)
    : 'critical';
  return {
    id: Number(row.id),
    code: row.code,
    key: row.dedup_key === '' ? null : row.dedup_key,
    severity,
    message: row.message,
    details: decodeDetails(row.details),
    count: Number(row.count),
    firstAt: Number(row.first_at),
    lastAt: Number(row.last_at),
    notifiedAt: nullableNumber(row.notified_at),
    reminderAt: nullableNumber(row.reminder_at),
    resolvedAt: nullableNumber(row.resolved_at),
    state: row.state === 'resolved' ? 'resolved' : 'active',
  };
}

/** All SQL of core/alerts; portable across SQLite and PostgreSQL. */
export class AlertsRepository {
  private readonly db: Kysely<AlertsTables>;

  constructor(database: Database) {
    this.db = tables<AlertsTables>(database);
  }

  /** Counts one more occurrence of the active alert, if there is one. */
  async bumpActive(occurrence: AlertOccurrence, now: number): Promise<Alert | undefined> {
    const row = await this.db
      .updateTable('alerts')
      .set((eb) => ({
        count: eb('count', '+', 1),
        last_at: now,
        severity: occurrence.severity,
        message: occurrence.message,
        details: encodeDetails(occurrence.details),
      }))
      .where('code', '=', occurrence.code)
      .where('dedup_key', '=', occurrence.key ?? '')
      .where('state', '=', 'active')
      .returningAll()
      .executeTakeFirst();
    return row && toAlert(row);
  }

  /** Inserts a new active alert, marked as notified now. Fails if one is active already. */
  async insertActive(occurrence: AlertOccurrence, now: number): Promise<Alert> {
    const row = await this.db
      .insertInto('alerts')
      .values({
        code: occurrence.code,
        dedup_key: occurrence.key ?? '',
        severity: occurrence.severity,
        message: occurrence.message,
        details: encodeDetails(occurrence.details),
        count: 1,
        first_at: now,
        last_at: now,
        notified_at: now,
        state: 'active',
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toAlert(row);
  }

  /**
   * Marks a reminder as sent when the last notification is at least `intervalMs` old. Only one
   * of several processes raising the same alert wins, so only one reminder goes out.
   */
  async claimReminder(id: number, now: number, intervalMs: number): Promise<Alert | undefined> {
    const row = await this.db
      .updateTable('alerts')
      .set({ reminder_at: now })
      .where('id', '=', id)
      .where('state', '=', 'active')
      .where(sql<number>`coalesce(reminder_at, notified_at, first_at)`, '<=', now - intervalMs)
      .returningAll()
      .executeTakeFirst();
    return row && toAlert(row);
  }

  async resolveActive(code: string, key: string | null, now: number): Promise<Alert | undefined> {
    const row = await this.db
      .updateTable('alerts')
      .set({ state: 'resolved', resolved_at: now })
      .where('code', '=', code)
      .where('dedup_key', '=', key ?? '')
      .where('state', '=', 'active')
      .returningAll()
      .executeTakeFirst();
    return row && toAlert(row);
  }

  async resolveById(id: number, now: number): Promise<Alert | undefined> {
    const row = await this.db
      .updateTable('alerts')
      .set({ state: 'resolved', resolved_at: now })
      .where('id', '=', id)
      .where('state', '=', 'active')
      .returningAll()
      .executeTakeFirst();
    return row && toAlert(row);
  }

  async findById(id: number): Promise<Alert | undefined> {
    const row = await this.db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toAlert(row);
  }

  /** Newest activity first. */
  async list(query: {
    state?: AlertState;
    limit: number;
    offset: number;
  }): Promise<{ items: Alert[]; total: number }> {
    let select = this.db.selectFrom('alerts');
    if (query.state) select = select.where('state', '=', query.state);
    const [rows, total] = await Promise.all([
      select
        .selectAll()
        .orderBy('last_at', 'desc')
        .orderBy('id', 'desc')
        .limit(query.limit)
        .offset(query.offset)
        .execute(),
      select.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
    ]);
    return { items: rows.map(toAlert), total: Number(total.n) };
  }
}
