import type { Transporter } from 'nodemailer';
import { notificationTitle, type Alert, type AlertChannel, type AlertNotification } from './alerts.types.js';

export interface EmailChannelOptions {
  /** `smtp://user:pass@host:port` or `smtps://…` (alerts.email.url). */
  url: string;
  from: string;
  to: readonly string[];
  /** Connection, greeting and socket timeout, ms. Default 15 000. */
  timeoutMs?: number;
}

function iso(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString();
}

function body({ kind, alert }: AlertNotification): string {
  const lines = [
    kind === 'resolved'
      ? 'This alert is resolved.'
      : kind === 'reminder'
        ? 'This alert is still active.'
        : 'A new alert was raised.',
    '',
    `code:      ${alert.code}${alert.key === null ? '' : ` (${alert.key})`}`,
    `severity:  ${alert.severity}`,
    `message:   ${alert.message}`,
    `count:     ${alert.count}`,
    `first:     ${iso(alert.firstAt)}`,
    `last:      ${iso(alert.lastAt)}`,
  ];
  if (alert.resolvedAt !== null) lines.push(`resolved:  ${iso(alert.resolvedAt)}`);
  if (alert.details !== null && alert.details !== undefined)
    lines.push('', 'details:', JSON.stringify(alert.details, null, 2));
  return `${lines.join('\n')}\n`;
}

/** Sends each notification as a plain-text mail over SMTP (nodemailer). */
export function createEmailChannel(options: EmailChannelOptions): AlertChannel {
  const timeout = options.timeoutMs ?? 15_000;
  // nodemailer loads with the first mail, not at start-up: every command that opens the app
  // builds the alert channels, and most never send one.
  let transport: Promise<Transporter> | undefined;
  const open = () =>
    (transport ??= import('nodemailer').then(({ default: nodemailer }) =>
      nodemailer.createTransport({
        url: options.url,
        connectionTimeout: timeout,
        greetingTimeout: timeout,
        socketTimeout: timeout,
      }),
    ));
  return {
    name: 'email',
    async send(notification: AlertNotification) {
      const mailer = await open();
      await mailer.sendMail({
        from: options.from,
        to: [...options.to],
        subject: notificationTitle(notification),
        text: body(notification),
        headers: { 'X-Custodian-Alert': alertHeader(notification.alert) },
      });
    },
    async close() {
      // Nothing to close when no mail was sent (or nodemailer failed to load).
      (await transport?.catch(() => undefined))?.close();
    },
  };
}

function alertHeader(alert: Alert): string {
  return `${alert.code}; id=${alert.id}`;
}
