import { defineTask, type TaskDefinition } from '../../core/queue/job-queue.js';
import { isCustodianError } from '../../core/errors.js';
import { sitePayloadSchema, type SitePayload } from './audit.schema.js';
import type { AuditService } from './audit.service.js';

export const AUDIT_SITE_TASK = 'audit:site';

export function siteJobKey(payload: SitePayload): string {
  return `${AUDIT_SITE_TASK}:${payload.site}`;
}

/**
 * `audit:site` audits one site. A site that is not ready (running elsewhere, halted, disabled)
 * is left alone: the job succeeds without doing anything, and the scheduler picks again later.
 */
export function auditSiteTask(
  service: () => Promise<AuditService> | AuditService,
): TaskDefinition<SitePayload> {
  return defineTask({
    name: AUDIT_SITE_TASK,
    schema: sitePayloadSchema,
    handler: async (payload, context) => {
      try {
        await (await service()).runSite(payload.site, { signal: context.signal });
      } catch (error) {
        if (isCustodianError(error) && error.kind === 'ConflictError') return;
        throw error;
      }
    },
  });
}

export function auditTasks(
  service: () => Promise<AuditService> | AuditService,
): TaskDefinition<SitePayload>[] {
  return [auditSiteTask(service)];
}
