import { IANAZone } from 'luxon';
import { z } from 'zod';
import { STAGES } from './transfer.types.js';
import { hasControlCharacter } from './source-url.parser.js';

const NIGHT_RE = /^\d{8}$/;
const EXPOSURE_RE = /^\d{8}$/;
const STREAM_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const stream = z
  .object({
    /** Used in status rows, archive names (`<name>_<NIGHT>.tar`) and URLs. */
    name: z.string().regex(STREAM_NAME_RE, 'stream names are letters, digits, "_", "." and "-" (at most 64)'),
    /** A local path or `ssh://[user@]host[:port]/path`. */
    source: z.string().min(1),
    /** Private key for an ssh source. */
    sshIdentity: z.string().min(1).optional(),
    /**
     * Extra ssh options (`Key=Value`, given to ssh as `-o Key=Value`), e.g.
     * `UserKnownHostsFile=./known_hosts` or `ProxyJump=gateway`.
     */
    sshOptions: z
      .array(
        z.string().refine((o) => /^[A-Za-z][A-Za-z0-9]*=\S/.test(o) && !hasControlCharacter(o), {
          message: 'ssh options are Key=Value (without "-o")',
        }),
      )
      .default([]),
    /** Relative to the source: while it exists the stream's pass is skipped. */
    pauseFile: z
      .string()
      .min(1)
      .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), {
        message: 'pauseFile is relative to the source and may not contain ".."',
      })
      .optional(),
    /** Exposures are copied here first (`<staging>/<NIGHT>/<EXPOSURE>`). */
    staging: z.string().min(1),
    /** Published, read-only exposures (`<destination>/<NIGHT>/<EXPOSURE>`). */
    destination: z.string().min(1),
    /** Nightly `<stream>_<NIGHT>.tar` and `.tar.idx`. */
    archive: z.string().min(1),
    /** The manifest inside each exposure; `{exposure}` and `{night}` are replaced. */
    checksumFile: z
      .string()
      .min(1)
      .refine((t) => !t.includes('/'), { message: 'checksumFile is a file name inside the exposure' })
      .default('checksum-{exposure}.sha256sum'),
  })
  .strict();

/** The `transfer:` config section (issue 3). Relative paths resolve against the config file's folder. */
export const transferConfigSchema = z
  .object({
    /** Pause between passes of `transfer watch`. Default 60. */
    intervalSeconds: z.number().positive().default(60),
    /** A night is the local date in this zone 12 hours before. Default America/Phoenix. */
    timezone: z
      .string()
      .refine((zone) => IANAZone.isValidZone(zone), {
        message: 'unknown time zone; use an IANA name such as America/Phoenix or UTC',
      })
      .default('America/Phoenix'),
    /** UTC hour after which yesterday's night is re-synced once. Default 14. */
    catchupHour: z.number().int().min(0).max(23).default(14),
    /** UTC hour after which yesterday's night is archived once. Default 20. */
    archiveHour: z.number().int().min(0).max(23).default(20),
    /** `transfer watch` stops at the next loop while this file exists. */
    killFile: z.string().optional(),
    streams: z
      .array(stream)
      .min(1)
      .refine((list) => new Set(list.map((s) => s.name)).size === list.length, {
        message: 'stream names must be unique',
      }),
  })
  .strict();

export type TransferConfig = z.infer<typeof transferConfigSchema>;
export type StreamConfig = TransferConfig['streams'][number];

// ---- shared field schemas ----------------------------------------------------------------------

export const nightSchema = z.string().regex(NIGHT_RE, 'night must be 8 digits (YYYYMMDD)');
export const exposureSchema = z.string().regex(EXPOSURE_RE, 'exposure must be 8 digits');
export const streamNameSchema = z.string().regex(STREAM_NAME_RE, 'not a stream name');
export const stageSchema = z.enum(STAGES);

// ---- job payloads ------------------------------------------------------------------------------

export const exposurePayloadSchema = z.object({
  stream: streamNameSchema,
  night: nightSchema,
  exposure: exposureSchema,
});
export type ExposurePayload = z.infer<typeof exposurePayloadSchema>;

export const nightPayloadSchema = z.object({ stream: streamNameSchema, night: nightSchema });
export type NightPayload = z.infer<typeof nightPayloadSchema>;

// ---- HTTP ----------------------------------------------------------------------------------------

const stageStateSchema = z.object({ ok: z.boolean(), at: z.string(), message: z.string() }).nullable();

export const exposureStatusSchema = z.object({
  stream: z.string(),
  night: z.string(),
  exposure: z.string(),
  rsync: stageStateSchema,
  checksum: stageStateSchema,
  publish: stageStateSchema,
  backup: stageStateSchema,
});

export const statusQuerySchema = z.object({
  stream: streamNameSchema.optional(),
  night: nightSchema.optional(),
  /** The newest N nights; 0 means all. Default 10. */
  nights: z.coerce.number().int().min(0).max(10000).default(10),
});

export const statusPageSchema = z.object({
  streams: z.array(z.string()),
  nights: z.array(
    z.object({
      stream: z.string(),
      night: z.string(),
      state: z.enum(['green', 'yellow', 'red']),
      exposures: z.array(exposureStatusSchema),
      failed: z.number(),
      archived: z.boolean(),
      catchupAt: z.string().nullable(),
      archiveAt: z.string().nullable(),
    }),
  ),
});

export const exposureParamsSchema = exposurePayloadSchema;

export const exposureHistorySchema = exposureStatusSchema.extend({
  history: z.array(z.object({ stage: stageSchema, ok: z.boolean(), at: z.string(), message: z.string() })),
});

export const verifyBodySchema = exposurePayloadSchema;
export const nightActionBodySchema = nightPayloadSchema.extend({ dryRun: z.boolean().default(false) });

const verifyResultSchema = z.object({
  ok: z.boolean(),
  verified: z.number(),
  bytes: z.number(),
  missing: z.array(z.string()),
  unlisted: z.array(z.string()),
  mismatched: z.array(z.string()),
  malformed: z.array(z.object({ line: z.number(), text: z.string() })),
});

export const exposureVerifyResultSchema = z.object({
  stream: z.string(),
  night: z.string(),
  exposure: z.string(),
  result: verifyResultSchema,
});

export const catchupResultSchema = z.object({
  stream: z.string(),
  night: z.string(),
  dryRun: z.boolean(),
  action: z.enum(['nothing-changed', 'synced', 'would-sync', 'failed']),
  exposures: z.array(
    z.object({
      night: z.string(),
      exposure: z.string(),
      changed: z.array(z.string()),
      verify: verifyResultSchema.optional(),
    }),
  ),
  message: z.string().optional(),
});

export const archiveResultSchema = z.object({
  stream: z.string(),
  night: z.string(),
  dryRun: z.boolean(),
  action: z.enum(['archived', 'already-archived', 'would-archive', 'failed', 'nothing-to-archive']),
  tar: z.string(),
  index: z.string(),
  members: z.number(),
  bytes: z.number(),
  exposures: z.array(z.string()),
  catchup: catchupResultSchema.optional(),
  message: z.string().optional(),
});
