import { createRequire } from 'node:module';
import type * as Pino from 'pino';
import type { Logger as PinoLogger, LevelWithSilent } from 'pino';
import type PinoPretty from 'pino-pretty';

// pino and pino-pretty load on the first logger, not when this module is imported: every CLI
// command imports it, and `--version`, `--help` or a usage error must not pay their start-up
// time (pino-pretty only matters on a TTY). Both are CommonJS, so `require` keeps
// createLogger synchronous.
const require = createRequire(import.meta.url);
const loadPino = () => require('pino') as typeof Pino;
const loadPretty = () => require('pino-pretty') as typeof PinoPretty;

/** The logger every service receives. Structured fields first, message second. */
export type Logger = PinoLogger;
export type LogLevel = LevelWithSilent;

export interface LoggerOptions {
  level?: LogLevel;
  /** Write JSON lines to this file instead of stderr. */
  file?: string;
  /** Pretty, human output (used on a TTY unless a file is given). */
  pretty?: boolean;
}

/**
 * Logs go to stderr (or a file) so that stdout stays reserved for command output and `--json`.
 * Secrets never reach a log: known secret-bearing keys are redacted by path.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const redact = {
    paths: [
      'password',
      '*.password',
      'token',
      '*.token',
      'secret',
      '*.secret',
      'authorization',
      '*.authorization',
      'req.headers.authorization',
      'req.headers.cookie',
    ],
    censor: '[redacted]',
  };
  const { pino, destination } = loadPino();
  if (options.file) {
    return pino({ level, redact }, destination({ dest: options.file, mkdir: true, sync: false }));
  }
  if (options.pretty) {
    // In-process (not a worker transport) and synchronous, so a CLI's last lines are never lost.
    return pino(
      { level, redact },
      loadPretty()({ destination: 2, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss' }),
    );
  }
  return pino({ level, redact }, destination(2));
}

/** A logger that drops everything; for tests of pure logic. */
export function silentLogger(): Logger {
  return loadPino().pino({ level: 'silent' });
}
