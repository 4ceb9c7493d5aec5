import type { AlertSink } from '../../core/alerts/alerts.types.js';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { NotFoundError, coerceError, isCustodianError } from '../../core/errors.js';
import type { LockHandle, LockManager } from '../../core/lifecycle/lock.js';
import type { Logger } from '../../core/logger.js';
import type { FileHasher } from './checksum.adapter.js';
import { isAfterUtcHour, yesterdayOf } from './night.calendar.js';
import type { StreamConfig, TransferConfig } from './transfer.schema.js';
import type {
  Archiver,
  ExposureFiles,
  SourceConnector,
  SourceSession,
  SyncOutcome,
} from './transfer.ports.js';
import type { StageRecord, TransferRepository } from './transfer.repository.js';
import {
  STAGES,
  type ArchiveResult,
  type ArchiveVerifyResult,
  type CatchupExposure,
  type CatchupResult,
  type ExposureHistory,
  type ExposureOutcome,
  type ExposureRef,
  type ExposureStatus,
  type NightState,
  type NightSummary,
  type PassResult,
  type Stage,
  type StreamPassResult,
  type TransferStatusPage,
} from './transfer.types.js';
import { verifyDirectory, type VerifyResult } from './verify.service.js';
import { changedByExposure, planBatches } from './copy-batches.js';

/** Alert codes (one alert per exposure or night and code; the alerts service de-duplicates). */
export const TRANSFER_ALERTS = {
  exposure: 'TRANSFER_EXPOSURE_FAILED',
  source: 'TRANSFER_SOURCE_UNREACHABLE',
  catchup: 'TRANSFER_CATCHUP_FAILED',
  archive: 'TRANSFER_ARCHIVE_FAILED',
} as const;

/** Hands an exposure to the job queue (`transfer:exposure`), de-duplicated by key. */
export type ExposureDispatcher = (payload: { stream: string } & ExposureRef) => Promise<void>;

export interface TransferServiceDeps {
  config: TransferConfig;
  repository: TransferRepository;
  connector: SourceConnector;
  files: ExposureFiles;
  hasher: FileHasher;
  archiver: Archiver;
  alerts: AlertSink;
  logger: Logger;
  /** Per-exposure locks, so two workers never handle one exposure at once. Absent: no locking. */
  locks?: LockManager;
  /** unix ms; default Date.now */
  clock?: () => number;
}

export interface PassOptions {
  /** Only this stream. */
  stream?: string;
  dryRun?: boolean;
  /** Default: transfer each exposure in this process; with a dispatcher, queue them. */
  dispatch?: ExposureDispatcher;
  signal?: AbortSignal;
  /** Called after each exposure handled in this process. */
  onExposure?: (outcome: ExposureOutcome) => void;
}

const DIGITS8 = /^\d{8}$/;
const SET_BY_HAND = 'set by hand';

function exposureKey(stream: string, ref: ExposureRef): string {
  return `${stream}/${ref.night}/${ref.exposure}`;
}

/** One line saying why a verification failed (the full lists go to the API and --json). */
export function summarizeVerify(result: VerifyResult): string {
  if (result.ok) return `${result.verified} files verified`;
  const parts: string[] = [];
  const some = (items: readonly string[]) =>
    items.slice(0, 3).join(', ') + (items.length > 3 ? `, … (${items.length})` : '');
  if (result.malformed.length > 0)
    parts.push(
      `manifest: ${result.malformed
        .slice(0, 2)
        .map((m) => (m.line === 0 ? m.text : `line ${m.line}: ${m.text}`))
        .join('; ')}`,
    );
  if (result.missing.length > 0) parts.push(`missing: ${some(result.missing)}`);
  if (result.mismatched.length > 0) parts.push(`checksum mismatch: ${some(result.mismatched)}`);
  if (result.unlisted.length > 0) parts.push(`not in manifest: ${some(result.unlisted)}`);
  return parts.join('; ');
}

/** An exposure of a batch: either left out (busy, published since discovery) or copied, holding its lock. */
type StagedItem =
  | { ref: ExposureRef; outcome: ExposureOutcome; sync?: undefined; lock?: undefined }
  | { ref: ExposureRef; sync: SyncOutcome; lock: LockHandle | undefined };
type StagedBatch = StagedItem[];

/** An exposure verified and moved (or not) by settleExposure, its publish not yet recorded. */
interface SettledExposure {
  ref: ExposureRef;
  staging: string;
  published: string;
  verify: VerifyResult | undefined;
  failures: { stage: Stage; message: string }[];
  /** Whether it was moved into the destination (its publish record waits for the flush). */
  moved: boolean;
  /** A record of a stage of this exposure, stamped now (a failure also joins `failures`). */
  attempt(stage: Stage, ok: boolean, message: string): StageRecord;
}

function nightState(exposures: readonly ExposureStatus[]): NightState {
  const failed = exposures.some((e) => STAGES.some((s) => e[s]?.ok === false));
  if (failed) return 'red';
  const done = exposures.every((e) => e.rsync?.ok && e.checksum?.ok && e.publish?.ok);
  return done ? 'green' : 'yellow';
}

/**
 * The rules of the transfer module (issue 3): discover exposures at each stream's source, copy
 * each into staging, make it read-only, verify its manifest, publish it, record every stage;
 * once per night catch up late files and archive the night. Failures are recorded and alerted,
 * and the data still moves on, so nothing waits on a human.
 */
export class TransferService {
  private readonly clock: () => number;
  private readonly logger: Logger;
  /** Sessions reused across jobs of a worker (one ssh connection per stream), closed by close(). */
  private readonly sessions = new Map<string, SourceSession>();

  constructor(private readonly deps: TransferServiceDeps) {
    this.clock = deps.clock ?? Date.now;
    this.logger = deps.logger;
  }

  get config(): TransferConfig {
    return this.deps.config;
  }

  streamNames(): string[] {
    return this.deps.config.streams.map((s) => s.name);
  }

  getStream(name: string): StreamConfig {
    const stream = this.deps.config.streams.find((s) => s.name === name);
    if (!stream) {
      throw new NotFoundError(
        'TRANSFER_UNKNOWN_STREAM',
        `no stream "${name}" in the transfer configuration (streams: ${this.streamNames().join(', ')})`,
      );
    }
    return stream;
  }

  private openSession(stream: StreamConfig): SourceSession {
    return this.deps.connector.open({
      name: stream.name,
      source: stream.source,
      sshIdentity: stream.sshIdentity,
      sshOptions: stream.sshOptions,
    });
  }

  private sharedSession(stream: StreamConfig): SourceSession {
    let session = this.sessions.get(stream.name);
    if (!session) {
      session = this.openSession(stream);
      this.sessions.set(stream.name, session);
    }
    return session;
  }

  async close(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.allSettled([...sessions.map((s) => s.close()), this.deps.connector.close?.()]);
  }

  private paths(stream: StreamConfig, ref: ExposureRef) {
    return {
      staging: path.join(stream.staging, ref.night, ref.exposure),
      published: path.join(stream.destination, ref.night, ref.exposure),
      manifest: stream.checksumFile.replaceAll('{exposure}', ref.exposure).replaceAll('{night}', ref.night),
    };
  }

  // ---- the pass ------------------------------------------------------------------------------

  /** One pass over every stream (or one): discover, transfer or queue, then catch-up and archive when due. */
  async runPass(options: PassOptions = {}): Promise<PassResult> {
    const streams =
      options.stream === undefined ? this.deps.config.streams : [this.getStream(options.stream)];
    const results: StreamPassResult[] = [];
    for (const stream of streams) {
      if (options.signal?.aborted) break;
      results.push(await this.passStream(stream, options));
    }
    return { dryRun: options.dryRun === true, streams: results };
  }

  private async passStream(stream: StreamConfig, options: PassOptions): Promise<StreamPassResult> {
    const dryRun = options.dryRun === true;
    const result: StreamPassResult = {
      stream: stream.name,
      dryRun,
      paused: false,
      skipped: [],
      published: 0,
      queued: 0,
      exposures: [],
    };
    const session = this.openSession(stream);
    const pendingNights = new Set<string>();
    try {
      try {
        if (stream.pauseFile !== undefined && (await session.exists(stream.pauseFile, options.signal))) {
          this.logger.info(
            { stream: stream.name, pauseFile: stream.pauseFile },
            `pause file ${stream.pauseFile} exists at the source: skipping ${stream.name} this pass`,
          );
          result.paused = true;
          return result;
        }
        const discovery = await session.discover({ signal: options.signal });
        result.skipped = discovery.skipped;
        for (const skipped of discovery.skipped) {
          this.logger.warn(
            { stream: stream.name, ...skipped },
            `skipping ${skipped.path} at the source: ${skipped.reason}`,
          );
        }
        if (!dryRun) await this.deps.alerts.resolve?.(TRANSFER_ALERTS.source, stream.name);
        const nights = [...new Set(discovery.exposures.map((e) => e.night))];
        // Nights with an exposure not (yet) published by this pass: queued for a worker, busy
        // elsewhere, or failed to move. Their catch-up and archive wait for a later pass.
        const pending = pendingNights;
        const recorded = await this.deps.repository.publishRecorded(stream.name, nights);
        const handled = (outcome: ExposureOutcome) => {
          result.exposures.push(outcome);
          if (outcome.action !== 'transferred' || outcome.failed.includes('publish'))
            pending.add(outcome.night);
          options.onExposure?.(outcome);
        };
        // Exposures of one night that this process copies itself, gathered for copyNight
        // (discovery is sorted by night, so a night's exposures arrive together).
        let toCopy: ExposureRef[] = [];
        const copyGathered = async () => {
          const refs = toCopy;
          toCopy = [];
          if (refs.length > 0) await this.copyNight(stream, refs, session, handled, options.signal);
        };
        for (const ref of discovery.exposures) {
          if (options.signal?.aborted) break;
          if (toCopy[0] !== undefined && toCopy[0].night !== ref.night) await copyGathered();
          const { published } = this.paths(stream, ref);
          if ((await this.deps.files.kind(published)) !== 'missing') {
            result.published++;
            if (!dryRun && !recorded.has(`${ref.night}/${ref.exposure}`))
              await this.reconcilePublished(stream, ref);
            continue;
          }
          if (options.dispatch && !dryRun) {
            await options.dispatch({ stream: stream.name, ...ref });
            result.queued++;
            pending.add(ref.night);
            continue;
          }
          if (dryRun)
            handled(await this.transferWith(stream, ref, session, { dryRun, signal: options.signal }));
          else toCopy.push(ref);
        }
        if (!options.signal?.aborted) await copyGathered();
      } catch (thrown) {
        const error = coerceError(thrown);
        if (!isCustodianError(error) || error.kind !== 'UnavailableError') throw error;
        result.error = error.message;
        this.logger.error({ stream: stream.name, err: error }, `stream ${stream.name}: ${error.message}`);
        if (!dryRun) {
          await this.deps.alerts.raise({
            code: TRANSFER_ALERTS.source,
            severity: 'critical',
            key: stream.name,
            message: `transfer stream ${stream.name}: the source ${session.display} cannot be listed (${error.message}); the next pass retries`,
          });
        }
        return result;
      }
      if (options.signal?.aborted) return result;
      await this.nightlyWork(stream, session, result, pendingNights, dryRun, options.signal);
      return result;
    } finally {
      await session.close();
    }
  }

  /** Catch-up and archive of yesterday's night, each once, after their UTC hours. */
  private async nightlyWork(
    stream: StreamConfig,
    session: SourceSession,
    result: StreamPassResult,
    pendingNights: ReadonlySet<string>,
    dryRun: boolean,
    signal?: AbortSignal,
  ): Promise<void> {
    const now = this.clock();
    const night = yesterdayOf(now, this.deps.config.timezone);
    // Dry runs report the whole picture; real work waits until every exposure is published.
    if (!dryRun && pendingNights.has(night)) {
      this.logger.debug({ stream: stream.name, night }, `night ${night} still has exposures in flight`);
      return;
    }
    const row = await this.deps.repository.findNight(stream.name, night);
    if (isAfterUtcHour(now, this.deps.config.catchupHour) && !row?.catchupAt) {
      result.catchup = await this.catchupWith(stream, night, session, { dryRun, signal });
    }
    if (signal?.aborted) return;
    if (isAfterUtcHour(now, this.deps.config.archiveHour) && row?.archiveOk !== true) {
      result.archive = await this.archiveWith(stream, night, session, { dryRun, signal });
    }
  }

  // ---- one exposure --------------------------------------------------------------------------

  /** The `transfer:exposure` job: one exposure, over the worker's shared session for the stream. */
  async transferExposure(
    streamName: string,
    ref: ExposureRef,
    options: { dryRun?: boolean; signal?: AbortSignal } = {},
  ): Promise<ExposureOutcome> {
    const stream = this.getStream(streamName);
    return this.transferWith(stream, ref, this.sharedSession(stream), options);
  }

  private async transferWith(
    stream: StreamConfig,
    ref: ExposureRef,
    session: SourceSession,
    options: { dryRun?: boolean; signal?: AbortSignal },
  ): Promise<ExposureOutcome> {
    const base = { stream: stream.name, ...ref, failed: [] as Stage[] };
    const { staging, published, manifest } = this.paths(stream, ref);
    if (options.dryRun) {
      if ((await this.deps.files.kind(published)) !== 'missing')
        return { ...base, action: 'published-before' };
      return {
        ...base,
        action: 'would-transfer',
        message: `would copy ${session.display}/${ref.night}/${ref.exposure} to ${staging}, verify ${manifest} and publish to ${published}`,
      };
    }
    const claim = await this.claim(stream, ref);
    if (!claim.held) return claim.outcome;
    try {
      return await this.runPipeline(stream, ref, session, options.signal);
    } finally {
      await claim.lock?.release();
    }
  }

  /** The exposure's lock, or undefined when another holder has it; null when no locks are configured. */
  private async lockExposure(stream: StreamConfig, ref: ExposureRef): Promise<LockHandle | null | undefined> {
    if (!this.deps.locks) return null;
    return this.deps.locks.tryAcquire(`transfer:exposure:${exposureKey(stream.name, ref)}`);
  }

  /**
   * Takes an exposure for copying, for a job and for copyNight alike: its lock, then a check
   * under the lock that it is still unpublished (another worker may have published it a moment
   * ago). Either the lock to hold until the outcome is recorded, or the outcome of leaving it.
   */
  private async claim(
    stream: StreamConfig,
    ref: ExposureRef,
  ): Promise<{ held: true; lock: LockHandle | undefined } | { held: false; outcome: ExposureOutcome }> {
    const base = { stream: stream.name, ...ref, failed: [] as Stage[] };
    const lock = await this.lockExposure(stream, ref);
    if (lock === undefined) return { held: false, outcome: { ...base, action: 'busy' } };
    try {
      if ((await this.deps.files.kind(this.paths(stream, ref).published)) !== 'missing') {
        await lock?.release();
        return { held: false, outcome: { ...base, action: 'published-before' } };
      }
    } catch (thrown) {
      await lock?.release();
      throw thrown;
    }
    return { held: true, lock: lock ?? undefined };
  }

  private async runPipeline(
    stream: StreamConfig,
    ref: ExposureRef,
    session: SourceSession,
    signal?: AbortSignal,
  ): Promise<ExposureOutcome> {
    await this.prepareStaging(stream, ref, session);
    const sync = await session.syncExposure(ref.night, ref.exposure, this.paths(stream, ref).staging, {
      signal,
    });
    const [outcome] = await this.finishExposures(stream, session, [{ ref, sync }]);
    return outcome as ExposureOutcome;
  }

  /** A staged copy left by an interrupted attempt is resumed: rsync only fetches what is missing. */
  private async prepareStaging(
    stream: StreamConfig,
    ref: ExposureRef,
    session: SourceSession,
  ): Promise<void> {
    const { staging } = this.paths(stream, ref);
    const resumed = (await this.deps.files.kind(staging)) === 'directory';
    this.logger.info(
      { stream: stream.name, ...ref, resumed },
      `exposure ${exposureKey(stream.name, ref)}: copying from ${session.display}${resumed ? ' (resuming a staged copy)' : ''}`,
    );
    if (resumed) await this.deps.files.makeWritable(staging);
  }

  /**
   * The stages after the copy, the same for a job and for copyNight, for the exposures copied by
   * one rsync: for each, record the copy, make the staged exposure read-only, verify it and move
   * it into the destination; then make those moves durable with one fsync per directory (not two
   * per exposure: with rsync writing meanwhile, each fsync waits for a journal commit), and only
   * then record each publish and alert on failures. A crash between a move and its record is
   * found by the next pass (reconcilePublished). Outcomes come in the order of `copied`.
   */
  private async finishExposures(
    stream: StreamConfig,
    session: SourceSession,
    copied: readonly { ref: ExposureRef; sync: SyncOutcome }[],
  ): Promise<ExposureOutcome[]> {
    const settled: SettledExposure[] = [];
    for (const { ref, sync } of copied) {
      // A batch's exposures are finished in one stretch of mostly synchronous work (hashing,
      // chmod, SQLite): let the event loop notice the next rsync's end between two of them.
      if (settled.length > 0) await yieldToEventLoop();
      settled.push(await this.settleExposure(stream, ref, session, sync));
    }
    const moved = settled.filter((s) => s.moved);
    const parents = (which: 'published' | 'staging') => [
      ...new Set(moved.map((s) => path.dirname(s[which]))),
    ];
    let unflushed: string | undefined;
    try {
      if (moved.length > 0) await this.deps.files.flush(parents('published'));
    } catch (thrown) {
      unflushed = `the move to the destination may not survive a crash: ${coerceError(thrown).message}`;
    }
    // The staging side only loses names: after a crash the next pass finds the exposure published.
    if (moved.length > 0) await this.deps.files.flush(parents('staging')).catch(() => undefined);
    await this.deps.repository.recordStages(
      moved.map((exposure) =>
        exposure.attempt(
          'publish',
          unflushed === undefined,
          unflushed ?? `published to ${exposure.published}`,
        ),
      ),
    );
    const outcomes: ExposureOutcome[] = [];
    for (const exposure of settled) outcomes.push(await this.concludeExposure(stream, exposure));
    return outcomes;
  }

  /** One exposure up to its move into the destination; the publish record waits for the flush. */
  private async settleExposure(
    stream: StreamConfig,
    ref: ExposureRef,
    session: SourceSession,
    sync: SyncOutcome,
  ): Promise<SettledExposure> {
    const { files } = this.deps;
    const { staging, published, manifest } = this.paths(stream, ref);
    const failures: { stage: Stage; message: string }[] = [];
    const attempt = (stage: Stage, ok: boolean, message: string): StageRecord => {
      if (!ok) failures.push({ stage, message });
      return { stream: stream.name, ...ref, stage, ok, at: this.clock(), message };
    };
    // The copy's records are written together (one transaction, not one per stage), and before
    // the move, so that a published exposure always has them: reconcilePublished, which finds a
    // published exposure after a crash, records only its publish.
    const copyRecords = [
      attempt(
        'rsync',
        sync.ok,
        sync.ok ? `${sync.changed.length} files copied from ${session.display}` : sync.message,
      ),
    ];
    let verify: VerifyResult | undefined;
    try {
      await files.ensureDirectory(staging);
      await files.makeReadOnly(staging);
      try {
        verify = await verifyDirectory(
          { dir: staging, manifest: path.join(staging, manifest) },
          { files: this.deps.hasher },
        );
        copyRecords.push(attempt('checksum', verify.ok, summarizeVerify(verify)));
      } catch (thrown) {
        copyRecords.push(attempt('checksum', false, coerceError(thrown).message));
      }
    } finally {
      await this.deps.repository.recordStages(copyRecords);
    }

    let moved = false;
    try {
      await files.publish(staging, published);
      moved = true;
    } catch (thrown) {
      await this.deps.repository.recordStage(
        attempt('publish', false, `${coerceError(thrown).message}; the staged copy stays in ${staging}`),
      );
    }
    return { ref, staging, published, verify, failures, moved, attempt };
  }

  /** Logs and alerts on an exposure's outcome, once its publish is recorded. */
  private async concludeExposure(stream: StreamConfig, exposure: SettledExposure): Promise<ExposureOutcome> {
    const { ref, failures, verify } = exposure;
    const key = exposureKey(stream.name, ref);
    if (failures.length > 0) {
      const what = failures.map((f) => `${f.stage}: ${f.message}`).join('; ');
      this.logger.error({ stream: stream.name, ...ref, failures }, `exposure ${key} failed: ${what}`);
      await this.deps.alerts.raise({
        code: TRANSFER_ALERTS.exposure,
        severity: 'critical',
        key,
        message: `exposure ${key}: ${what}. The data was published anyway; the failure stays on the status page until a later verification passes`,
        details: { stream: stream.name, ...ref, failures },
      });
    } else {
      this.logger.info(
        { stream: stream.name, ...ref },
        `exposure ${key} transferred, verified and published`,
      );
    }
    return {
      stream: stream.name,
      ...ref,
      action: 'transferred',
      failed: failures.map((f) => f.stage),
      verify,
      ...(failures.length > 0 ? { message: failures.map((f) => `${f.stage}: ${f.message}`).join('; ') } : {}),
    };
  }

  /**
   * The exposures of one night that this process copies itself (`transfer once`; `watch`
   * queues them as jobs), as a pipeline: rsync copies batch k+1 while this process makes batch k
   * read-only, verifies and publishes it, and once batch k is done, batch k+2 is claimed while k+1
   * is still copying, so the next rsync starts as soon as the previous one ends. One rsync per
   * batch rather than per exposure saves the start-up every rsync pays (remote login shell,
   * file-list exchange), which costs as much as copying a whole exposure; copy-batches.ts says how
   * a night is cut. Each exposure goes through the same stages as a `transfer:exposure` job, under
   * the same lock, held from before its copy until its outcome is recorded; at most two batches
   * hold locks at once. `handled` gets the outcomes in order.
   */
  private async copyNight(
    stream: StreamConfig,
    refs: readonly ExposureRef[],
    session: SourceSession,
    handled: (outcome: ExposureOutcome) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const batches = planBatches(refs);
    // Every batch claimed so far: an error or an abort releases the locks they still hold (the
    // staged copies are resumed by a later attempt).
    const claimed: StagedBatch[] = [];
    const background = <T>(promise: Promise<T>): Promise<T> => {
      // Awaited later (or in the finally below); this only keeps an early rejection from
      // counting as unhandled meanwhile.
      promise.catch(() => undefined);
      return promise;
    };
    const claim = (index: number): Promise<StagedBatch> | undefined => {
      const batch = batches[index];
      if (batch === undefined || signal?.aborted) return undefined;
      return background(
        this.claimBatch(stream, batch, session).then((items) => {
          claimed.push(items);
          return items;
        }),
      );
    };
    const copy = (items: Promise<StagedBatch | undefined> | undefined) =>
      items &&
      background(
        items.then((batch) =>
          batch === undefined || signal?.aborted ? undefined : this.copyBatch(stream, batch, session, signal),
        ),
      );
    const first = claim(0);
    let copying = copy(first);
    // The second batch is claimed right after the first, while the first one's rsync starts.
    let claiming = first && background(first.then(() => claim(1)));
    try {
      for (let index = 0; copying !== undefined; index++) {
        const current = await copying;
        // Stopped: what this batch copied stays in staging, where the next pass resumes it.
        if (current === undefined || signal?.aborted) break;
        copying = copy(claiming);
        const copied = current.flatMap((item) =>
          item.sync === undefined ? [] : [{ ...item, sync: item.sync }],
        );
        const outcomes = await this.finishExposures(stream, session, copied);
        for (const item of current) {
          if (item.sync === undefined) {
            handled(item.outcome);
            continue;
          }
          await item.lock?.release();
          item.lock = undefined;
          handled(outcomes.shift() as ExposureOutcome);
        }
        claiming = claim(index + 2);
      }
    } finally {
      await Promise.allSettled([copying, claiming]);
      for (const batch of claimed) {
        for (const item of batch) {
          await item.lock?.release();
          item.lock = undefined;
        }
      }
    }
  }

  /**
   * Takes the locks of a batch's exposures and prepares their staging; those busy elsewhere or
   * published since discovery are left out, with their outcome.
   */
  private async claimBatch(
    stream: StreamConfig,
    refs: readonly ExposureRef[],
    session: SourceSession,
  ): Promise<StagedBatch> {
    const items: StagedBatch = [];
    try {
      for (const ref of refs) {
        const claim = await this.claim(stream, ref);
        if (!claim.held) {
          items.push({ ref, outcome: claim.outcome });
          continue;
        }
        // Listed before anything else can throw, so the catch below releases its lock.
        items.push({ ref, lock: claim.lock, sync: { ok: false, message: 'not copied yet' } });
        await this.prepareStaging(stream, ref, session);
      }
      return items;
    } catch (thrown) {
      for (const item of items) await item.lock?.release();
      throw thrown;
    }
  }

  /**
   * Copies a claimed batch's exposures in one rsync. When that rsync fails the exposures are
   * copied again one at a time, so each records its own outcome and message.
   */
  private async copyBatch(
    stream: StreamConfig,
    items: StagedBatch,
    session: SourceSession,
    signal?: AbortSignal,
  ): Promise<StagedBatch> {
    const copying = items.filter((item) => item.sync !== undefined);
    const night = items[0]?.ref.night;
    if (copying.length === 0 || night === undefined) return items;
    const together =
      copying.length > 1
        ? await session.syncExposures(
            night,
            copying.map((item) => item.ref.exposure),
            path.join(stream.staging, night),
            { signal },
          )
        : undefined;
    if (together?.ok) {
      const changed = changedByExposure(together.changed);
      for (const item of copying) item.sync = { ok: true, changed: changed.get(item.ref.exposure) ?? [] };
      return items;
    }
    if (together) {
      this.logger.warn(
        { stream: stream.name, night, exposures: copying.length },
        `${together.message}; copying these exposures one at a time`,
      );
    }
    // What the failed batch copied counts as copied by this attempt.
    const copiedBefore = changedByExposure(together?.changed ?? []);
    for (const item of copying) {
      const { staging } = this.paths(stream, item.ref);
      const alone = await session.syncExposure(night, item.ref.exposure, staging, { signal });
      const before = copiedBefore.get(item.ref.exposure) ?? [];
      item.sync = alone.ok
        ? { ok: true, changed: [...new Set([...before, ...alone.changed])].sort() }
        : alone;
    }
    return items;
  }

  /**
   * An exposure in the destination without a publish record: the attempt that published it was
   * killed between the rename and the record. Record what is on disk now, verified again.
   */
  private async reconcilePublished(stream: StreamConfig, ref: ExposureRef): Promise<void> {
    const { published, manifest } = this.paths(stream, ref);
    const lock = await this.lockExposure(stream, ref);
    if (lock === undefined) return;
    try {
      // Checked again under the lock: the worker that published it may have recorded it since
      // this pass read the records.
      const recorded = await this.deps.repository.publishRecorded(stream.name, [ref.night]);
      if (recorded.has(`${ref.night}/${ref.exposure}`)) return;
      this.logger.warn(
        { stream: stream.name, ...ref },
        `exposure ${exposureKey(stream.name, ref)} is published but its publish was not recorded (an interrupted attempt): verifying it again`,
      );
      await this.recheck(stream, ref, published, manifest);
      await this.deps.repository.recordStage({
        stream: stream.name,
        ...ref,
        stage: 'publish',
        ok: true,
        at: this.clock(),
        message: `found in ${published} (the attempt that published it was interrupted)`,
      });
    } finally {
      await lock?.release();
    }
  }

  /** Re-verifies a published exposure and records the checksum stage (API, web). */
  async verifyExposure(streamName: string, ref: ExposureRef): Promise<VerifyResult> {
    const stream = this.getStream(streamName);
    const { published, manifest } = this.paths(stream, ref);
    if ((await this.deps.files.kind(published)) !== 'directory') {
      throw new NotFoundError(
        'TRANSFER_EXPOSURE_NOT_PUBLISHED',
        `exposure ${exposureKey(stream.name, ref)} is not published (no directory ${published})`,
      );
    }
    return this.recheck(stream, ref, published, manifest);
  }

  private async recheck(
    stream: StreamConfig,
    ref: ExposureRef,
    dir: string,
    manifest: string,
  ): Promise<VerifyResult> {
    const verify = await verifyDirectory(
      { dir, manifest: path.join(dir, manifest) },
      { files: this.deps.hasher },
    );
    await this.deps.repository.recordStage({
      stream: stream.name,
      ...ref,
      stage: 'checksum',
      ok: verify.ok,
      at: this.clock(),
      message: summarizeVerify(verify),
    });
    const key = exposureKey(stream.name, ref);
    if (verify.ok) await this.deps.alerts.resolve?.(TRANSFER_ALERTS.exposure, key);
    else
      await this.deps.alerts.raise({
        code: TRANSFER_ALERTS.exposure,
        severity: 'critical',
        key,
        message: `exposure ${key}: checksum: ${summarizeVerify(verify)}`,
      });
    return verify;
  }

  // ---- catch-up ------------------------------------------------------------------------------

  async catchup(
    streamName: string,
    night: string,
    options: { dryRun?: boolean } = {},
  ): Promise<CatchupResult> {
    const stream = this.getStream(streamName);
    const session = this.openSession(stream);
    try {
      return await this.catchupWith(stream, night, session, options);
    } finally {
      await session.close();
    }
  }

  private async catchupWith(
    stream: StreamConfig,
    night: string,
    session: SourceSession,
    options: { dryRun?: boolean; signal?: AbortSignal },
  ): Promise<CatchupResult> {
    const dryRun = options.dryRun === true;
    const result: CatchupResult = {
      stream: stream.name,
      night,
      dryRun,
      action: 'nothing-changed',
      exposures: [],
    };
    const nightDir = path.join(stream.destination, night);
    const published = new Set(
      (await this.deps.files.listDirectories(nightDir)).filter((name) => DIGITS8.test(name)),
    );
    // Not marked as done: exposures of the night may still arrive and be published.
    if (published.size === 0) return { ...result, message: `nothing published for night ${night}` };
    const diff = await session.diffNight(night, nightDir, options.signal);
    const nightKey = `${stream.name}/${night}`;
    if (!diff.ok) {
      if (!dryRun) {
        await this.deps.alerts.raise({
          code: TRANSFER_ALERTS.catchup,
          severity: 'critical',
          key: nightKey,
          message: `catch-up of ${nightKey} failed: ${diff.message}; the next pass retries`,
        });
      }
      return { ...result, action: 'failed', message: diff.message };
    }
    // Late files of published exposures only: an exposure not yet published belongs to the
    // regular pass, which copies, verifies and publishes it.
    const changed = new Map<string, string[]>();
    for (const entry of diff.changed) {
      const [exposure, ...rest] = entry.split('/');
      if (exposure === undefined || rest.length === 0 || !published.has(exposure)) continue;
      const list = changed.get(exposure) ?? [];
      list.push(rest.join('/'));
      changed.set(exposure, list);
    }
    if (changed.size === 0) {
      if (!dryRun) {
        await this.deps.repository.markCatchup(stream.name, night, this.clock());
        await this.deps.alerts.resolve?.(TRANSFER_ALERTS.catchup, nightKey);
      }
      return result;
    }
    const exposures: CatchupExposure[] = [...changed.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([exposure, files]) => ({ night, exposure, changed: files.sort() }));
    if (dryRun) return { ...result, action: 'would-sync', exposures };

    let failed: string | undefined;
    for (const item of exposures) {
      const ref = { night, exposure: item.exposure };
      const { published: dir, manifest } = this.paths(stream, ref);
      await this.deps.files.makeWritable(dir);
      let sync;
      try {
        sync = await session.syncExposure(night, item.exposure, dir, { signal: options.signal });
      } finally {
        // Locked again even when the sync is interrupted: a published exposure never stays writable.
        await this.deps.files.makeReadOnly(dir);
      }
      await this.deps.repository.recordStage({
        stream: stream.name,
        ...ref,
        stage: 'rsync',
        ok: sync.ok,
        at: this.clock(),
        message: sync.ok ? `catch-up: ${sync.changed.length} late files copied` : `catch-up: ${sync.message}`,
      });
      if (!sync.ok) failed = sync.message;
      item.verify = await this.recheck(stream, ref, dir, manifest);
    }
    if (failed !== undefined) {
      await this.deps.alerts.raise({
        code: TRANSFER_ALERTS.catchup,
        severity: 'critical',
        key: nightKey,
        message: `catch-up of ${nightKey} failed: ${failed}; the next pass retries`,
      });
      return { ...result, action: 'failed', exposures, message: failed };
    }
    await this.deps.repository.markCatchup(stream.name, night, this.clock());
    await this.deps.alerts.resolve?.(TRANSFER_ALERTS.catchup, nightKey);
    return { ...result, action: 'synced', exposures };
  }

  // ---- archive -------------------------------------------------------------------------------

  async archive(
    streamName: string,
    night: string,
    options: { dryRun?: boolean } = {},
  ): Promise<ArchiveResult> {
    const stream = this.getStream(streamName);
    const session = this.openSession(stream);
    try {
      return await this.archiveWith(stream, night, session, options);
    } finally {
      await session.close();
    }
  }

  private archivePaths(stream: StreamConfig, night: string) {
    const tar = path.join(stream.archive, `${stream.name}_${night}.tar`);
    return { tar, index: `${tar}.idx` };
  }

  private async archiveWith(
    stream: StreamConfig,
    night: string,
    session: SourceSession,
    options: { dryRun?: boolean; signal?: AbortSignal },
  ): Promise<ArchiveResult> {
    const dryRun = options.dryRun === true;
    const { tar, index } = this.archivePaths(stream, night);
    const nightDir = path.join(stream.destination, night);
    const exposures = (await this.deps.files.listDirectories(nightDir)).filter((name) => DIGITS8.test(name));
    const result: ArchiveResult = {
      stream: stream.name,
      night,
      dryRun,
      action: 'nothing-to-archive',
      tar,
      index,
      members: 0,
      bytes: 0,
      exposures,
    };
    // Not marked as done: a night whose exposures arrive late is archived once they are published.
    if (exposures.length === 0) return { ...result, message: `nothing published for night ${night}` };

    if ((await this.deps.files.kind(tar)) === 'file') {
      const existing = await this.deps.archiver.verify(tar, {
        indexPath: index,
        against: stream.destination,
      });
      if (existing.ok) {
        if (!dryRun)
          await this.recordBackup(stream, night, exposures, true, `archived in ${tar} (verified again)`);
        return { ...result, action: 'already-archived', members: existing.members, bytes: existing.bytes };
      }
      this.logger.warn(
        { tar, problems: existing.problems.slice(0, 5) },
        `the archive ${tar} is present but not valid: it will be written again`,
      );
    }
    if (dryRun) {
      const catchup = await this.catchupWith(stream, night, session, {
        dryRun: true,
        signal: options.signal,
      });
      return {
        ...result,
        action: 'would-archive',
        catchup,
        message: `would lock ${nightDir}, write ${tar} and ${index}, verify them, and record backup for ${exposures.length} exposure${exposures.length === 1 ? '' : 's'}`,
      };
    }

    const catchup = await this.catchupWith(stream, night, session, { signal: options.signal });
    // The catch-up may have published nothing new, but list again: it is what goes in the tar.
    const final = (await this.deps.files.listDirectories(nightDir)).filter((name) => DIGITS8.test(name));
    const nightKey = `${stream.name}/${night}`;
    try {
      await this.deps.files.lockDirectories(nightDir);
      const written = await this.deps.archiver.write({
        root: stream.destination,
        dir: night,
        tarPath: tar,
        indexPath: index,
        signal: options.signal,
      });
      await this.recordBackup(stream, night, final, true, `archived in ${tar}`);
      await this.deps.alerts.resolve?.(TRANSFER_ALERTS.archive, nightKey);
      return {
        ...result,
        action: 'archived',
        exposures: final,
        members: written.members.length,
        bytes: written.bytes,
        catchup,
      };
    } catch (thrown) {
      // A stop request is not an archive failure: the next pass writes the archive again.
      if (options.signal?.aborted) throw thrown;
      const error = coerceError(thrown);
      await this.recordBackup(stream, night, final, false, error.message);
      await this.deps.alerts.raise({
        code: TRANSFER_ALERTS.archive,
        severity: 'critical',
        key: nightKey,
        message: `archive of ${nightKey} failed: ${error.message}; the next pass retries`,
      });
      return { ...result, action: 'failed', exposures: final, catchup, message: error.message };
    }
  }

  private async recordBackup(
    stream: StreamConfig,
    night: string,
    exposures: readonly string[],
    ok: boolean,
    message: string,
  ): Promise<void> {
    const at = this.clock();
    await this.deps.repository.recordStages(
      exposures.map((exposure) => ({
        stream: stream.name,
        night,
        exposure,
        stage: 'backup',
        ok,
        at,
        message,
      })),
    );
    await this.deps.repository.markArchive(stream.name, night, at, ok, message);
  }

  async verifyArchive(tarPath: string, options: { indexPath?: string } = {}): Promise<ArchiveVerifyResult> {
    return this.deps.archiver.verify(tarPath, options);
  }

  // ---- status --------------------------------------------------------------------------------

  async status(filter: { stream?: string; night?: string; nights?: number } = {}): Promise<ExposureStatus[]> {
    if (filter.stream !== undefined) this.getStream(filter.stream);
    return this.deps.repository.listStatus(filter);
  }

  async statusPage(filter: {
    stream?: string;
    night?: string;
    nights?: number;
  }): Promise<TransferStatusPage> {
    const exposures = await this.status(filter);
    const groups = new Map<string, ExposureStatus[]>();
    for (const e of exposures) {
      const key = `${e.night}\u0000${e.stream}`;
      const list = groups.get(key) ?? [];
      list.push(e);
      groups.set(key, list);
    }
    const nightRows = await this.deps.repository.listNights({
      stream: filter.stream,
      nights: [...new Set(exposures.map((e) => e.night))],
    });
    const rowOf = (stream: string, night: string) =>
      nightRows.find((r) => r.stream === stream && r.night === night);
    const nights: NightSummary[] = [...groups.values()].map((list) => {
      const first = list[0] as ExposureStatus;
      const row = rowOf(first.stream, first.night);
      return {
        stream: first.stream,
        night: first.night,
        state: nightState(list),
        exposures: list,
        failed: list.filter((e) => STAGES.some((s) => e[s]?.ok === false)).length,
        archived: list.every((e) => e.backup?.ok === true),
        catchupAt: row?.catchupAt ? new Date(row.catchupAt).toISOString() : null,
        archiveAt: row?.archiveAt ? new Date(row.archiveAt).toISOString() : null,
      };
    });
    nights.sort((a, b) =>
      a.night === b.night ? (a.stream < b.stream ? -1 : 1) : a.night < b.night ? 1 : -1,
    );
    return { streams: this.streamNames(), nights };
  }

  async history(streamName: string, ref: ExposureRef): Promise<ExposureHistory> {
    const all = await this.deps.repository.listStatus({ stream: streamName, night: ref.night });
    const found = all.find((e) => e.exposure === ref.exposure);
    if (!found) {
      throw new NotFoundError(
        'TRANSFER_EXPOSURE_NOT_FOUND',
        `nothing recorded for exposure ${exposureKey(streamName, ref)}`,
      );
    }
    return { ...found, history: await this.deps.repository.history(streamName, ref) };
  }

  /**
   * `transfer set-status`: records a stage by hand (an operator fixed something outside
   * Custodian). `all` means every exposure of the night known to the status or published.
   */
  async setStatus(input: {
    stream: string;
    night: string;
    /** An 8-digit exposure, or `all`. */
    exposure: string;
    stage: Stage;
    ok: boolean;
  }): Promise<ExposureStatus[]> {
    const stream = this.getStream(input.stream);
    let exposures: string[];
    if (input.exposure === 'all') {
      const known = await this.deps.repository.exposuresOfNight(stream.name, input.night);
      const published = (
        await this.deps.files.listDirectories(path.join(stream.destination, input.night))
      ).filter((name) => DIGITS8.test(name));
      exposures = [...new Set([...known, ...published])].sort();
      if (exposures.length === 0) {
        throw new NotFoundError(
          'TRANSFER_NIGHT_NOT_FOUND',
          `no exposure of ${stream.name}/${input.night} is recorded or published`,
        );
      }
    } else exposures = [input.exposure];
    const at = this.clock();
    await this.deps.repository.recordStages(
      exposures.map((exposure) => ({
        stream: stream.name,
        night: input.night,
        exposure,
        stage: input.stage,
        ok: input.ok,
        at,
        message: input.ok ? SET_BY_HAND : `${SET_BY_HAND}: failure`,
      })),
    );
    const status = await this.deps.repository.listStatus({ stream: stream.name, night: input.night });
    return status.filter((s) => exposures.includes(s.exposure));
  }
}
