import type { AlertSink } from '../../core/alerts/alerts.types.js';
import path from 'node:path';
import { ConflictError, InputError, NotFoundError, coerceError } from '../../core/errors.js';
import type { LockManager } from '../../core/lifecycle/lock.js';
import type { Logger } from '../../core/logger.js';
import type { CompareEngine, ListerFactory } from './audit.ports.js';
import type { AuditRepository, RunCounts } from './audit.repository.js';
import type { AuditConfig, SiteConfig } from './audit.schema.js';
import type {
  AuditRun,
  EntryKind,
  EntryList,
  ListingResult,
  SiteReport,
  SiteSummary,
  StatusAction,
} from './audit.types.js';
import type { AuditFiles } from './report-files.adapter.js';

export const AUDIT_ALERTS = {
  threshold: 'AUDIT_THRESHOLD_EXCEEDED',
  failed: 'AUDIT_RUN_FAILED',
} as const;

/** Writes the inventory dump of `inventory: catalog` (Custodian's own file records). */
export type CatalogDumper = (site: SiteConfig, file: string) => Promise<void>;

export interface AuditServiceDeps {
  config: AuditConfig;
  repository: AuditRepository;
  listers: ListerFactory;
  engine: CompareEngine;
  files: AuditFiles;
  alerts: AlertSink;
  logger: Logger;
  locks?: LockManager;
  catalog?: CatalogDumper;
  /** Resolves a relative inventory path against the config file's folder. */
  resolvePath?: (file: string) => string;
  /** unix ms; default Date.now */
  clock?: () => number;
  /** How often a running audit looks for a halt request, ms. Default 1000. */
  haltCheckMs?: number;
}

/** Lines stored per kind and run; the report files always hold the whole list. */
const MAX_STORED_ENTRIES = 200_000;
const RUNS_IN_REPORT = 100;
const INTERRUPTED = 'interrupted: the process was stopped; the next audit starts over';
const ENTRIES_IN_LIST = 100_000;

const REPORT_SUFFIX: Record<EntryKind, string> = {
  missing: 'missing',
  orphan: 'orphan',
  empty: 'empty',
  'size-mismatch': 'size_mismatch',
};

function depth(p: string): number {
  return p.split('/').length;
}

/**
 * The rules of the audit module (issue 4): pick a site, list it, compare it with its inventory,
 * store the run and its entries, alert when thresholds are exceeded, and serve the lists that the
 * deletion and retransfer tools act on — only what two runs agree on, never above a threshold.
 */
export class AuditService {
  private readonly clock: () => number;
  private sitesEnsured = false;

  constructor(private readonly deps: AuditServiceDeps) {
    this.clock = deps.clock ?? Date.now;
  }

  get config(): AuditConfig {
    return this.deps.config;
  }

  getSite(name: string): SiteConfig {
    const site = this.deps.config.sites.find((s) => s.name === name);
    if (!site) {
      throw new NotFoundError(
        'AUDIT_UNKNOWN_SITE',
        `no site "${name}" in the audit configuration (sites: ${this.deps.config.sites.map((s) => s.name).join(', ')})`,
      );
    }
    return site;
  }

  private async ensureSites(): Promise<void> {
    if (this.sitesEnsured) return;
    await this.deps.repository.ensureSites(
      this.deps.config.sites.map((s) => s.name),
      this.clock(),
    );
    this.sitesEnsured = true;
  }

  // ---- runs --------------------------------------------------------------------------------

  /** The site the next audit takes: never audited first, else audited longest ago, among ready sites. */
  async pickSite(siteRegex?: string): Promise<string | undefined> {
    await this.ensureSites();
    let pattern: RegExp | undefined;
    if (siteRegex !== undefined) {
      try {
        pattern = new RegExp(siteRegex);
      } catch (e) {
        throw new InputError('AUDIT_BAD_SITE_PATTERN', `--site ${siteRegex}: ${coerceError(e).message}`);
      }
    }
    const names = this.deps.config.sites.map((s) => s.name).filter((n) => !pattern || pattern.test(n));
    await this.recoverInterrupted(names);
    const [first] = await this.deps.repository.pickOrder(names);
    return first;
  }

  /**
   * A site left `running` by a process that died: nobody holds its lock any more. Its run is
   * recorded as failed and the site made ready again.
   */
  private async recoverInterrupted(names: readonly string[]): Promise<void> {
    if (!this.deps.locks) return;
    for (const name of names) {
      const row = await this.deps.repository.findSite(name);
      if (row?.status !== 'running') continue;
      const lock = await this.deps.locks.tryAcquire(`audit:site:${name}`);
      if (!lock) continue;
      try {
        const [latest] = await this.deps.repository.runs(name, 1);
        if (latest?.outcome === 'running') {
          await this.deps.repository.finishRun(
            latest.id,
            'failed',
            {},
            'interrupted: the process running it stopped',
            this.clock(),
          );
        }
        await this.deps.repository.updateSite(name, { status: 'ready', haltRequested: false }, this.clock());
        this.deps.logger.warn({ site: name }, `audit of ${name} was interrupted; the site is ready again`);
      } finally {
        await lock.release();
      }
    }
  }

  /** Throws ConflictError AUDIT_SITE_NOT_READY unless the site can be audited now. */
  async assertReady(name: string): Promise<void> {
    this.getSite(name);
    await this.ensureSites();
    const row = await this.deps.repository.findSite(name);
    if (row?.status !== 'ready') {
      throw new ConflictError(
        'AUDIT_SITE_NOT_READY',
        `site ${name} is ${row?.status ?? 'unknown'}; set it ready first (custodian audit set-status ${name} ready)`,
      );
    }
  }

  /** `audit run`: picks a site (see pickSite) and audits it; undefined when no site is ready. */
  async runNext(options: { siteRegex?: string; signal?: AbortSignal } = {}): Promise<AuditRun | undefined> {
    const site = await this.pickSite(options.siteRegex);
    return site === undefined ? undefined : this.runSite(site, { signal: options.signal });
  }

  /**
   * One audit of a site: ready → running → list → compare → store → ready. Refuses a site that
   * is not ready (ConflictError). Halting stops the listing at the next directory.
   */
  async runSite(name: string, options: { signal?: AbortSignal } = {}): Promise<AuditRun> {
    const site = this.getSite(name);
    await this.ensureSites();
    const lock = this.deps.locks ? await this.deps.locks.tryAcquire(`audit:site:${name}`) : undefined;
    if (this.deps.locks && !lock) {
      throw new ConflictError('AUDIT_SITE_BUSY', `site ${name} is being audited by another process`);
    }
    try {
      const row = await this.deps.repository.findSite(name);
      if (!(await this.deps.repository.claimSite(name, this.clock()))) {
        throw new ConflictError(
          'AUDIT_SITE_NOT_READY',
          `site ${name} is ${row?.status ?? 'unknown'}; set it ready first (custodian audit set-status ${name} ready)`,
        );
      }
      const runId = await this.deps.repository.startRun(name, this.clock());
      try {
        return await this.audit(site, runId, options.signal);
      } catch (thrown) {
        if (options.signal?.aborted) {
          // The process is stopping (SIGTERM, the kill file): not a failure, and the site stays in
          // the rotation; the next audit starts over.
          await this.deps.repository.finishRun(runId, 'halted', {}, INTERRUPTED, this.clock());
          await this.deps.repository.updateSite(
            name,
            { status: 'ready', haltRequested: false },
            this.clock(),
          );
          return this.getRun(name, runId);
        }
        const error = coerceError(thrown);
        await this.deps.repository.finishRun(runId, 'failed', {}, error.message, this.clock());
        await this.deps.repository.updateSite(name, { status: 'ready', haltRequested: false }, this.clock());
        await this.deps.alerts.raise({
          code: AUDIT_ALERTS.failed,
          severity: 'critical',
          key: name,
          message: `audit of ${name} failed: ${error.message}`,
        });
        return this.getRun(name, runId);
      }
    } finally {
      await lock?.release();
    }
  }

  private runDir(site: string, runId: number): string {
    return path.join(this.deps.config.reportsDir, site, String(runId));
  }

  private async audit(site: SiteConfig, runId: number, signal?: AbortSignal): Promise<AuditRun> {
    const { repository, files, logger } = this.deps;
    const dir = this.runDir(site.name, runId);
    await files.ensureDirectory(dir);
    logger.info({ site: site.name, run: runId }, `audit of ${site.name}: listing ${site.storage}`);

    let lastCheck = 0;
    let halted = false;
    const listing = await this.list(site, path.join(dir, 'listing.tsv'), {
      signal,
      shouldStop: async () => {
        if (signal?.aborted) return true;
        const now = this.clock();
        if (now - lastCheck < (this.deps.haltCheckMs ?? 1000)) return halted;
        lastCheck = now;
        halted = (await repository.findSite(site.name))?.haltRequested === true;
        return halted;
      },
    });
    const unlistedReport = path.join(dir, `${site.name}_unlisted.txt`);
    await files.writeLines(
      unlistedReport,
      listing.unlisted.map((u) => `${u.path}\t${u.reason}`),
    );
    const base: Partial<RunCounts> = {
      files: listing.files,
      directories: listing.directories,
      unlisted: listing.unlisted,
    };
    if (listing.halted || signal?.aborted) {
      // An operator's halt keeps the site halted; a stopping process leaves it ready.
      const byOperator = !signal?.aborted;
      await repository.finishRun(
        runId,
        'halted',
        base,
        byOperator ? 'halted by an operator' : INTERRUPTED,
        this.clock(),
      );
      await repository.updateSite(
        site.name,
        { status: byOperator ? 'halted' : 'ready', haltRequested: false },
        this.clock(),
      );
      logger.warn(
        { site: site.name, run: runId },
        `audit of ${site.name} ${byOperator ? 'halted' : 'interrupted'}`,
      );
      return this.getRun(site.name, runId);
    }

    const inventory = await this.inventoryFile(site, dir);
    const result = await this.deps.engine.compare({
      inventory,
      listing: path.join(dir, 'listing.tsv'),
      out: path.join(dir, site.name),
      now: Math.floor(this.clock() / 1000),
      ignoreAgeDays: this.deps.config.ignoreAgeDays,
      ignorePatterns: this.deps.config.ignorePatterns,
      unlisted: listing.unlisted.map((u) => u.path),
      workDir: dir,
      signal,
    });
    const now = this.clock();
    for (const kind of Object.keys(REPORT_SUFFIX) as EntryKind[]) {
      await this.storeEntries(
        site.name,
        kind,
        runId,
        path.join(dir, `${site.name}_${REPORT_SUFFIX[kind]}.txt`),
        now,
      );
    }
    const over = result.missing > this.deps.config.maxMissing || result.orphans > this.deps.config.maxOrphans;
    const counts: Partial<RunCounts> = {
      ...base,
      missing: result.missing,
      missingBytes: result.missingBytes,
      orphans: result.orphans,
      orphanBytes: result.orphanBytes,
      sizeMismatches: result.sizeMismatches,
      emptyDirs: result.emptyDirs,
    };
    const message = over
      ? `${result.missing} missing (max ${this.deps.config.maxMissing}), ${result.orphans} orphans (max ${this.deps.config.maxOrphans}): nothing is marked for action`
      : null;
    await repository.finishRun(runId, over ? 'over-threshold' : 'ok', counts, message, this.clock());
    await repository.updateSite(site.name, { status: 'ready', haltRequested: false }, this.clock());
    await this.deps.alerts.resolve?.(AUDIT_ALERTS.failed, site.name);
    if (over) {
      await this.deps.alerts.raise({
        code: AUDIT_ALERTS.threshold,
        severity: 'critical',
        key: site.name,
        message: `audit of ${site.name}: ${message ?? ''}. Check the site before acting on the lists`,
      });
    } else await this.deps.alerts.resolve?.(AUDIT_ALERTS.threshold, site.name);
    logger.info({ site: site.name, run: runId, ...result }, `audit of ${site.name} done`);
    return this.getRun(site.name, runId);
  }

  private async storeEntries(site: string, kind: EntryKind, runId: number, file: string, now: number) {
    let batch: string[] = [];
    let stored = 0;
    for await (const line of this.deps.files.readLines(file)) {
      if (stored >= MAX_STORED_ENTRIES) break;
      batch.push(line);
      stored++;
      if (batch.length === 5000) {
        await this.deps.repository.recordEntries(site, kind, runId, batch, now);
        batch = [];
      }
    }
    if (batch.length > 0) await this.deps.repository.recordEntries(site, kind, runId, batch, now);
  }

  private async inventoryFile(site: SiteConfig, dir: string): Promise<string> {
    if (site.inventory !== 'catalog') return this.deps.resolvePath?.(site.inventory) ?? site.inventory;
    if (!this.deps.catalog) {
      throw new InputError(
        'AUDIT_NO_CATALOG',
        `site ${site.name} uses "inventory: catalog", which needs the ingest module (its file records); configure ingest or give a dump file`,
      );
    }
    const file = path.join(dir, 'inventory.tsv');
    await this.deps.catalog(site, file);
    return file;
  }

  /** `audit list SITE`: the site's listing, streamed to `dumpFile`. */
  async list(
    site: SiteConfig,
    dumpFile: string,
    options: { signal?: AbortSignal; shouldStop?: () => Promise<boolean> | boolean } = {},
  ): Promise<ListingResult> {
    const lister = this.deps.listers.create({
      name: site.name,
      storage: site.storage,
      sshIdentity: site.sshIdentity,
      sshOptions: site.sshOptions,
    });
    return lister.list({
      directories: site.directories,
      dumpFile,
      concurrency: site.concurrency,
      retries: site.retries,
      timeoutSeconds: site.timeoutSeconds,
      shouldStop: options.shouldStop,
      signal: options.signal,
    });
  }

  async listSite(
    name: string,
    dumpFile: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<ListingResult> {
    return this.list(this.getSite(name), dumpFile, options);
  }

  private async getRun(site: string, runId: number): Promise<AuditRun> {
    const runs = await this.deps.repository.runs(site, RUNS_IN_REPORT);
    const run = runs.find((r) => r.id === runId);
    if (!run) throw new NotFoundError('AUDIT_RUN_NOT_FOUND', `no run ${runId} of site ${site}`);
    return run;
  }

  // ---- status ------------------------------------------------------------------------------

  async sites(): Promise<SiteSummary[]> {
    await this.ensureSites();
    const out: SiteSummary[] = [];
    for (const site of this.deps.config.sites) out.push(await this.summary(site));
    return out;
  }

  private async summary(site: SiteConfig): Promise<SiteSummary> {
    const row = await this.deps.repository.findSite(site.name);
    const [lastRun] = await this.deps.repository.runs(site.name, 1);
    return {
      name: site.name,
      storage: site.storage,
      status: row?.status ?? 'ready',
      mode: row?.mode ?? 'dry',
      haltRequested: row?.haltRequested ?? false,
      lastRun: lastRun ?? null,
      maxMissing: this.deps.config.maxMissing,
      maxOrphans: this.deps.config.maxOrphans,
    };
  }

  async report(name: string): Promise<SiteReport> {
    const site = this.getSite(name);
    await this.ensureSites();
    const summary = await this.summary(site);
    const runs = await this.deps.repository.runs(name, RUNS_IN_REPORT);
    const latest = runs.find((r) => r.outcome !== 'running');
    return {
      ...summary,
      runs,
      unlistedDirectories: latest ? await this.deps.repository.unlistedOf(latest.id) : [],
    };
  }

  async setStatus(name: string, action: StatusAction): Promise<SiteSummary> {
    const site = this.getSite(name);
    await this.ensureSites();
    const row = await this.deps.repository.findSite(name);
    const running = row?.status === 'running';
    const now = this.clock();
    switch (action) {
      case 'act':
      case 'dry':
        await this.deps.repository.updateSite(name, { mode: action }, now);
        break;
      case 'halt':
        // A running audit stops at its next directory and records itself halted.
        if (running) await this.deps.repository.updateSite(name, { haltRequested: true }, now);
        else await this.deps.repository.updateSite(name, { status: 'halted' }, now);
        break;
      case 'ready':
      case 'disable':
        if (running) {
          throw new ConflictError(
            'AUDIT_SITE_RUNNING',
            `site ${name} is being audited; halt it first (custodian audit set-status ${name} halt)`,
          );
        }
        await this.deps.repository.updateSite(
          name,
          { status: action === 'ready' ? 'ready' : 'disabled', haltRequested: false },
          now,
        );
        break;
    }
    return this.summary(site);
  }

  // ---- lists -------------------------------------------------------------------------------

  /**
   * The entries of the latest compared run. Missing files need two runs: only those the previous
   * run missed too are listed. `acting` records that the caller acted on the list; it is refused
   * when the list is not for action (dry mode, thresholds exceeded, no confirmation run yet).
   */
  async entries(
    name: string,
    kind: EntryKind,
    options: { acting?: boolean; limit?: number } = {},
  ): Promise<EntryList> {
    this.getSite(name);
    await this.ensureSites();
    const row = await this.deps.repository.findSite(name);
    const [latest, previous] = await this.deps.repository.comparedRuns(name);
    const base: EntryList = {
      site: name,
      kind,
      runId: latest?.id ?? null,
      forAction: false,
      reason: null,
      actedAt: null,
      entries: [],
    };
    if (!latest) return { ...base, reason: 'the site has not been audited yet' };
    const confirmedBy = kind === 'missing' ? previous?.id : undefined;
    if (kind === 'missing' && previous === undefined) {
      // Nothing is confirmed yet: the list is empty by rule.
      const why = 'missing files are confirmed by a second run; there has been only one';
      if (options.acting)
        throw new ConflictError(
          'AUDIT_NOT_FOR_ACTION',
          `the missing list of ${name} is not for action: ${why}`,
        );
      return { ...base, reason: why };
    }
    let reason: string | null = null;
    if (row?.mode !== 'act') reason = `site ${name} is in dry mode (report only)`;
    else if (latest.outcome === 'over-threshold') reason = 'the latest run exceeded maxMissing or maxOrphans';
    let actedAt: string | null = null;
    if (options.acting) {
      if (reason !== null)
        throw new ConflictError(
          'AUDIT_NOT_FOR_ACTION',
          `the ${kind} list of ${name} is not for action: ${reason}`,
        );
      const now = this.clock();
      await this.deps.repository.markActed(name, kind, latest.id, now, { confirmedBy });
      actedAt = new Date(now).toISOString();
    }
    const entries = await this.deps.repository.entries(name, kind, latest.id, {
      confirmedBy,
      limit: options.limit ?? ENTRIES_IN_LIST,
    });
    if (kind === 'empty') entries.sort((a, b) => depth(b.path) - depth(a.path) || (a.path < b.path ? -1 : 1));
    return { ...base, forAction: reason === null, reason, actedAt, entries };
  }
}
