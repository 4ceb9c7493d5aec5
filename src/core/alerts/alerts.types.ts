export const ALERT_SEVERITIES = ['info', 'warning', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];
export const ALERT_STATES = ['active', 'resolved'] as const;
export type AlertState = (typeof ALERT_STATES)[number];

/** A stored alert. Times are unix ms. */
export interface Alert {
  id: number;
  /** Stable UPPER_SNAKE code, e.g. `INGEST_NAME_COLLISION`. */
  code: string;
  /** Tells apart alerts of one code about different things (a stream, a site); null when unused. */
  key: string | null;
  severity: AlertSeverity;
  /** The latest occurrence's message. */
  message: string;
  details: unknown;
  /** How many times it was raised while active. */
  count: number;
  firstAt: number;
  lastAt: number;
  notifiedAt: number | null;
  /** When the last reminder went out. */
  reminderAt: number | null;
  resolvedAt: number | null;
  state: AlertState;
}

export interface RaiseInput {
  /** Stable UPPER_SNAKE code, e.g. `TRANSFER_CHECKSUM_MISMATCH`. */
  code: string;
  severity: AlertSeverity;
  message: string;
  details?: unknown;
  /** Tells apart alerts of one code about different things (a stream, a site). */
  key?: string;
}

/**
 * What a module's service needs from alerts. Inject this (not AlertsService) so tests can pass
 * a fake or the real service.
 */
export interface AlertRaiser {
  /** Stores the alert (or counts a repeat) and notifies; channel failures are logged, not thrown. */
  raise(input: RaiseInput): Promise<Alert>;
  /** Resolves the active alert of `code` (and `key`); undefined when none was active. */
  resolve(code: string, key?: string): Promise<Alert | undefined>;
}

export type NotificationKind = 'raised' | 'reminder' | 'resolved';

/**
 * The part of alerts a module's service uses (ingest, transfer, audit): AlertsService satisfies
 * it, and a unit test may pass less (a sink that only records raises).
 */
export interface AlertSink {
  /** Stores and notifies (de-duplicated per code and key by the alerts service). */
  raise(input: RaiseInput): Promise<unknown>;
  /** Marks the active alert of `code` (and `key`) resolved, when the sink supports it. */
  resolve?(code: string, key?: string): Promise<unknown>;
}

export interface AlertNotification {
  kind: NotificationKind;
  alert: Alert;
}

/**
 * Where notifications go (log, email, webhook). `send` may throw; the alerts service logs the
 * failure and carries on.
 */
export interface AlertChannel {
  readonly name: string;
  send(notification: AlertNotification): Promise<void>;
  /** Releases connections; called once at shutdown. */
  close?(): Promise<void>;
}

/** One line that says what happened, for subjects and logs. */
export function notificationTitle({ kind, alert }: AlertNotification): string {
  const what =
    kind === 'raised' ? 'ALERT' : kind === 'reminder' ? `STILL ACTIVE (x${alert.count})` : 'RESOLVED';
  const key = alert.key === null ? '' : ` [${alert.key}]`;
  return `[custodian] ${what} ${alert.severity} ${alert.code}${key}: ${alert.message}`;
}
