import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { requireRole } from '../../core/http/require-role.js';
import {
  archiveResultSchema,
  catchupResultSchema,
  exposureHistorySchema,
  exposureParamsSchema,
  exposureVerifyResultSchema,
  nightActionBodySchema,
  statusPageSchema,
  statusQuerySchema,
  verifyBodySchema,
} from './transfer.schema.js';
import type { TransferService } from './transfer.service.js';

export interface TransferRoutesOptions {
  service: TransferService;
}

/** `/api/v1/transfer/...`: status for everyone who may read, actions for operators. */
export const transferRoutes: FastifyPluginAsyncZod<TransferRoutesOptions> = (app, { service }) => {
  app.get(
    '/transfer/status',
    {
      schema: {
        tags: ['transfer'],
        summary: 'Nights (newest first) with the latest state of every stage of every exposure',
        querystring: statusQuerySchema,
        response: { 200: statusPageSchema },
      },
    },
    (request) => service.statusPage(request.query),
  );

  app.get(
    '/transfer/status/:stream/:night/:exposure',
    {
      schema: {
        tags: ['transfer'],
        summary: 'One exposure: the latest state of each stage and every attempt, oldest first',
        params: exposureParamsSchema,
        response: { 200: exposureHistorySchema },
      },
    },
    (request) => {
      const { stream, ...ref } = request.params;
      return service.history(stream, ref);
    },
  );

  app.post(
    '/transfer/verify',
    {
      preHandler: requireRole('operator'),
      schema: {
        tags: ['transfer'],
        summary: 'Verify a published exposure against its manifest again and record the result',
        body: verifyBodySchema,
        response: { 200: exposureVerifyResultSchema },
      },
    },
    async (request) => {
      const { stream, ...ref } = request.body;
      return { ...request.body, result: await service.verifyExposure(stream, ref) };
    },
  );

  app.post(
    '/transfer/catchup',
    {
      preHandler: requireRole('operator'),
      schema: {
        tags: ['transfer'],
        summary: 'Re-sync a night: late files of published exposures are copied and verified again',
        body: nightActionBodySchema,
        response: { 200: catchupResultSchema },
      },
    },
    (request) => service.catchup(request.body.stream, request.body.night, { dryRun: request.body.dryRun }),
  );

  app.post(
    '/transfer/archive',
    {
      preHandler: requireRole('operator'),
      schema: {
        tags: ['transfer'],
        summary: 'Archive a night into <stream>_<NIGHT>.tar with its index, verified, and record backup',
        body: nightActionBodySchema,
        response: { 200: archiveResultSchema },
      },
    },
    (request) => service.archive(request.body.stream, request.body.night, { dryRun: request.body.dryRun }),
  );

  return Promise.resolve();
};
