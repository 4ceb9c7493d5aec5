import type { Command } from 'commander';
import type { ConfigSource } from '../core/config/config.loader.js';
import { createLogger, type Logger, type LogLevel } from '../core/logger.js';
import { createOutput, type Output } from '../core/cli/output.js';
import { loadAppConfig, type Config } from './config.schema.js';
import { openApp, type App } from './app.js';

export interface GlobalOptions {
  config?: string;
  logLevel?: LogLevel;
  port?: number;
}

/**
 * What a command may ask for, each made lazily and once: the validated config, a logger, the
 * composed application (database opened and migrated). Commands never construct adapters.
 */
export class CliContext {
  private loaded?: { config: Config; source: ConfigSource };
  private log?: Logger;
  private opened?: Promise<App>;

  constructor(private readonly program: Command) {}

  globals(): GlobalOptions {
    return this.program.opts<GlobalOptions>();
  }

  config(): { config: Config; source: ConfigSource } {
    if (!this.loaded) {
      const { port, config: file } = this.globals();
      this.loaded = loadAppConfig({ file, port });
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
      return openApp({ config, source, logger: this.logger() });
    })();
    return this.opened;
  }

  output(options: { json?: boolean }): Output {
    return createOutput({ json: options.json === true });
  }

  async close(): Promise<void> {
    const opened = this.opened;
    this.opened = undefined;
    if (opened) await (await opened.catch(() => undefined))?.close();
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
