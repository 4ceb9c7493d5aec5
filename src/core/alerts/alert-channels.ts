import type { AlertsConfig } from '../config/config.schema.js';
import type { Logger } from '../logger.js';
import type { AlertChannel } from './alerts.types.js';
import { createLogChannel } from './log.channel.js';
import { createEmailChannel } from './email.channel.js';
import { createWebhookChannel } from './webhook.channel.js';

/** The log channel always, plus email and webhook when configured. */
export function createAlertChannels(config: AlertsConfig, logger: Logger): AlertChannel[] {
  const channels: AlertChannel[] = [createLogChannel(logger)];
  if (config.email) channels.push(createEmailChannel(config.email));
  if (config.webhook) channels.push(createWebhookChannel(config.webhook));
  return channels;
}
