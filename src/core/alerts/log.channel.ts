import type { Logger } from '../logger.js';
import { notificationTitle, type AlertChannel, type AlertNotification } from './alerts.types.js';

/** Writes every notification to the log, at a level that follows the severity. */
export function createLogChannel(logger: Logger): AlertChannel {
  return {
    name: 'log',
    send(notification: AlertNotification) {
      const { kind, alert } = notification;
      const fields = {
        alert: { id: alert.id, code: alert.code, key: alert.key, count: alert.count, details: alert.details },
        kind,
      };
      const title = notificationTitle(notification);
      if (kind === 'resolved' || alert.severity === 'info') logger.info(fields, title);
      else if (alert.severity === 'warning') logger.warn(fields, title);
      else logger.error(fields, title);
      return Promise.resolve();
    },
  };
}
