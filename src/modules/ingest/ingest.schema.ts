import { z } from 'zod';

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
    timezone: z.string().default('Europe/Zurich'),
    /** Run modes that go under `ReplayData/`. Default [E]. */
    replayModes: z.array(z.string().min(1)).default(['E']),
    /** A file modified less than this many seconds ago is still being written. Default 5. */
    settleSeconds: z.number().min(0).default(5),
    /** Pause between passes of `ingest watch`. Default 60. */
    intervalSeconds: z.number().positive().default(60),
    /** `ingest watch` stops at the next loop when this file exists. */
    killFile: z.string().optional(),
    /** Largest accepted DQM upload, bytes. Default 512 MiB. */
    maxUploadBytes: z.number().int().positive().default(512 * 1024 * 1024),
  })
  .strict();

export type IngestConfig = z.infer<typeof ingestConfigSchema>;
