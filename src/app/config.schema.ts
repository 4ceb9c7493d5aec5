import { z } from 'zod';
import { coreConfigShape } from '../core/config/config.schema.js';
import { loadConfig, type ConfigSource } from '../core/config/config.loader.js';
import { ingestConfigSchema } from '../modules/ingest/ingest.schema.js';
import { transferConfigSchema } from '../modules/transfer/transfer.schema.js';
import { auditConfigSchema } from '../modules/audit/audit.schema.js';

/**
 * The whole configuration: core sections plus one optional section per module. A module whose
 * section is absent is disabled (no daemon, no routes beyond reads of what is stored).
 */
export const configSchema = z
  .object({
    ...coreConfigShape,
    ingest: ingestConfigSchema.optional(),
    transfer: transferConfigSchema.optional(),
    audit: auditConfigSchema.optional(),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;

/** Keys holding paths, resolved against the config file's folder. */
export const configPathKeys = [
  'logging.file',
  'ingest.dropDir',
  'ingest.dataDir',
  'ingest.killFile',
  'transfer.killFile',
  'transfer.streams.*.source',
  'transfer.streams.*.sshIdentity',
  'transfer.streams.*.staging',
  'transfer.streams.*.destination',
  'transfer.streams.*.archive',
  'audit.reportsDir',
  'audit.killFile',
  'audit.sites.*.sshIdentity',
] as const;

export type ModuleName = 'ingest' | 'transfer' | 'audit';

export function enabledModules(config: Config): ModuleName[] {
  const modules: ModuleName[] = [];
  if (config.ingest) modules.push('ingest');
  if (config.transfer) modules.push('transfer');
  if (config.audit) modules.push('audit');
  return modules;
}

/**
 * Loads the whole configuration (DESIGN.md §2): `file`, else env CUSTODIAN_CONFIG, else
 * ./custodian.yaml; `port` is the command line's `--port`, which overrides `server.port`.
 */
export function loadAppConfig(options: { file?: string; port?: number } = {}): {
  config: Config;
  source: ConfigSource;
} {
  const { file, port } = options;
  return loadConfig({
    schema: configSchema,
    file,
    pathKeys: configPathKeys,
    overrides: (raw) => {
      if (port !== undefined) raw.server = { ...(raw.server ?? {}), port };
    },
  });
}
