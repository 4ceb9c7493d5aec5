import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { ExitCode } from '../../core/cli/exit-codes.js';
import { formatBytes, formatTable, type Output } from '../../core/cli/output.js';
import { InputError } from '../../core/errors.js';
import { installStopSignals } from '../../core/lifecycle/signals.js';
import { createLogger, type Logger } from '../../core/logger.js';
import { differencesFound, registerAuditCompareCommand } from './audit-compare.commands.js';
import type { CompareEngine } from './audit.ports.js';
import type { AuditService } from './audit.service.js';
import type { AuditRun, EntryKind, EntryList, SiteReport, SiteSummary } from './audit.types.js';

export interface AuditCommandDeps {
  output: (options: { json: boolean }) => Output;
  /** The configured audit service (the config must have an audit: section). */
  service: () => Promise<AuditService>;
  /** ignoreAgeDays and ignorePatterns for `compare` (config values, else defaults). */
  compareDefaults: () => { ignoreAgeDays: number; ignorePatterns: string[] };
  engine?: () => CompareEngine;
  /** Runs `audit watch` until the signal aborts or the kill file appears. */
  watch: (signal: AbortSignal) => Promise<void>;
  logger?: () => Logger;
}

interface JsonOption {
  json?: boolean;
}

function renderRun(run: AuditRun): string {
  return [
    `run ${run.id} of ${run.site}: ${run.outcome}${run.message ? ` (${run.message})` : ''}`,
    `  ${run.files} files, ${run.directories} directories, ${run.durationSeconds ?? '-'} s`,
    `  missing ${run.missing} (${formatBytes(run.missingBytes)}), orphans ${run.orphans} (${formatBytes(run.orphanBytes)}), size mismatches ${run.sizeMismatches}, empty directories ${run.emptyDirs}, unlisted ${run.unlisted}`,
  ].join('\n');
}

function renderSites(sites: readonly SiteSummary[]): string {
  return formatTable(
    ['site', 'status', 'mode', 'last run', 'outcome', 'files', 'missing', 'orphans', 'empty', 'unlisted'],
    sites.map((s) => [
      s.name,
      s.haltRequested ? `${s.status} (halting)` : s.status,
      s.mode,
      s.lastRun?.startedAt.slice(0, 16).replace('T', ' ') ?? '-',
      s.lastRun?.outcome ?? '-',
      s.lastRun?.files ?? '-',
      s.lastRun ? `${s.lastRun.missing} (${formatBytes(s.lastRun.missingBytes)})` : '-',
      s.lastRun ? `${s.lastRun.orphans} (${formatBytes(s.lastRun.orphanBytes)})` : '-',
      s.lastRun?.emptyDirs ?? '-',
      s.lastRun?.unlisted ?? '-',
    ]),
  );
}

function renderReport(r: SiteReport): string {
  const lines = [renderSites([r]), '', ...r.runs.slice(0, 10).map(renderRun)];
  if (r.unlistedDirectories.length > 0)
    lines.push('', 'unlisted directories:', ...r.unlistedDirectories.map((u) => `  ${u.path}: ${u.reason}`));
  return lines.join('\n');
}

function renderEntries(list: EntryList): string {
  const head = `${list.kind} of ${list.site} (run ${list.runId ?? '-'}): ${list.entries.length} entries, ${
    list.forAction ? 'for action' : `not for action: ${list.reason ?? ''}`
  }${list.actedAt ? `; acted at ${list.actedAt}` : ''}`;
  return [head, ...list.entries.map((e) => e.path)].join('\n');
}

/** `custodian audit compare|list|run|watch|sites|report|missing|orphans|empty-dirs|set-status`. */
export function registerAuditCommands(program: Command, deps: AuditCommandDeps): Command {
  const out = (options: JsonOption) => deps.output({ json: options.json === true });
  const audit = program
    .command('audit')
    .description(
      'storage consistency: list sites, compare with the catalog, report missing, orphan and empty',
    );

  registerAuditCompareCommand(audit, {
    output: deps.output,
    engine: deps.engine,
    defaults: deps.compareDefaults,
  });

  audit
    .command('list <site>')
    .description('list a site into a dump (path, size, mtime per line); stdout unless --out')
    .option('--out <file>', 'write the dump here')
    .action(async (site: string, options: { out?: string }) => {
      const service = await deps.service();
      const target =
        options.out ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-list-')), 'listing.tsv');
      let result;
      try {
        result = await service.listSite(site, target);
        if (options.out === undefined) {
          await new Promise<void>((resolve, reject) => {
            const stream = fs.createReadStream(target);
            stream.on('error', reject);
            stream.on('end', resolve);
            stream.pipe(process.stdout, { end: false });
          });
        }
      } finally {
        // The scratch dump behind stdout goes, whether the listing worked or not (an unknown site).
        if (options.out === undefined) fs.rmSync(path.dirname(target), { recursive: true, force: true });
      }
      process.stderr.write(
        `${site}: ${result.files} files, ${result.directories} directories, ${result.unlisted.length} unlisted\n`,
      );
      for (const u of result.unlisted) process.stderr.write(`  unlisted ${u.path}: ${u.reason}\n`);
      if (result.unlisted.length > 0) process.exitCode = ExitCode.problemsFound;
    });

  audit
    .command('run')
    .description(
      'audit the next site: the one never audited, else the one audited longest ago (among ready sites)',
    )
    .option('--site <regex>', 'only sites whose name matches')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption & { site?: string }) => {
      const run = await (await deps.service()).runNext({ siteRegex: options.site });
      out(options).result(run ?? null, (r) => (r ? renderRun(r) : 'no site is ready to audit'));
      // Exit 1 when the audit found differences or did not finish ok (DESIGN §2: problems found).
      if (run && (run.outcome !== 'ok' || differencesFound(run))) process.exitCode = ExitCode.problemsFound;
    });

  audit
    .command('watch')
    .description('the audit scheduler: one site every intervalSeconds (SIGTERM or the kill file stops it)')
    .action(async () => {
      const controller = new AbortController();
      const dispose = installStopSignals(controller, { logger: deps.logger?.() ?? createLogger() });
      try {
        await deps.watch(controller.signal);
      } finally {
        dispose();
      }
    });

  audit
    .command('sites')
    .description('every site with its status and latest run')
    .option('--json', 'print JSON')
    .action(async (options: JsonOption) => {
      out(options).result(await (await deps.service()).sites(), renderSites);
    });

  audit
    .command('report <site>')
    .description('one site: status, runs, unlisted directories')
    .option('--json', 'print JSON')
    .action(async (site: string, options: JsonOption) => {
      out(options).result(await (await deps.service()).report(site), renderReport);
    });

  const lists: [string, EntryKind, string][] = [
    ['missing', 'missing', 'files the catalog has and the site lost (confirmed by two runs)'],
    ['orphans', 'orphan', 'files at the site the catalog does not know (dark data)'],
    ['empty-dirs', 'empty', 'directories with no file below, deepest first'],
  ];
  for (const [verb, kind, what] of lists) {
    audit
      .command(`${verb} <site>`)
      .description(`${what} from the latest run`)
      .option('--acting', 'record that you act on this list (refused when it is not for action)')
      .option('--json', 'print JSON')
      .action(async (site: string, options: JsonOption & { acting?: boolean }) => {
        const list = await (await deps.service()).entries(site, kind, { acting: options.acting === true });
        out(options).result(list, renderEntries);
      });
  }

  audit
    .command('set-status <site> <action>')
    .description('ready | halt | disable | act | dry')
    .option('--json', 'print JSON')
    .action(async (site: string, action: string, options: JsonOption) => {
      // Imported here, not with the CLI: zod would add to every command's start-up time.
      const { statusActionSchema } = await import('./audit.schema.js');
      const parsed = statusActionSchema.safeParse(action);
      if (!parsed.success)
        throw new InputError(
          'AUDIT_BAD_ARGUMENT',
          `"${action}" is not a status action: use ready, halt, disable, act or dry`,
        );
      out(options).result(await (await deps.service()).setStatus(site, parsed.data), (s) => renderSites([s]));
    });
  return audit;
}
