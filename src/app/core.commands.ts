import type { Command } from 'commander';
import type { CliContext } from './cli-context.js';
import { INIT_TEMPLATE } from './init-template.js';

/**
 * The config helpers, imported when a config command runs rather than with the CLI: zod and yaml
 * would cost every command start-up time (see CliContext).
 */
async function configTools() {
  const [{ maskSecrets }, { enabledModules }, { stringify }] = await Promise.all([
    import('../core/config/config.loader.js'),
    import('./config.schema.js'),
    import('yaml'),
  ]);
  return { maskSecrets, enabledModules, stringify };
}

/** `init`, `config check|show`, `db migrate`: thin commands over the config loader and the app. */
export function registerCoreCommands(program: Command, context: CliContext): void {
  program
    .command('init')
    .description('print a commented example configuration (custodian init > custodian.yaml)')
    .action(() => {
      process.stdout.write(INIT_TEMPLATE);
    });

  const config = program.command('config').description('check or show the configuration');
  config
    .command('check')
    .description('validate the configuration; every invalid key is reported at once with its path')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const { maskSecrets, enabledModules } = await configTools();
      const { config: loaded, source } = context.config();
      context.output(options).result(
        {
          ok: true,
          file: source.file,
          database: maskSecrets(loaded.database),
          modules: enabledModules(loaded),
        },
        (r) => `${r.file}: ok (modules: ${r.modules.join(', ') || 'none'})`,
      );
    });
  config
    .command('show')
    .description('print the effective configuration with defaults applied and secrets masked')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const { maskSecrets, stringify } = await configTools();
      const masked = maskSecrets(context.config().config);
      context.output(options).result(masked, (value) => stringify(value));
    });

  const db = program.command('db').description('database maintenance');
  db.command('migrate')
    .description(
      'create or upgrade the database schema (also done automatically when a command opens the database)',
    )
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const app = await context.app();
      context
        .output(options)
        .result(
          { database: app.database.displayUrl, dialect: app.database.dialect, applied: app.migrations },
          (r) =>
            r.applied.length === 0
              ? `${r.database}: schema up to date`
              : `${r.database}: applied ${r.applied.map((m) => `${m.set}/${m.migration}`).join(', ')}`,
        );
    });
}
