import { InputError, NotFoundError, coerceError, isCustodianError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { IngestConfig } from './ingest.schema.js';
import type { DataEntry, IngestFileSystem, MoveRequest } from './ingest.ports.js';
import type { FileRecord, IngestRepository, RunRecord, RunRow } from './ingest.repository.js';
import type {
  AlertSink,
  Clock,
  DropName,
  MovedFile,
  PassResult,
  ProgressListener,
  RebuildResult,
  RunDetail,
  RunFile,
  RunPage,
  RunSummary,
  SkippedFile,
  FileError,
  UploadInput,
  UploadResult,
} from './ingest.types.js';
import {
  assertTimezone,
  localTimeOf,
  parseDropName,
  parseProcessedName,
  processedFileName,
  uploadFileName,
} from './name.parser.js';
import { validateRootFile } from './root-file.validator.js';

/** What the service needs from the configuration (the `ingest:` section). */
export type IngestServiceConfig = Pick<
  IngestConfig,
  'subsystems' | 'timezone' | 'replayModes' | 'settleSeconds' | 'maxUploadBytes'
>;

export interface IngestServiceDeps {
  config: IngestServiceConfig;
  repository: IngestRepository;
  files: IngestFileSystem;
  alerts: AlertSink;
  logger: Logger;
  /** Unix ms; default Date.now. */
  clock?: Clock;
  /** Validates uploaded bytes; default: jsroot-based ROOT check. */
  validateUpload?: (bytes: Uint8Array) => Promise<unknown>;
}

export interface PassOptions {
  onProgress?: ProgressListener;
}

const REPLAY_DIR = 'ReplayData';
const RUN_DIR_RE = /^Run(\d{1,15})$/;

interface PlannedMove {
  source: string;
  size: number;
  name: DropName;
  runDir: string;
  replay: boolean;
  target: string;
}

/** Runs one task at a time: passes and rebuilds of one service never interleave. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

function runDirOf(run: number, replay: boolean): string {
  return replay ? `${REPLAY_DIR}/Run${run}` : `Run${run}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * The ingest organizer: moves files from the drop directory into `Run<run>/<SYS>/` trees, keeps
 * the runs and files tables in step with the tree, and accepts DQM uploads into the drop
 * directory. Every pass is idempotent; a pass that died is finished by the next one (its journal
 * names the run directories whose database rows are re-read from disk).
 */
export class IngestService {
  private readonly config: IngestServiceConfig;
  private readonly repository: IngestRepository;
  private readonly files: IngestFileSystem;
  private readonly alerts: AlertSink;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly validateUpload: (bytes: Uint8Array) => Promise<unknown>;
  private readonly subsystems: ReadonlySet<string>;
  private readonly replayModes: ReadonlySet<string>;
  private readonly mutex = new Mutex();

  constructor(deps: IngestServiceDeps) {
    assertTimezone(deps.config.timezone);
    this.config = deps.config;
    this.repository = deps.repository;
    this.files = deps.files;
    this.alerts = deps.alerts;
    this.logger = deps.logger;
    this.clock = deps.clock ?? Date.now;
    this.validateUpload = deps.validateUpload ?? validateRootFile;
    this.subsystems = new Set(deps.config.subsystems);
    this.replayModes = new Set(deps.config.replayModes);
  }

  /** Largest accepted upload, bytes (ingest.maxUploadBytes). */
  get maxUploadBytes(): number {
    return this.config.maxUploadBytes;
  }

  /** One organize pass over the drop directory (`ingest once`). */
  runPass(options: PassOptions = {}): Promise<PassResult> {
    return this.mutex.run(() => this.pass(options));
  }

  private async pass(options: PassOptions): Promise<PassResult> {
    await this.recover();
    const now = this.clock();
    const settleMs = this.config.settleSeconds * 1000;
    const skipped: SkippedFile[] = [];
    const errors: FileError[] = [];
    const plan: PlannedMove[] = [];

    for (const entry of await this.files.listDrop()) {
      const source = entry.name;
      if (source.startsWith('.')) {
        skipped.push({ source, reason: 'dot-file' });
        continue;
      }
      if (entry.type !== 'file') {
        skipped.push({ source, reason: 'not-a-regular-file' });
        continue;
      }
      let name: DropName;
      try {
        name = parseDropName(source, this.config.timezone);
      } catch (error) {
        if (!isCustodianError(error) || error.kind !== 'InputError') throw error;
        skipped.push({ source, reason: 'unparsable-name' });
        continue;
      }
      if (!this.subsystems.has(name.subsystem)) {
        skipped.push({ source, reason: 'unknown-subsystem' });
        continue;
      }
      if (now - entry.mtimeMs < settleMs) {
        skipped.push({ source, reason: 'not-settled' });
        continue;
      }
      const replay = this.replayModes.has(name.mode);
      const runDir = runDirOf(name.run, replay);
      const target = `${runDir}/${name.subsystem}/${processedFileName(name.subsystem, name.local, name.ext)}`;
      plan.push({ source, size: entry.size, name, runDir, replay, target });
    }
    if (plan.length === 0) return { moved: [], skipped, errors };

    // The earliest file of a run directory decides the mode written to its runInfo.yaml.
    const firstMode = new Map<string, DropName>();
    for (const item of plan) {
      const seen = firstMode.get(item.runDir);
      if (!seen || item.name.timestamp < seen.timestamp) firstMode.set(item.runDir, item.name);
    }
    const journal = await this.files.beginJournal([...firstMode.keys()]);
    try {
      const result = await this.moveAndRecord(plan, firstMode, options, skipped, errors);
      await this.files.endJournal(journal);
      return result;
    } catch (error) {
      // Files may have moved without their rows: the journal stays for the next pass.
      await this.files.leaveJournal(journal);
      throw error;
    }
  }

  private async moveAndRecord(
    plan: readonly PlannedMove[],
    firstMode: ReadonlyMap<string, DropName>,
    options: PassOptions,
    skipped: SkippedFile[],
    errors: FileError[],
  ): Promise<PassResult> {
    const runModes = new Map<string, string>();
    const unusable = new Map<string, string>();
    for (const [runDir, name] of firstMode) {
      try {
        runModes.set(runDir, (await this.files.ensureRunInfo(runDir, name.mode)) ?? 'U');
      } catch (error) {
        unusable.set(runDir, coerceError(error).message);
      }
    }
    const movable: PlannedMove[] = [];
    for (const item of plan) {
      const problem = unusable.get(item.runDir);
      if (problem === undefined) movable.push(item);
      else errors.push({ source: item.source, message: problem });
    }

    // A PlannedMove is a MoveRequest (source, target): no second object per file.
    const requests: readonly MoveRequest[] = movable;
    const outcomes = await this.files.moveFiles(requests, (done) =>
      options.onProgress?.(done, requests.length),
    );

    const moved: MovedFile[] = [];
    const fileRows = new Map<string, FileRecord>();
    const runRows = new Map<number, RunRecord>();
    const collisions: { source: string; target: string; kept: string }[] = [];
    const record = (item: PlannedMove, path: string, size: number): void => {
      fileRows.set(path, {
        run: item.name.run,
        subsystem: item.name.subsystem,
        timestamp: item.name.timestamp * 1000,
        size,
        path,
      });
      const existing = runRows.get(item.name.run);
      if (!existing || (existing.replay && !item.replay)) {
        runRows.set(item.name.run, {
          run: item.name.run,
          mode: runModes.get(item.runDir) ?? 'U',
          replay: item.replay,
        });
      }
    };
    const movedEntry = (item: PlannedMove, target: string): MovedFile => ({
      source: item.source,
      target,
      run: item.name.run,
      subsystem: item.name.subsystem,
      mode: item.name.mode,
      timestamp: item.name.timestamp,
    });
    movable.forEach((item, i) => {
      const outcome = outcomes[i];
      switch (outcome?.kind) {
        case 'moved':
          moved.push(movedEntry(item, item.target));
          record(item, item.target, item.size);
          break;
        case 'duplicate':
          // The newcomer is kept beside the original but not recorded: the tables list the
          // canonical file of each time, so merges do not count a resent histogram twice.
          moved.push(movedEntry(item, outcome.target));
          record(item, item.target, outcome.originalSize);
          collisions.push({ source: item.source, target: item.target, kept: outcome.target });
          break;
        case 'vanished':
          skipped.push({ source: item.source, reason: 'vanished' });
          break;
        case 'failed':
          errors.push({ source: item.source, message: outcome.message });
          break;
        case undefined:
          errors.push({ source: item.source, message: 'internal: no outcome reported for this file' });
          break;
      }
    });

    await this.repository.recordFiles([...runRows.values()], [...fileRows.values()], this.clock());

    for (const collision of collisions) await this.raiseCollision(collision);
    if (errors.length > 0) {
      this.logger.warn({ errors: errors.length }, 'ingest pass: some files could not be moved');
    }
    // A watcher passes every few seconds; only passes that did something deserve an info line.
    const quiet = moved.length === 0 && errors.length === 0;
    this.logger[quiet ? 'debug' : 'info'](
      { moved: moved.length, skipped: skipped.length, errors: errors.length },
      'ingest pass done',
    );
    return { moved, skipped, errors };
  }

  private async raiseCollision(collision: { source: string; target: string; kept: string }): Promise<void> {
    try {
      await this.alerts.raise({
        code: 'INGEST_NAME_COLLISION',
        severity: 'warning',
        message: `${collision.source} arrived for ${collision.target}, which already holds different content; both are kept, the newcomer as ${collision.kept}`,
        details: collision,
        key: collision.target,
      });
    } catch (error) {
      this.logger.error({ err: coerceError(error), collision }, 'could not raise the name-collision alert');
    }
  }

  /** Finishes what passes that died left: their runs are re-read from disk, temp files removed. */
  private async recover(): Promise<void> {
    const journals = await this.files.abandonedJournals();
    if (journals.length === 0) return;
    const runDirs = [...new Set(journals.flatMap((j) => j.runDirs))];
    await this.files.removeStaleTemps(runDirs);
    const scanned = await Promise.all(runDirs.map((dir) => this.scanRunDir(dir)));
    const runs = new Map<number, RunRecord>();
    const files: FileRecord[] = [];
    for (const scan of scanned) {
      if (!scan || scan.files.length === 0) continue;
      files.push(...scan.files);
      const existing = runs.get(scan.run.run);
      if (!existing || (existing.replay && !scan.run.replay)) runs.set(scan.run.run, scan.run);
    }
    await this.repository.recordFiles([...runs.values()], files, this.clock());
    for (const journal of journals) await this.files.endJournal(journal);
    this.logger.warn(
      { journals: journals.length, runDirs },
      'ingest: finished the work of an interrupted pass',
    );
  }

  /** Files and mode of one run directory as they are on disk. */
  private async scanRunDir(runDir: string): Promise<{ run: RunRecord; files: FileRecord[] } | undefined> {
    const replay = runDir.startsWith(`${REPLAY_DIR}/`);
    const match = RUN_DIR_RE.exec(replay ? runDir.slice(REPLAY_DIR.length + 1) : runDir);
    if (!match) return undefined;
    const run = Number(match[1]);
    const files: FileRecord[] = [];
    const subdirs = (await this.files.listData(runDir)).filter((e) => e.type === 'directory');
    for (const subdir of subdirs) {
      const entries: DataEntry[] = await this.files.listData(`${runDir}/${subdir.name}`);
      for (const entry of entries) {
        if (entry.type !== 'file' || entry.name.startsWith('.')) continue;
        let timestamp: number;
        try {
          const parsed = parseProcessedName(entry.name, this.config.timezone);
          if (parsed.subsystem !== subdir.name) continue;
          timestamp = parsed.timestamp;
        } catch (error) {
          if (isCustodianError(error) && error.kind === 'InputError') continue; // dups, time slices, other files
          throw error;
        }
        files.push({
          run,
          subsystem: subdir.name,
          timestamp: timestamp * 1000,
          size: entry.size,
          path: `${runDir}/${subdir.name}/${entry.name}`,
        });
      }
    }
    const mode = (await this.files.readRunInfo(runDir)) ?? 'U';
    return { run: { run, mode, replay }, files };
  }

  /**
   * Recreates both tables from the tree on disk (`ingest rebuild`). A run's mode comes from its
   * runInfo.yaml (`U` when absent); a run is a replay run when all its files are under ReplayData/.
   */
  rebuild(options: PassOptions = {}): Promise<RebuildResult> {
    return this.mutex.run(async () => {
      const top = await this.files.listData('');
      const replays = await this.files.listData(REPLAY_DIR);
      const runDirs = [
        ...top.filter((e) => e.type === 'directory' && RUN_DIR_RE.test(e.name)).map((e) => e.name),
        ...replays
          .filter((e) => e.type === 'directory' && RUN_DIR_RE.test(e.name))
          .map((e) => `${REPLAY_DIR}/${e.name}`),
      ];
      const journals = await this.files.abandonedJournals();
      await this.files.removeStaleTemps(runDirs);
      const runs = new Map<number, RunRecord>();
      const files: FileRecord[] = [];
      let done = 0;
      for (const runDir of runDirs) {
        const scan = await this.scanRunDir(runDir);
        options.onProgress?.(++done, runDirs.length);
        if (!scan || scan.files.length === 0) continue;
        files.push(...scan.files);
        const existing = runs.get(scan.run.run);
        if (!existing || (existing.replay && !scan.run.replay)) runs.set(scan.run.run, scan.run);
      }
      await this.repository.replaceAll([...runs.values()], files, this.clock());
      for (const journal of journals) await this.files.endJournal(journal);
      this.logger.info({ runs: runs.size, files: files.length }, 'ingest: database rebuilt from the tree');
      return { runs: runs.size, files: files.length };
    });
  }

  /** Runs, newest first. */
  async listRuns(limit = 50, offset = 0): Promise<RunPage> {
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
      throw new InputError('INGEST_BAD_LIMIT', `limit must be an integer from 1 to 500, got ${limit}`);
    }
    if (!Number.isInteger(offset) || offset < 0) {
      throw new InputError('INGEST_BAD_OFFSET', `offset must be a non-negative integer, got ${offset}`);
    }
    const { rows, total } = await this.repository.listRuns(limit, offset);
    const counts = await this.repository.countFiles(rows.map((r) => r.run));
    const byRun = new Map<number, Record<string, number>>();
    for (const c of counts) {
      const files = byRun.get(c.run) ?? {};
      files[c.subsystem] = c.count;
      byRun.set(c.run, files);
    }
    return { items: rows.map((row) => summary(row, byRun.get(row.run) ?? {})), total };
  }

  /** One run with its files per subsystem; NotFoundError INGEST_RUN_NOT_FOUND. */
  async getRun(run: number): Promise<RunDetail> {
    if (!Number.isSafeInteger(run) || run < 0) {
      throw new InputError('INGEST_BAD_RUN', `run must be a non-negative integer, got ${run}`);
    }
    const row = await this.repository.findRun(run);
    if (!row) {
      throw new NotFoundError(
        'INGEST_RUN_NOT_FOUND',
        `run ${run} is not in the database; list runs with "custodian ingest runs" (or "custodian ingest rebuild" if the tree was changed by hand)`,
      );
    }
    const files = await this.repository.listFiles(run);
    const counts: Record<string, number> = {};
    const subsystems: Record<string, RunFile[]> = {};
    for (const file of files) {
      counts[file.subsystem] = (counts[file.subsystem] ?? 0) + 1;
      (subsystems[file.subsystem] ??= []).push({
        timestamp: Math.floor(file.timestamp / 1000),
        size: file.size,
        path: file.path,
      });
    }
    return { ...summary(row, counts), subsystems };
  }

  /**
   * Stores a DQM upload in the drop directory as `<agent>histos_<run>_DQM_<local time>.root`
   * after checking it is a readable ROOT file; the next pass organizes it.
   */
  async storeUpload(input: UploadInput): Promise<UploadResult> {
    if (!this.subsystems.has(input.agent)) {
      throw new InputError(
        'INGEST_UPLOAD_BAD_AGENT',
        `agent "${input.agent}" is not a configured subsystem (${[...this.subsystems].join(', ')})`,
      );
    }
    if (!Number.isSafeInteger(input.run) || input.run < 0) {
      throw new InputError('INGEST_UPLOAD_BAD_FIELD', `run must be a non-negative integer, got ${input.run}`);
    }
    if (!Number.isSafeInteger(input.timestamp) || input.timestamp < 0) {
      throw new InputError(
        'INGEST_UPLOAD_BAD_FIELD',
        `timestamp must be unix seconds, got ${input.timestamp}`,
      );
    }
    localTimeOf(input.timestamp, this.config.timezone); // range check with a clear message
    if (input.bytes.byteLength > this.config.maxUploadBytes) {
      throw new InputError(
        'INGEST_UPLOAD_TOO_LARGE',
        `the file is larger than ingest.maxUploadBytes (${this.config.maxUploadBytes} bytes)`,
      );
    }
    await this.validateUpload(input.bytes);
    const stored = uploadFileName(input.agent, input.run, input.timestamp, this.config.timezone);
    const outcome = await this.files.storeInDrop(stored, input.bytes);
    this.logger.info(
      { stored, size: input.bytes.byteLength, outcome },
      'ingest: upload stored in the drop directory',
    );
    return { stored, size: input.bytes.byteLength };
  }
}

function summary(row: RunRow, files: Record<string, number>): RunSummary {
  return {
    run: row.run,
    mode: row.mode,
    replay: row.replay,
    firstFileAt: iso(row.firstFileAt),
    lastFileAt: iso(row.lastFileAt),
    lengthMinutes: row.lengthMinutes,
    files,
  };
}
