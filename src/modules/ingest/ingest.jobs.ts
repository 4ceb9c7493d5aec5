import { defineTask, type TaskDefinition } from '../../core/queue/job-queue.js';
import { ingestPassPayloadSchema, type IngestPassPayload } from './ingest.schema.js';
import type { IngestService } from './ingest.service.js';

export const INGEST_PASS_TASK = 'ingest:pass';

/**
 * `ingest:pass` runs one organize pass. Idempotent: a pass that runs twice (a retry after a
 * crash) finds the files already moved and finishes whatever the first one left.
 */
export function ingestPassTask(
  service: () => Promise<IngestService> | IngestService,
): TaskDefinition<IngestPassPayload> {
  return defineTask({
    name: INGEST_PASS_TASK,
    schema: ingestPassPayloadSchema,
    handler: async () => {
      await (await service()).runPass();
    },
  });
}

/** Every task of the module, for `queue.register`. */
export function ingestTasks(
  service: () => Promise<IngestService> | IngestService,
): TaskDefinition<IngestPassPayload>[] {
  return [ingestPassTask(service)];
}
