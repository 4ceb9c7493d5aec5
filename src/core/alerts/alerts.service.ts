import { InputError, NotFoundError, coerceError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AlertsRepository } from './alerts.repository.js';
import type {
  Alert,
  AlertChannel,
  AlertRaiser,
  AlertState,
  NotificationKind,
  RaiseInput,
} from './alerts.types.js';

export type { RaiseInput } from './alerts.types.js';

export interface AlertsServiceOptions {
  repository: AlertsRepository;
  channels: readonly AlertChannel[];
  logger: Logger;
  /** A repeating alert is re-sent at most once per this many minutes. Default 60. */
  reminderMinutes?: number;
  /** unix ms; injectable for tests. Default Date.now. */
  now?: () => number;
}

export interface AlertListQuery {
  /** Default 'all'. */
  state?: AlertState | 'all';
  /** Default 50. */
  limit?: number;
  /** Default 0. */
  offset?: number;
}

const CODE_PATTERN = /^[A-Z][A-Z0-9_]{0,99}$/;

/**
 * Stores alerts and notifies channels. An alert is active from its first raise until it is
 * resolved; raising it again while active only counts (and sends at most one reminder per
 * `reminderMinutes`); resolving sends one "resolved" notification. Channel failures are logged
 * and never reach the caller: the stored alert is the record that counts.
 */
export class AlertsService implements AlertRaiser {
  private readonly repository: AlertsRepository;
  private readonly channels: readonly AlertChannel[];
  private readonly logger: Logger;
  private readonly reminderMs: number;
  private readonly now: () => number;

  constructor(options: AlertsServiceOptions) {
    this.repository = options.repository;
    this.channels = options.channels;
    this.logger = options.logger;
    this.reminderMs = (options.reminderMinutes ?? 60) * 60_000;
    this.now = options.now ?? Date.now;
  }

  async raise(input: RaiseInput): Promise<Alert> {
    if (!CODE_PATTERN.test(input.code)) {
      throw new InputError(
        'ALERT_BAD_CODE',
        `alert code "${input.code}" is not valid: use UPPER_SNAKE, e.g. INGEST_NAME_COLLISION`,
      );
    }
    const occurrence = {
      code: input.code,
      key: input.key ?? null,
      severity: input.severity,
      message: input.message,
      details: input.details,
    };
    const now = this.now();
    const existing = await this.repository.bumpActive(occurrence, now);
    if (existing) {
      const reminder = await this.repository.claimReminder(existing.id, now, this.reminderMs);
      if (reminder) await this.notify('reminder', reminder);
      return reminder ?? existing;
    }
    let created: Alert;
    try {
      created = await this.repository.insertActive(occurrence, now);
    } catch (error) {
      // Another process inserted the same active alert between our update and insert: count
      // this occurrence on it instead.
      const raced = await this.repository.bumpActive(occurrence, now);
      if (raced) return raced;
      throw coerceError(error);
    }
    await this.notify('raised', created);
    return created;
  }

  /** Resolves the active alert of `code` (and `key`); undefined when none was active. */
  async resolve(code: string, key?: string): Promise<Alert | undefined> {
    const resolved = await this.repository.resolveActive(code, key ?? null, this.now());
    if (resolved) await this.notify('resolved', resolved);
    return resolved;
  }

  /** Resolves an alert by id (from the dashboard); resolving a resolved alert changes nothing. */
  async resolveById(id: number): Promise<Alert> {
    const resolved = await this.repository.resolveById(id, this.now());
    if (resolved) {
      await this.notify('resolved', resolved);
      return resolved;
    }
    return this.getAlert(id);
  }

  async getAlert(id: number): Promise<Alert> {
    const alert = await this.repository.findById(id);
    if (!alert) throw new NotFoundError('ALERT_NOT_FOUND', `there is no alert ${id}`);
    return alert;
  }

  list(query: AlertListQuery = {}): Promise<{ items: Alert[]; total: number }> {
    const state = query.state === 'all' ? undefined : query.state;
    return this.repository.list({ state, limit: query.limit ?? 50, offset: query.offset ?? 0 });
  }

  /** Closes the channels' connections. */
  async close(): Promise<void> {
    await Promise.all(this.channels.map((channel) => this.guard(channel, () => channel.close?.())));
  }

  private async notify(kind: NotificationKind, alert: Alert): Promise<void> {
    await Promise.all(
      this.channels.map((channel) => this.guard(channel, () => channel.send({ kind, alert }), alert)),
    );
  }

  private async guard(
    channel: AlertChannel,
    action: () => Promise<void> | undefined,
    alert?: Alert,
  ): Promise<void> {
    try {
      await action();
    } catch (error) {
      this.logger.error(
        {
          err: coerceError(error),
          channel: channel.name,
          alert: alert && { id: alert.id, code: alert.code },
        },
        `alert channel ${channel.name} failed: ${coerceError(error).message}`,
      );
    }
  }
}
