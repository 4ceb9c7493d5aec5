import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod';
import { requireRole } from '../http/require-role.js';
import { errorBodySchema } from '../http/error-mapping.js';
import { toIso } from '../http/api.js';
import type { AlertsService } from './alerts.service.js';
import { ALERT_SEVERITIES, type Alert } from './alerts.types.js';

export interface AlertsRoutesOptions {
  alerts: AlertsService;
}

const alertSchema = z.object({
  id: z.number().int(),
  code: z.string(),
  key: z.string().nullable(),
  severity: z.enum(ALERT_SEVERITIES),
  message: z.string(),
  details: z.unknown(),
  count: z.number().int(),
  firstAt: z.iso.datetime(),
  lastAt: z.iso.datetime(),
  notifiedAt: z.iso.datetime().nullable(),
  resolvedAt: z.iso.datetime().nullable(),
  state: z.enum(['active', 'resolved']),
});

function toApi(alert: Alert): z.infer<typeof alertSchema> {
  return {
    id: alert.id,
    code: alert.code,
    key: alert.key,
    severity: alert.severity,
    message: alert.message,
    details: alert.details,
    count: alert.count,
    firstAt: toIso(alert.firstAt),
    lastAt: toIso(alert.lastAt),
    notifiedAt: toIso(alert.notifiedAt),
    resolvedAt: toIso(alert.resolvedAt),
    state: alert.state,
  };
}

const requireOperator = requireRole('operator');

/** /alerts (mounted under /api/v1). */
export const alertsRoutes: FastifyPluginCallbackZod<AlertsRoutesOptions> = (app, { alerts }, done) => {
  app.get(
    '/alerts',
    {
      schema: {
        tags: ['alerts'],
        summary: 'Stored alerts, most recent activity first',
        querystring: z.object({
          state: z.enum(['active', 'resolved', 'all']).default('all'),
          limit: z.coerce.number().int().min(1).max(500).default(50),
          offset: z.coerce.number().int().min(0).default(0),
        }),
        response: {
          200: z.object({ items: z.array(alertSchema), total: z.number().int() }),
          400: errorBodySchema,
        },
      },
    },
    async (request) => {
      const page = await alerts.list(request.query);
      return { items: page.items.map(toApi), total: page.total };
    },
  );

  app.post(
    '/alerts/:id/resolve',
    {
      preHandler: (request: FastifyRequest) => requireOperator(request),
      schema: {
        tags: ['alerts'],
        summary: 'Resolve an alert (sends a "resolved" notification if it was active)',
        security: [{ bearer: [] }, { session: [] }],
        params: z.object({ id: z.coerce.number().int().positive() }),
        response: { 200: alertSchema, 401: errorBodySchema, 403: errorBodySchema, 404: errorBodySchema },
      },
    },
    async (request) => toApi(await alerts.resolveById(request.params.id)),
  );
  done();
};
