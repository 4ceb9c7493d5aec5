import type { Generated } from 'kysely';

/** The alerts table (times are unix ms UTC). */
export interface AlertsTable {
  id: Generated<number>;
  code: string;
  /** '' when the alert has no key, so the unique index can de-duplicate on (code, dedup_key). */
  dedup_key: string;
  severity: string;
  message: string;
  /** JSON text, or null. */
  details: string | null;
  count: number;
  first_at: number;
  last_at: number;
  notified_at: number | null;
  reminder_at: number | null;
  resolved_at: number | null;
  /** active | resolved */
  state: string;
}

export interface AlertsTables {
  alerts: AlertsTable;
}
