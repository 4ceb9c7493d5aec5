import type { Command } from 'commander';
import { ExitCode } from '../../core/cli/exit-codes.js';
import { formatBytes, formatTable, type Output } from '../../core/cli/output.js';
import { InputError } from '../../core/errors.js';
import { installStopSignals } from '../../core/lifecycle/signals.js';
import { createLogger, type Logger } from '../../core/logger.js';
import { TarArchiver } from './archive.adapter.js';
import { NodeFileHasher, type FileHasher } from './checksum.adapter.js';
import type { Archiver } from './transfer.ports.js';
import type { TransferService } from './transfer.service.js';
import type {
  ArchiveResult,
  ArchiveVerifyResult,
  CatchupResult,
  ExposureOutcome,
  ExposureStatus,
  PassResult,
  StageState,
} from './transfer.types.js';
import { verifyDirectory, type VerifyResult } from './verify.service.js';

export interface TransferCommandDeps {
  output: (options: { json: boolean }) => Output;
  /** Default: the real filesystem. */
  files?: () => FileHasher;
  /** Reads archives for `verify-archive` (no config needed); default the tar archiver. */
  archiver?: () => Archiver;
  /** The configured transfer service (the config must have a transfer: section). */
  service?: () => Promise<TransferService>;
  /**
   * Starts connecting to the sources of the configured streams (or one), called just before
   * `service()`: the ssh handshakes then overlap opening the database and the app.
   */
  prestart?: (stream?: string) => Promise<void>;
  /**
   * Runs `transfer watch` until the signal aborts or the kill file appears: the scheduler and,
   * unless scheduleOnly or dryRun, this process's queue workers.
   */
  watch?: (signal: AbortSignal, options: { dryRun: boolean; scheduleOnly: boolean }) => Promise<void>;
  logger?: () => Logger;
}

interface JsonOption {
  json?: boolean;
}

/**
 * The argument schemas, imported by the commands that check arguments rather than with the CLI:
 * zod and luxon would add to the start-up time of every command, `--version` included.
 */
const argumentSchemas = () => import('./transfer.schema.js');

function checked<T>(
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } },
  value: string,
  what: string,
): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new InputError(
      'TRANSFER_BAD_ARGUMENT',
      `${what} "${value}" is not valid: ${what === 'stage' ? 'use rsync, checksum, publish or backup' : 'use 8 digits'}`,
    );
  return parsed.data;
}

function stageCell(state: StageState | null): string {
  if (!state) return '-';
  return `${state.ok ? 'ok' : 'FAILED'} ${state.at.slice(0, 16).replace('T', ' ')}`;
}

export function renderStatus(rows: readonly ExposureStatus[]): string {
  if (rows.length === 0) return 'no transfers recorded';
  const table = formatTable(
    ['stream', 'night', 'exposure', 'rsync', 'checksum', 'publish', 'backup'],
    rows.map((r) => [
      r.stream,
      r.night,
      r.exposure,
      stageCell(r.rsync),
      stageCell(r.checksum),
      stageCell(r.publish),
      stageCell(r.backup),
    ]),
  );
  const failures = rows.flatMap((r) =>
    (['rsync', 'checksum', 'publish', 'backup'] as const).flatMap((stage) =>
      r[stage]?.ok === false
        ? [`  ${r.stream}/${r.night}/${r.exposure} ${stage}: ${r[stage]?.message ?? ''}`]
        : [],
    ),
  );
  return failures.length === 0 ? table : `${table}\nfailures:\n${failures.join('\n')}`;
}

function renderOutcome(o: ExposureOutcome): string {
  const what =
    o.action === 'transferred' && o.failed.length > 0
      ? `transferred with failures (${o.message ?? ''})`
      : o.action;
  return `  ${o.night}/${o.exposure}: ${what}`;
}

function renderCatchup(c: CatchupResult): string {
  const head = `catch-up ${c.stream}/${c.night}: ${c.action}${c.message ? ` (${c.message})` : ''}`;
  const lines = c.exposures.map(
    (e) =>
      `  ${e.exposure}: ${e.changed.length} changed${e.verify ? (e.verify.ok ? ', verified' : ', verification FAILED') : ''}`,
  );
  return [head, ...lines].join('\n');
}

function renderArchive(a: ArchiveResult): string {
  const lines = [`archive ${a.stream}/${a.night}: ${a.action}${a.message ? ` (${a.message})` : ''}`];
  if (a.action === 'archived' || a.action === 'already-archived')
    lines.push(`  ${a.tar}: ${a.members} members, ${a.bytes} bytes, ${a.exposures.length} exposures`);
  if (a.catchup) lines.push(renderCatchup(a.catchup));
  return lines.join('\n');
}

function renderPass(p: PassResult): string {
  const lines: string[] = [];
  for (const s of p.streams) {
    const head = `${s.stream}${p.dryRun ? ' (dry run)' : ''}:`;
    if (s.paused) lines.push(`${head} paused (pause file present at the source)`);
    else if (s.error !== undefined) lines.push(`${head} FAILED: ${s.error}`);
    else
      lines.push(
        `${head} ${s.exposures.length} handled, ${s.published} already published, ${s.queued} queued, ${s.skipped.length} skipped`,
      );
    lines.push(...s.exposures.map(renderOutcome));
    lines.push(...s.skipped.map((k) => `  skipped ${k.path}: ${k.reason}`));
    if (s.catchup) lines.push(renderCatchup(s.catchup));
    if (s.archive) lines.push(renderArchive(s.archive));
  }
  return lines.join('\n');
}

function renderArchiveVerify(r: ArchiveVerifyResult): string {
  const lines = [
    `${r.ok ? 'OK' : 'FAILED'}: ${r.tar} (${r.members} members, ${r.bytes} bytes; index ${r.index})`,
  ];
  lines.push(...r.problems.map((p) => `  ${p.path ? `${p.path}: ` : ''}${p.problem}`));
  return lines.join('\n');
}

function passFailed(p: PassResult): boolean {
  return p.streams.some(
    (s) =>
      s.error !== undefined ||
      s.exposures.some((e) => e.failed.length > 0) ||
      s.catchup?.action === 'failed' ||
      s.archive?.action === 'failed',
  );
}

interface VerifyCommandOptions {
  json?: boolean;
  manifest?: string;
}

export function renderVerify(result: VerifyResult): string {
  const lines = [
    `${result.ok ? 'OK' : 'FAILED'}: ${result.verified} files verified (${formatBytes(result.bytes)})`,
  ];
  const list = (title: string, items: readonly string[]) => {
    if (items.length === 0) return;
    lines.push(`${title} (${items.length}):`, ...items.map((item) => `  ${item}`));
  };
  list('missing', result.missing);
  list('unlisted', result.unlisted);
  list('mismatched', result.mismatched);
  list(
    'malformed manifest lines',
    result.malformed.map((m) => (m.line === 0 ? m.text : `line ${m.line}: ${m.text}`)),
  );
  return lines.join('\n');
}

/** `custodian transfer verify`. Pure filesystem work: no config or database is needed. */
export function registerTransferCommands(program: Command, deps: TransferCommandDeps): Command {
  const transfer = program
    .command('transfer')
    .description('raw-data transfer: copy, verify checksums, publish read-only, archive');

  transfer
    .command('verify <dir>')
    .description(
      'check DIR against its sha256sum manifest (exit 0 all good, 1 differences or a bad/missing manifest, 2 no DIR)',
    )
    .option('--manifest <file>', 'manifest file (default: the single *.sha256sum file in DIR)')
    .option('--json', 'print JSON')
    .action(async (dir: string, options: VerifyCommandOptions) => {
      const files = deps.files?.() ?? new NodeFileHasher();
      const result = await verifyDirectory({ dir, manifest: options.manifest }, { files });
      deps.output({ json: options.json === true }).result(result, renderVerify);
      if (!result.ok) process.exitCode = ExitCode.problemsFound;
    });
  const service = async (): Promise<TransferService> => {
    if (!deps.service)
      throw new InputError(
        'TRANSFER_NOT_CONFIGURED',
        'this command needs a configuration with a transfer: section',
      );
    return deps.service();
  };
  const out = (options: JsonOption) => deps.output({ json: options.json === true });

  transfer
    .command('once')
    .description(
      'one pass: copy, verify and publish new exposures; catch-up and archive when due (exit 1 when something failed)',
    )
    .option('--stream <name>', 'only this stream')
    .option('--dry-run', 'report what would be done and change nothing')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption & { stream?: string; dryRun?: boolean }) => {
      await deps.prestart?.(options.stream);
      const svc = await service();
      const output = out(options);
      const result = await svc.runPass({
        stream: options.stream,
        dryRun: options.dryRun === true,
        onExposure: output.json ? undefined : (o) => process.stderr.write(`${renderOutcome(o)}\n`),
      });
      output.result(result, renderPass);
      if (passFailed(result)) process.exitCode = ExitCode.problemsFound;
    });

  transfer
    .command('watch')
    .description('run the transfer scheduler every intervalSeconds, with this process as a worker')
    .option('--dry-run', 'only report what each pass would do')
    .option('--schedule-only', 'queue exposures for `custodian worker` processes; copy nothing here')
    .action(async (options: { dryRun?: boolean; scheduleOnly?: boolean }) => {
      if (!deps.watch)
        throw new InputError(
          'TRANSFER_NOT_CONFIGURED',
          'this command needs a configuration with a transfer: section',
        );
      const controller = new AbortController();
      const dispose = installStopSignals(controller, { logger: deps.logger?.() ?? createLogger() });
      try {
        await deps.watch(controller.signal, {
          dryRun: options.dryRun === true,
          scheduleOnly: options.scheduleOnly === true,
        });
      } finally {
        dispose();
      }
    });

  transfer
    .command('status')
    .description('the latest state of each stage of each exposure')
    .option('--stream <name>', 'only this stream')
    .option('--night <night>', 'only this night (YYYYMMDD)')
    .option('--nights <n>', 'only the newest N nights (0 = all)', '0')
    .option('--json', 'print JSON: one object per exposure')
    .action(async (options: JsonOption & { stream?: string; night?: string; nights: string }) => {
      if (!/^\d{1,6}$/.test(options.nights))
        throw new InputError('TRANSFER_BAD_ARGUMENT', `--nights must be a number, got "${options.nights}"`);
      const { nightSchema } = await argumentSchemas();
      const night = options.night === undefined ? undefined : checked(nightSchema, options.night, 'night');
      const rows = await (
        await service()
      ).status({ stream: options.stream, night, nights: Number(options.nights) });
      out(options).result(rows, renderStatus);
    });

  transfer
    .command('set-status <stream> <night> <exposure> <stage>')
    .description(
      'record a stage by hand (EXPOSURE or "all"; stage rsync|checksum|publish|backup) as ok, or failed with --failure',
    )
    .option('--failure', 'record a failure instead of ok')
    .option('--json', 'print JSON')
    .action(
      async (
        stream: string,
        night: string,
        exposure: string,
        stage: string,
        options: JsonOption & { failure?: boolean },
      ) => {
        const { nightSchema, exposureSchema, stageSchema } = await argumentSchemas();
        const rows = await (
          await service()
        ).setStatus({
          stream,
          night: checked(nightSchema, night, 'night'),
          exposure: exposure === 'all' ? 'all' : checked(exposureSchema, exposure, 'exposure'),
          stage: checked(stageSchema, stage, 'stage'),
          ok: options.failure !== true,
        });
        out(options).result(rows, renderStatus);
      },
    );

  transfer
    .command('catchup <stream> <night>')
    .description('re-sync a night: late files of published exposures are copied, locked and verified again')
    .option('--dry-run', 'list what changed at the source and change nothing')
    .option('--json', 'print JSON')
    .action(async (stream: string, night: string, options: JsonOption & { dryRun?: boolean }) => {
      const { nightSchema } = await argumentSchemas();
      const checkedNight = checked(nightSchema, night, 'night');
      await deps.prestart?.(stream);
      const result = await (
        await service()
      ).catchup(stream, checkedNight, { dryRun: options.dryRun === true });
      out(options).result(result, renderCatchup);
      if (result.action === 'failed') process.exitCode = ExitCode.problemsFound;
    });

  transfer
    .command('archive <stream> <night>')
    .description('pack a night into <archive>/<stream>_<NIGHT>.tar with an index, verify, record backup')
    .option('--dry-run', 'say what would be archived and change nothing')
    .option('--json', 'print JSON')
    .action(async (stream: string, night: string, options: JsonOption & { dryRun?: boolean }) => {
      const { nightSchema } = await argumentSchemas();
      const checkedNight = checked(nightSchema, night, 'night');
      await deps.prestart?.(stream);
      const result = await (
        await service()
      ).archive(stream, checkedNight, { dryRun: options.dryRun === true });
      out(options).result(result, renderArchive);
      if (result.action === 'failed') process.exitCode = ExitCode.problemsFound;
    });

  transfer
    .command('verify-archive <tarfile>')
    .description('check a night archive against its index (exit 0 good, 1 problems, 3 no such file)')
    .option('--index <file>', 'the index (default TARFILE.idx)')
    .option('--json', 'print JSON')
    .action(async (tarfile: string, options: JsonOption & { index?: string }) => {
      const archiver = deps.archiver?.() ?? new TarArchiver();
      const result = await archiver.verify(tarfile, { indexPath: options.index });
      out(options).result(result, renderArchiveVerify);
      if (!result.ok) process.exitCode = ExitCode.problemsFound;
    });
  return transfer;
}
