import { Command, InvalidArgumentError, Option } from 'commander';
import { CliContext } from './cli-context.js';
import { registerCoreCommands } from './core.commands.js';
import { registerRuntimeCommands } from './runtime.commands.js';
import { registerAuthCommands } from '../core/auth/auth.commands.js';
import { registerIngestCommands } from '../modules/ingest/ingest.commands.js';
import { registerTransferCommands } from '../modules/transfer/transfer.commands.js';
import { registerAuditCommands } from '../modules/audit/audit.commands.js';
import { VERSION } from './version.js';

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError('a port is an integer 0-65535');
  return port;
}

/** The `custodian` command tree. Every command is a thin delegation to a service. */
export function buildProgram(): { program: Command; context: CliContext } {
  const program = new Command('custodian')
    .description("Keeps an experiment's data and records accounted for, from the detector to the archive.")
    .version(VERSION)
    .option('-c, --config <file>', 'configuration file (env CUSTODIAN_CONFIG, default ./custodian.yaml)')
    .addOption(
      new Option('--log-level <level>', 'log level (logs go to stderr)').choices([
        'fatal',
        'error',
        'warn',
        'info',
        'debug',
        'trace',
        'silent',
      ]),
    )
    .option('--port <port>', 'override server.port', parsePort)
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  const context = new CliContext(program);

  registerCoreCommands(program, context);
  registerAuthCommands(program, {
    auth: async () => (await context.app()).auth,
    output: (options) => context.output(options),
  });
  registerIngestCommands(program, {
    service: async () => (await context.app()).requireIngest(),
    watch: async (signal) => (await context.app()).runIngestWatch(signal),
    output: (options) => context.output(options),
    logger: () => context.logger(),
    timezone: () => {
      try {
        return context.config().config.ingest?.timezone;
      } catch {
        return undefined;
      }
    },
  });
  registerTransferCommands(program, {
    output: (options) => context.output(options),
    service: async () => (await context.app()).requireTransfer(),
    prestart: (stream) => context.prestartTransfer(stream),
    watch: async (signal, options) => (await context.app()).runTransferWatch(signal, options),
    logger: () => context.logger(),
  });
  registerAuditCommands(program, {
    output: (options) => context.output(options),
    service: async () => (await context.app()).requireAudit(),
    watch: async (signal) => (await context.app()).runAuditWatch(signal),
    logger: () => context.logger(),
    // `audit compare` needs no configuration: the config's values when there is one, else defaults.
    compareDefaults: () => {
      try {
        const audit = context.config().config.audit;
        return {
          ignoreAgeDays: audit?.ignoreAgeDays ?? 5,
          ignorePatterns: [...(audit?.ignorePatterns ?? [])],
        };
      } catch {
        return { ignoreAgeDays: 5, ignorePatterns: [] };
      }
    },
  });
  registerRuntimeCommands(program, context);
  return { program, context };
}
