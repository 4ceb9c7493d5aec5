import { IANAZone } from 'luxon';
import { z } from 'zod';
import { SKIP_REASONS } from './ingest.types.js';

/** The `ingest:` config section. Relative paths are resolved against the config file's folder by the loader. */
export const ingestConfigSchema = z
  .object({
    /** Where the online system drops files. */
    dropDir: z.string().min(1),
    /** Root of the organized tree (`Run<run>/<SYS>/…`). */
    dataDir: z.string().min(1),
    /** Subsystems to accept; a file of any other subsystem stays in the drop directory. */
    subsystems: z.array(z.string().regex(/^[A-Za-z0-9]+$/, 'subsystem names are letters and digits')).min(1),
    /** IANA zone of the times in file names. Default Europe/Zurich. */
    timezone: z
      .string()
      .refine((zone) => IANAZone.isValidZone(zone), {
        message: 'unknown time zone; use an IANA name such as Europe/Zurich or UTC',
      })
      .default('Europe/Zurich'),
    /** Run modes that go under `ReplayData/`. Default [E]. */
    replayModes: z.array(z.string().min(1)).default(['E']),
    /** A file modified less than this many seconds ago is still being written. Default 5. */
    settleSeconds: z.number().min(0).default(5),
    /** Pause between passes of `ingest watch`. Default 60. */
    intervalSeconds: z.number().positive().default(60),
    /** `ingest watch` stops at the next loop when this file exists. */
    killFile: z.string().optional(),
    /** Largest accepted DQM upload, bytes. Default 512 MiB. */
    maxUploadBytes: z
      .number()
      .int()
      .positive()
      .default(512 * 1024 * 1024),
  })
  .strict();

export type IngestConfig = z.infer<typeof ingestConfigSchema>;

// ---- job payloads ----------------------------------------------------------------------------

/** `ingest:pass` takes no arguments: a pass organizes whatever is in the drop directory. */
export const ingestPassPayloadSchema = z.object({});
export type IngestPassPayload = z.infer<typeof ingestPassPayloadSchema>;

// ---- HTTP (API.md, ingest part) ----------------------------------------------------------------

const integerString = (field: string) =>
  z
    .string({ error: `${field} is required` })
    .trim()
    .regex(/^\d{1,15}$/, `${field} must be a non-negative integer`)
    .transform(Number);

export const runsQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

export const runParamsSchema = z.object({ run: integerString('run') });

/** Multipart text fields of `POST /ingest/uploads`, validated after the stream is read. */
export const uploadFieldsSchema = z.object({
  run: integerString('run'),
  timestamp: integerString('timestamp'),
  agent: z
    .string({ error: 'agent is required' })
    .trim()
    .regex(/^[A-Za-z0-9]+$/, 'agent must be a subsystem name (letters and digits)'),
});

export const runSummarySchema = z.object({
  run: z.number().int(),
  mode: z.string(),
  replay: z.boolean(),
  firstFileAt: z.string(),
  lastFileAt: z.string(),
  lengthMinutes: z.number().int(),
  files: z.record(z.string(), z.number().int()),
});

export const runPageSchema = z.object({ items: z.array(runSummarySchema), total: z.number().int() });

export const runDetailSchema = runSummarySchema.extend({
  subsystems: z.record(
    z.string(),
    z.array(z.object({ timestamp: z.number().int(), size: z.number().int(), path: z.string() })),
  ),
});

export const passResultSchema = z.object({
  moved: z.array(
    z.object({
      source: z.string(),
      target: z.string(),
      run: z.number().int(),
      subsystem: z.string(),
      mode: z.string(),
      timestamp: z.number().int(),
    }),
  ),
  skipped: z.array(z.object({ source: z.string(), reason: z.enum(SKIP_REASONS) })),
  errors: z.array(z.object({ source: z.string(), message: z.string() })),
});

export const uploadResultSchema = z.object({ stored: z.string(), size: z.number().int() });
