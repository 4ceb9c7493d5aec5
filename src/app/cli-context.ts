import type { Command } from 'commander';
import type { ConfigSource } from '../core/config/config.loader.js';
import { InternalError } from '../core/errors.js';
import { createLogger, type Logger, type LogLevel } from '../core/logger.js';
import { createOutput, type Output } from '../core/cli/output.js';
import type * as ConfigSchema from './config.schema.js';
import type { Config } from './config.schema.js';
import type { App } from './app.js';
import type { RsyncConnector } from '../modules/transfer/rsync.adapter.js';

export interface GlobalOptions {
  config?: string;
  logLevel?: LogLevel;
  port?: number;
}

/**
 * What a command may ask for, each made lazily and once: the validated config, a logger, the
 * composed application (database opened and migrated). Commands never construct adapters.
 *
 * This is also where the CLI's start-up time is kept down: the config schema (zod, yaml, luxon)
 * is imported just before a command's action runs, and the composition root (the database, the
 * queue, every module) only when a command opens the app. `--version`, `--help` and usage errors
 * load neither; a command that needs no database never loads its drivers.
 */
export class CliContext {
  private loadAppConfig?: typeof ConfigSchema.loadAppConfig;
  private loaded?: { config: Config; source: ConfigSource };
  private log?: Logger;
  private opened?: Promise<App>;
  private transferConnector?: RsyncConnector;

  constructor(private readonly program: Command) {
    // Hooks of the root command run before the action of any of its subcommands.
    program.hook('preAction', () => this.prepare());
  }

  /** Imports the config loader; runs before every action, so `config()` can stay synchronous. */
  async prepare(): Promise<void> {
    this.loadAppConfig ??= (await import('./config.schema.js')).loadAppConfig;
  }

  globals(): GlobalOptions {
    return this.program.opts<GlobalOptions>();
  }

  config(): { config: Config; source: ConfigSource } {
    if (!this.loaded) {
      if (!this.loadAppConfig)
        throw new InternalError('CLI_NOT_PREPARED', 'config() runs in a command action, after prepare()');
      const { port, config: file } = this.globals();
      this.loaded = this.loadAppConfig({ file, port });
    }
    return this.loaded;
  }

  logger(): Logger {
    if (!this.log) {
      const level = this.globals().logLevel ?? this.tryConfig()?.config.logging.level ?? 'info';
      const file = this.tryConfig()?.config.logging.file;
      this.log = createLogger({ level, file, pretty: !file && process.stderr.isTTY });
    }
    return this.log;
  }

  app(): Promise<App> {
    this.opened ??= (async () => {
      const { config, source } = this.config();
      const { openApp } = await import('./app.js');
      return openApp({ config, source, logger: this.logger(), transferConnector: this.transferConnector });
    })();
    return this.opened;
  }

  /**
   * Starts the ssh connections to the configured transfer streams' sources (or one stream's) now,
   * before `app()`: a handshake takes ~0.2 s, which then overlaps loading the app and opening
   * the database, and the app's transfer module takes over these connections. Nothing without a
   * transfer section, or once the app is opened.
   */
  async prestartTransfer(stream?: string): Promise<void> {
    const transfer = this.config().config.transfer;
    if (!transfer || this.opened) return;
    const { transferSourceConnector } = await import('../modules/transfer/rsync.adapter.js');
    this.transferConnector ??= transferSourceConnector(this.logger());
    for (const configured of transfer.streams) {
      if (stream === undefined || configured.name === stream) this.transferConnector.prestart(configured);
    }
  }

  output(options: { json?: boolean }): Output {
    return createOutput({ json: options.json === true });
  }

  async close(): Promise<void> {
    const opened = this.opened;
    this.opened = undefined;
    if (opened) await (await opened.catch(() => undefined))?.close();
    // Closed with the app when it opened; here too when it never did (idempotent).
    await this.transferConnector?.close();
    this.log?.flush();
  }

  private tryConfig(): { config: Config; source: ConfigSource } | undefined {
    try {
      return this.config();
    } catch {
      return undefined;
    }
  }
}
