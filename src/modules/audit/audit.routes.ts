import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { requireRole } from '../../core/http/require-role.js';
import {
  entryListSchema,
  entryParamsSchema,
  entryQuerySchema,
  runBodySchema,
  runQueuedSchema,
  siteParamsSchema,
  siteReportSchema,
  siteSummarySchema,
  sitesResponseSchema,
  statusBodySchema,
} from './audit.schema.js';
import type { AuditService } from './audit.service.js';

export interface AuditRoutesOptions {
  service: AuditService;
  /** Queues an audit of the site (or of the next site by the picking rule); returns its name. */
  queueRun: (site?: string) => Promise<string>;
}

/** `/api/v1/audit/...`: summaries and lists for readers, status changes and runs for operators. */
export const auditRoutes: FastifyPluginAsyncZod<AuditRoutesOptions> = (app, { service, queueRun }) => {
  app.get(
    '/audit/sites',
    {
      schema: {
        tags: ['audit'],
        summary: 'Every site with its status and latest run',
        response: { 200: sitesResponseSchema },
      },
    },
    async () => ({ sites: await service.sites() }),
  );

  app.get(
    '/audit/sites/:site',
    {
      schema: {
        tags: ['audit'],
        summary: 'One site: status, runs newest first, unlisted directories of the latest run',
        params: siteParamsSchema,
        response: { 200: siteReportSchema },
      },
    },
    (request) => service.report(request.params.site),
  );

  app.get(
    '/audit/sites/:site/entries/:kind',
    {
      schema: {
        tags: ['audit'],
        summary:
          'The missing / orphan / empty / size-mismatch list of the latest run (format=text: one path per line)',
        params: entryParamsSchema,
        querystring: entryQuerySchema,
      },
    },
    async (request, reply) => {
      const list = await service.entries(request.params.site, request.params.kind);
      if (request.query.format === 'text') {
        return reply
          .type('text/plain; charset=utf-8')
          .header('content-disposition', `attachment; filename="${list.site}_${list.kind}.txt"`)
          .send(list.entries.map((e) => `${e.path}\n`).join(''));
      }
      return reply.send(entryListSchema.parse(list));
    },
  );

  app.post(
    '/audit/sites/:site/entries/:kind/acted',
    {
      preHandler: requireRole('operator'),
      schema: {
        tags: ['audit'],
        summary: 'Record that the caller acted on the list (as deletion and retransfer tools do)',
        params: entryParamsSchema,
        response: { 200: entryListSchema },
      },
    },
    (request) => service.entries(request.params.site, request.params.kind, { acting: true }),
  );

  app.post(
    '/audit/sites/:site/status',
    {
      preHandler: requireRole('operator'),
      schema: {
        tags: ['audit'],
        summary: 'ready | halt | disable | act | dry',
        params: siteParamsSchema,
        body: statusBodySchema,
        response: { 200: siteSummarySchema },
      },
    },
    (request) => service.setStatus(request.params.site, request.body.action),
  );

  app.post(
    '/audit/runs',
    {
      preHandler: requireRole('operator'),
      schema: {
        tags: ['audit'],
        summary: 'Queue an audit of the site, or of the next site by the picking rule',
        body: runBodySchema,
        response: { 202: runQueuedSchema },
      },
    },
    async (request, reply) => reply.code(202).send({ queued: await queueRun(request.body.site) }),
  );

  return Promise.resolve();
};
