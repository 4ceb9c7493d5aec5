import { z } from 'zod';

/**
 * Core sections of the configuration. Module sections are added by src/app/config.schema.ts,
 * because core never imports a module. Every default is documented next to its key.
 */
export const databaseUrlSchema = z
  .string()
  .min(1)
  .refine((url) => /^(sqlite:|postgres:\/\/|postgresql:\/\/)/.test(url), {
    message: 'must be sqlite:<path> or postgres://user@host:5432/db',
  });

export const serverSchema = z
  .object({
    /** Default 127.0.0.1: only this machine can reach the API unless changed. */
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
    /** Reads (GET) need no login when true. Writes always need operator or admin. */
    publicRead: z.boolean().default(true),
    /** Largest accepted upload, bytes. Default 256 MiB. */
    maxUploadBytes: z
      .number()
      .int()
      .positive()
      .default(256 * 1024 * 1024),
    /** Failed logins allowed per client and minute. */
    loginRateLimitPerMinute: z.number().int().positive().default(10),
  })
  .strict();

export const alertsSchema = z
  .object({
    email: z
      .object({
        url: z.string().regex(/^smtps?:\/\//, 'must be smtp://host:port or smtps://…'),
        from: z.string().email(),
        to: z.array(z.string().email()).min(1),
      })
      .strict()
      .optional(),
    webhook: z.object({ url: z.string().url() }).strict().optional(),
    /** A repeating alert is re-sent at most once per this many minutes (a reminder). */
    reminderMinutes: z.number().int().positive().default(60),
  })
  .strict();

export const loggingSchema = z
  .object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    file: z.string().optional(),
  })
  .strict();

export const coreConfigShape = {
  database: databaseUrlSchema.default('sqlite:./custodian.db'),
  server: serverSchema.prefault({}),
  alerts: alertsSchema.prefault({}),
  logging: loggingSchema.prefault({}),
};

export type ServerConfig = z.infer<typeof serverSchema>;
export type AlertsConfig = z.infer<typeof alertsSchema>;
export type LoggingConfig = z.infer<typeof loggingSchema>;
