import type { Command } from 'commander';
import { ExitCode } from '../../core/cli/exit-codes.js';
import { formatBytes, type Output } from '../../core/cli/output.js';
import { InputError } from '../../core/errors.js';
import { FORCED_EXIT_CODE, installStopSignals } from '../../core/lifecycle/signals.js';
import { createLogger, type Logger } from '../../core/logger.js';
import type { CompareEngine } from './audit.ports.js';
import type { CompareCounts, CompareResult } from './audit.types.js';
import { DuckDbCompareEngine } from './compare.engine.js';

export interface AuditCompareCommandDeps {
  output: (options: { json: boolean }) => Output;
  /** Default: DuckDbCompareEngine with its defaults. */
  engine?: () => CompareEngine;
  /** ignoreAgeDays and ignorePatterns: the config's, else 5 and none. */
  defaults: () => { ignoreAgeDays: number; ignorePatterns: string[] };
  logger?: () => Logger;
}

interface CompareCommandOptions {
  inventory: string;
  listing: string;
  out?: string;
  now?: string;
  json?: boolean;
}

function parseNow(value: string | undefined): number {
  if (value === undefined) return Math.floor(Date.now() / 1000);
  if (!/^[0-9]{1,15}$/.test(value))
    throw new InputError(
      'AUDIT_BAD_ARGUMENT',
      `--now "${value}" is not valid: give unix seconds as an integer (e.g. ${Math.floor(Date.now() / 1000)})`,
    );
  return Number(value);
}

export function differencesFound(result: CompareCounts): boolean {
  return result.missing + result.orphans + result.sizeMismatches + result.emptyDirs > 0;
}

export function renderCompare(result: CompareResult): string {
  const lines = [
    differencesFound(result) ? 'DIFFERENCES FOUND' : 'OK: the listing matches the inventory',
    `  missing:           ${result.missing} (${formatBytes(result.missingBytes)})`,
    `  orphans:           ${result.orphans} (${formatBytes(result.orphanBytes)})`,
    `  size mismatches:   ${result.sizeMismatches}`,
    `  empty directories: ${result.emptyDirs}`,
  ];
  if (result.reports)
    lines.push(
      'reports:',
      ...[
        result.reports.missing,
        result.reports.orphan,
        result.reports.sizeMismatch,
        result.reports.empty,
      ].map((file) => `  ${file}`),
    );
  return lines.join('\n');
}

/** `custodian audit compare`: needs no configuration or database, only the two dumps. */
export function registerAuditCompareCommand(audit: Command, deps: AuditCompareCommandDeps): Command {
  return audit
    .command('compare')
    .description(
      'compare an inventory dump with a listing dump (PATH<TAB>SIZE[<TAB>MTIME] lines): exit 0 no differences, 1 differences, 2 unreadable or malformed input',
    )
    .requiredOption('--inventory <file>', 'what the site should hold')
    .requiredOption('--listing <file>', 'what the site holds')
    .option(
      '--out <prefix>',
      'write PREFIX_missing.txt, PREFIX_orphan.txt, PREFIX_size_mismatch.txt, PREFIX_empty.txt',
    )
    .option('--now <unix>', 'the clock for the age rule, unix seconds (default: now)')
    .option('--json', 'print the counts as JSON')
    .action(async (options: CompareCommandOptions) => {
      const now = parseNow(options.now);
      const { ignoreAgeDays, ignorePatterns } = deps.defaults();
      const engine = deps.engine?.() ?? new DuckDbCompareEngine();
      const controller = new AbortController();
      // Ctrl-C interrupts DuckDB, so its scratch directory is removed before the process ends.
      const dispose = installStopSignals(controller, { logger: deps.logger?.() ?? createLogger() });
      let result: CompareResult;
      try {
        result = await engine.compare({
          inventory: options.inventory,
          listing: options.listing,
          out: options.out,
          now,
          ignoreAgeDays,
          ignorePatterns,
          signal: controller.signal,
        });
      } catch (error) {
        if (!controller.signal.aborted) throw error;
        process.exitCode = FORCED_EXIT_CODE;
        return;
      } finally {
        dispose();
      }
      const output = deps.output({ json: options.json === true });
      const counts: CompareCounts = {
        missing: result.missing,
        orphans: result.orphans,
        sizeMismatches: result.sizeMismatches,
        emptyDirs: result.emptyDirs,
        missingBytes: result.missingBytes,
        orphanBytes: result.orphanBytes,
      };
      output.result<CompareResult>(output.json ? counts : result, renderCompare);
      if (differencesFound(result)) process.exitCode = ExitCode.problemsFound;
    });
}
