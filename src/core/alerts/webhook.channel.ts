import type { AlertChannel, AlertNotification } from './alerts.types.js';

export interface WebhookChannelOptions {
  url: string;
  /** Default 10 000. */
  timeoutMs?: number;
}

/**
 * POSTs each notification as JSON: `{ kind, alert: {…, firstAt: ISO, …} }`. A non-2xx answer
 * or a timeout is a failure.
 */
export function createWebhookChannel(options: WebhookChannelOptions): AlertChannel {
  const timeout = options.timeoutMs ?? 10_000;
  // Webhook URLs often embed a secret token: messages name the origin only.
  const origin = new URL(options.url).origin;
  return {
    name: 'webhook',
    async send({ kind, alert }: AlertNotification) {
      const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
      const payload = {
        kind,
        alert: {
          ...alert,
          firstAt: iso(alert.firstAt),
          lastAt: iso(alert.lastAt),
          notifiedAt: iso(alert.notifiedAt),
          reminderAt: iso(alert.reminderAt),
          resolvedAt: iso(alert.resolvedAt),
        },
      };
      const response = await fetch(options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
        signal: AbortSignal.timeout(timeout),
      });
      // Drain the body so the connection can be reused or closed.
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok)
        throw new Error(`webhook at ${origin} answered ${response.status} ${response.statusText}`);
    },
  };
}
