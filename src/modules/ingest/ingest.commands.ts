import type { Command } from 'commander';
import type { SingleBar } from 'cli-progress';
import { InputError } from '../../core/errors.js';
import { ExitCode } from '../../core/cli/exit-codes.js';
import { formatTable, type Output } from '../../core/cli/output.js';
import { installStopSignals } from '../../core/lifecycle/signals.js';
import { createLogger, type Logger } from '../../core/logger.js';
import type { IngestService } from './ingest.service.js';
import type { ParsedName, PassResult, ProgressListener, RunDetail, RunPage } from './ingest.types.js';

export interface IngestCommandDeps {
  service: () => Promise<IngestService>;
  /** Runs the watch daemon until the signal aborts (or its kill file appears). */
  watch: (signal: AbortSignal) => Promise<void>;
  output: (options: { json: boolean }) => Output;
  /** ingest.timezone of the config, if one can be loaded; `parse-name` falls back to Europe/Zurich. */
  timezone?: () => string | undefined;
  /** For the stop-signal messages of `ingest watch`; default a stderr logger. */
  logger?: () => Logger;
  /** Where progress bars go; default process.stderr, and only when it is a TTY. */
  progressStream?: NodeJS.WriteStream;
}

interface JsonOption {
  json?: boolean;
}

const DEFAULT_TIMEZONE = 'Europe/Zurich';

function parseCount(value: string, what: string): number {
  if (!/^\d{1,9}$/.test(value))
    throw new InputError('INGEST_BAD_ARGUMENT', `${what} must be a non-negative integer, got "${value}"`);
  return Number(value);
}

/** A progress bar on a TTY for long work, nothing otherwise (never with --json). */
async function progress(
  deps: IngestCommandDeps,
  json: boolean,
  unit: string,
): Promise<{ listener?: ProgressListener; stop(): void }> {
  const stream = deps.progressStream ?? process.stderr;
  if (json || !stream.isTTY) return { stop: () => undefined };
  // Imported only when a bar is drawn, not with the CLI (start-up time of every command).
  const { default: cliProgress } = await import('cli-progress');
  let bar: SingleBar | undefined;
  return {
    listener: (done, total) => {
      if (total === 0) return;
      if (!bar) {
        bar = new cliProgress.SingleBar(
          { stream, format: `{bar} {value}/{total} ${unit}`, hideCursor: true, clearOnComplete: true },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, 0);
      }
      bar.update(done);
    },
    stop: () => bar?.stop(),
  };
}

function timestampText(seconds: number): string {
  return `${seconds} (${new Date(seconds * 1000).toISOString().replace('.000Z', 'Z')})`;
}

function renderPass(result: PassResult): string {
  const lines = [
    `moved ${result.moved.length}, skipped ${result.skipped.length}, errors ${result.errors.length}`,
  ];
  if (result.moved.length > 0) {
    lines.push(
      '',
      formatTable(
        ['source', 'target'],
        result.moved.map((m) => [m.source, m.target]),
      ),
    );
  }
  if (result.skipped.length > 0) {
    lines.push(
      '',
      formatTable(
        ['skipped', 'reason'],
        result.skipped.map((s) => [s.source, s.reason]),
      ),
    );
    if (result.skipped.some((s) => s.reason === 'unparsable-name')) {
      lines.push('(`custodian ingest parse-name NAME` says what is wrong with a name)');
    }
  }
  if (result.errors.length > 0) {
    lines.push(
      '',
      formatTable(
        ['error', 'message'],
        result.errors.map((e) => [e.source, e.message]),
      ),
    );
  }
  return lines.join('\n');
}

function filesText(files: Record<string, number>): string {
  return Object.entries(files)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([sys, n]) => `${sys}:${n}`)
    .join(' ');
}

function renderRuns(page: RunPage): string {
  if (page.items.length === 0)
    return page.total === 0 ? 'no runs yet' : `no runs on this page (${page.total} in all)`;
  const table = formatTable(
    ['run', 'mode', 'replay', 'start (UTC)', 'minutes', 'files'],
    page.items.map((r) => [
      r.run,
      r.mode,
      r.replay ? 'yes' : '',
      r.firstFileAt,
      r.lengthMinutes,
      filesText(r.files),
    ]),
  );
  return `${table}\n${page.items.length} of ${page.total} runs`;
}

function renderRun(run: RunDetail): string {
  const lines = [
    `run ${run.run}  mode ${run.mode}${run.replay ? '  (replay)' : ''}`,
    `from ${run.firstFileAt} to ${run.lastFileAt}, ${run.lengthMinutes} min`,
  ];
  for (const [subsystem, files] of Object.entries(run.subsystems)) {
    lines.push('', `${subsystem} (${files.length} files)`);
    lines.push(
      formatTable(
        ['timestamp', 'size', 'path'],
        files.map((f) => [timestampText(f.timestamp), f.size, f.path]),
      ),
    );
  }
  return lines.join('\n');
}

function renderName(parsed: ParsedName): string {
  const rows: [string, string][] = [['kind', parsed.kind]];
  switch (parsed.kind) {
    case 'unprocessed':
      rows.push(['subsystem', parsed.subsystem], ['run', String(parsed.run)], ['mode', parsed.mode]);
      rows.push(['timestamp', timestampText(parsed.timestamp)]);
      break;
    case 'processed':
      rows.push(['subsystem', parsed.subsystem], ['timestamp', timestampText(parsed.timestamp)]);
      break;
    case 'combined':
      rows.push(['timestamp', timestampText(parsed.timestamp)]);
      break;
    case 'timeSlice':
      rows.push(['start', timestampText(parsed.start)], ['end', timestampText(parsed.end)]);
      rows.push(['duration', `${parsed.duration} s`]);
      break;
  }
  return formatTable(['', ''], rows).split('\n').slice(1).join('\n');
}

/** `custodian ingest once|watch|runs|run|parse-name|rebuild`. */
export function registerIngestCommands(program: Command, deps: IngestCommandDeps): void {
  const out = (options: JsonOption) => deps.output({ json: options.json === true });
  const ingest = program
    .command('ingest')
    .description('organize histogram files from the online system into Run<run>/<SYS>/ trees');

  ingest
    .command('once')
    .description('organize what is in the drop directory now')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption) => {
      const service = await deps.service();
      const bar = await progress(deps, options.json === true, 'files');
      let result: PassResult;
      try {
        result = await service.runPass({ onProgress: bar.listener });
      } finally {
        bar.stop();
      }
      out(options).result(result, renderPass);
      if (result.errors.length > 0) process.exitCode = ExitCode.problemsFound;
    });

  ingest
    .command('watch')
    .description(
      'keep organizing every ingest.intervalSeconds (stops on SIGINT/SIGTERM or when ingest.killFile exists)',
    )
    .action(async () => {
      const controller = new AbortController();
      const dispose = installStopSignals(controller, { logger: deps.logger?.() ?? createLogger() });
      try {
        await deps.watch(controller.signal);
      } finally {
        dispose();
      }
    });

  ingest
    .command('runs')
    .description('list runs, newest first')
    .option('--json', 'print JSON')
    .option('--limit <n>', 'runs per page (1-500)', '50')
    .option('--offset <n>', 'runs to skip', '0')
    .action(async (options: JsonOption & { limit: string; offset: string }) => {
      const limit = parseCount(options.limit, '--limit');
      const offset = parseCount(options.offset, '--offset');
      const page = await (await deps.service()).listRuns(limit, offset);
      out(options).result(page, renderRuns);
    });

  ingest
    .command('run <run>')
    .description('show one run and its files per subsystem')
    .option('--json', 'print JSON')
    .action(async (run: string, options: JsonOption) => {
      const number = parseCount(run, 'the run number');
      out(options).result(await (await deps.service()).getRun(number), renderRun);
    });

  ingest
    .command('parse-name <name>')
    .description('explain a file name (drop-directory, organized, combined or time-slice)')
    .option('--json', 'print JSON')
    .option(
      '--timezone <zone>',
      'zone of the times in the name (default: ingest.timezone, else Europe/Zurich)',
    )
    .action(async (name: string, options: JsonOption & { timezone?: string }) => {
      // Imported here, not with the CLI: luxon would add to every command's start-up time.
      const { parseName } = await import('./name.parser.js');
      const zone = options.timezone ?? deps.timezone?.() ?? DEFAULT_TIMEZONE;
      out(options).result(parseName(name, zone), renderName);
    });

  ingest
    .command('rebuild')
    .description('recreate the runs and files tables from the tree on disk')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption) => {
      const service = await deps.service();
      const bar = await progress(deps, options.json === true, 'run directories');
      try {
        const result = await service.rebuild({ onProgress: bar.listener });
        bar.stop();
        out(options).result(
          result,
          (r) => `rebuilt the database from the tree: ${r.runs} runs, ${r.files} files`,
        );
      } finally {
        bar.stop();
      }
    });
}
