import { defineTask, type TaskDefinition } from '../../core/queue/job-queue.js';
import { exposurePayloadSchema, type ExposurePayload } from './transfer.schema.js';
import type { TransferService } from './transfer.service.js';

export const TRANSFER_EXPOSURE_TASK = 'transfer:exposure';

/** The queue key of an exposure: a pending job for it is replaced, never duplicated. */
export function exposureJobKey(payload: ExposurePayload): string {
  return `${TRANSFER_EXPOSURE_TASK}:${payload.stream}/${payload.night}/${payload.exposure}`;
}

/**
 * `transfer:exposure` copies, verifies and publishes one exposure. Idempotent: a published
 * exposure is left alone, a staged one is resumed, and the per-exposure lock makes a second
 * worker that gets the same exposure at the same time return at once.
 */
export function transferExposureTask(
  service: () => Promise<TransferService> | TransferService,
): TaskDefinition<ExposurePayload> {
  return defineTask({
    name: TRANSFER_EXPOSURE_TASK,
    schema: exposurePayloadSchema,
    handler: async (payload, context) => {
      const { stream, ...ref } = payload;
      await (await service()).transferExposure(stream, ref, { signal: context.signal });
    },
  });
}

export function transferTasks(
  service: () => Promise<TransferService> | TransferService,
): TaskDefinition<ExposurePayload>[] {
  return [transferExposureTask(service)];
}
