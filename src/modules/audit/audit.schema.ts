import { z } from 'zod';
import { ENTRY_KINDS, STATUS_ACTIONS } from './audit.types.js';

const SITE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const site = z
  .object({
    /** Used in run records, report file names and URLs. */
    name: z.string().regex(SITE_NAME_RE, 'site names are letters, digits, "_", "." and "-" (at most 64)'),
    /** `file:///path`, `ssh://[user@]host[:port]/path` or `root://host[:port]//path`. */
    storage: z.string().min(1),
    /** Top-level directories to check, relative to the storage root. */
    directories: z
      .array(
        z
          .string()
          .min(1)
          .refine((d) => !d.startsWith('/') && !d.split('/').includes('..'), {
            message: 'directories are relative to the storage root and may not contain ".."',
          }),
      )
      .min(1),
    /** Directories listed at once. Default 8. */
    concurrency: z.number().int().min(1).max(256).default(8),
    /** Further attempts for a directory that fails. Default 2. */
    retries: z.number().int().min(0).max(20).default(2),
    /** Bound of one directory listing, seconds. Default 300. */
    timeoutSeconds: z.number().positive().default(300),
    /** A dump file of what the site should hold, or `catalog` for Custodian's own file records. */
    inventory: z.string().min(1),
    /** Private key for an ssh site. */
    sshIdentity: z.string().min(1).optional(),
    /** Extra ssh `-o Key=Value` options. */
    sshOptions: z
      .array(z.string().regex(/^[A-Za-z][A-Za-z0-9]*=\S/, 'ssh options are Key=Value'))
      .default([]),
  })
  .strict();

/** The `audit:` config section (issue 4). Relative paths resolve against the config file's folder. */
export const auditConfigSchema = z
  .object({
    /** Files younger than this on either side are never reported. Default 5. */
    ignoreAgeDays: z.number().min(0).default(5),
    /** Substrings: orphans and empty directories containing one are not reported. */
    ignorePatterns: z.array(z.string().min(1)).default([]),
    /** Above either threshold: report and alert, but mark nothing for action. Default 10000. */
    maxMissing: z.number().int().min(0).default(10000),
    maxOrphans: z.number().int().min(0).default(10000),
    /** Where listings and report files go (`<reportsDir>/<site>/<run>/`). Default ./audit-reports. */
    reportsDir: z.string().min(1).default('./audit-reports'),
    /** Pause between scheduler passes (each picks one site). Default 600. */
    intervalSeconds: z.number().positive().default(600),
    /** `audit watch` stops at the next loop while this file exists. */
    killFile: z.string().optional(),
    sites: z
      .array(site)
      .min(1)
      .refine((list) => new Set(list.map((s) => s.name)).size === list.length, {
        message: 'site names must be unique',
      }),
  })
  .strict();

export type AuditConfig = z.infer<typeof auditConfigSchema>;
export type SiteConfig = AuditConfig['sites'][number];

export const siteNameSchema = z.string().regex(SITE_NAME_RE, 'not a site name');
export const statusActionSchema = z.enum(STATUS_ACTIONS);
export const entryKindSchema = z.enum(ENTRY_KINDS);

// ---- job payloads ------------------------------------------------------------------------------

export const sitePayloadSchema = z.object({ site: siteNameSchema });
export type SitePayload = z.infer<typeof sitePayloadSchema>;

// ---- HTTP ----------------------------------------------------------------------------------------

const runSchema = z.object({
  id: z.number(),
  site: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  durationSeconds: z.number().nullable(),
  files: z.number(),
  directories: z.number(),
  missing: z.number(),
  missingBytes: z.number(),
  orphans: z.number(),
  orphanBytes: z.number(),
  sizeMismatches: z.number(),
  emptyDirs: z.number(),
  unlisted: z.number(),
  outcome: z.enum(['running', 'ok', 'over-threshold', 'halted', 'failed']),
  message: z.string().nullable(),
});

export const siteSummarySchema = z.object({
  name: z.string(),
  storage: z.string(),
  status: z.enum(['ready', 'running', 'halted', 'disabled']),
  mode: z.enum(['dry', 'act']),
  haltRequested: z.boolean(),
  lastRun: runSchema.nullable(),
  maxMissing: z.number(),
  maxOrphans: z.number(),
});

export const sitesResponseSchema = z.object({ sites: z.array(siteSummarySchema) });

export const siteReportSchema = siteSummarySchema.extend({
  runs: z.array(runSchema),
  unlistedDirectories: z.array(z.object({ path: z.string(), reason: z.string() })),
});

export const entryListSchema = z.object({
  site: z.string(),
  kind: entryKindSchema,
  runId: z.number().nullable(),
  forAction: z.boolean(),
  reason: z.string().nullable(),
  actedAt: z.string().nullable(),
  entries: z.array(
    z.object({
      path: z.string(),
      firstSeen: z.string(),
      lastSeen: z.string(),
      actedAt: z.string().nullable(),
    }),
  ),
});

export const siteParamsSchema = z.object({ site: siteNameSchema });
export const entryParamsSchema = z.object({ site: siteNameSchema, kind: entryKindSchema });
export const entryQuerySchema = z.object({ format: z.enum(['json', 'text']).default('json') });
export const statusBodySchema = z.object({ action: statusActionSchema });
export const runBodySchema = z.object({ site: siteNameSchema.optional() });
export const runQueuedSchema = z.object({ queued: z.string() });
