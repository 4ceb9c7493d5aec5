import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { parse as parseYaml } from 'yaml';
import { ConflictError, InputError, IntegrityError, coerceError } from '../../core/errors.js';
import type {
  DataEntry,
  DropEntry,
  EntryType,
  IngestFileSystem,
  Journal,
  MoveOutcome,
  MoveRequest,
} from './ingest.ports.js';

/**
 * The filesystem edge of ingest. Rules it keeps, whatever happens:
 *
 * - A target is never replaced. Within a filesystem a file moves by `link(source, target)` then
 *   `unlink(source)`: `link` fails with EEXIST instead of overwriting (plain `rename` would
 *   replace silently), and costs about what a rename costs. A crash between the two leaves one
 *   inode under two names; the next pass sees the same inode and only unlinks the source.
 * - Across filesystems (EXDEV) the file is copied to a temp name in the target directory,
 *   fsync'ed, compared byte for byte with the source, linked into place (no replace), the
 *   directory fsync'ed, and only then is the source unlinked.
 * - A target that exists with identical content completes the move (the source is removed); with
 *   different content the newcomer goes to `<target>.dup-<n>` and the caller is told.
 * - Paths never leave dropDir/dataDir: relative paths with `..` are refused, and directories under
 *   dataDir that are symbolic links are refused rather than written through.
 *
 * Moves use synchronous syscalls in small batches, yielding to the event loop between batches:
 * a 10,000-file pass costs little more than the renames themselves, and a server in the same
 * process stays responsive.
 */

/** The syscalls a move uses; tests replace some (e.g. `link` failing with EXDEV). */
export interface FsOps {
  link(existingPath: string, newPath: string): void;
  rename(oldPath: string, newPath: string): void;
  copyFile(source: string, target: string): void;
  unlink(file: string): void;
}

export interface MoveAdapterOptions {
  dropDir: string;
  dataDir: string;
  ops?: Partial<FsOps>;
  /** How many files are moved between yields to the event loop. Default 256. */
  batchSize?: number;
}

const defaultOps: FsOps = {
  link: (a, b) => fs.linkSync(a, b),
  rename: (a, b) => fs.renameSync(a, b),
  copyFile: (a, b) => fs.copyFileSync(a, b, fs.constants.COPYFILE_EXCL),
  unlink: (f) => fs.unlinkSync(f),
};

const HOST = createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);
const TEMP_SUFFIX = '.custodian-tmp';
const TEMP_RE = /~([0-9a-f]{8})-(\d+)-[0-9a-f]+\.custodian-tmp$/;
const JOURNAL_PREFIX = '.ingest-journal~';
const JOURNAL_RE = /^\.ingest-journal~([0-9a-f]{8})-(\d+)-[0-9a-f]+\.json$/;
/**
 * Temp files and journals of another host (whose processes we cannot see) count as abandoned
 * after this long; so do ours whose pid now belongs to an unrelated process.
 */
const STALE_MS = 24 * 3600 * 1000;
const MAX_DUPLICATES = 10_000;
const COMPARE_CHUNK = 1 << 20;

/** Temp files and journals this process is writing right now (shared by all adapter instances). */
const activeTemps = new Set<string>();
const activeJournals = new Set<string>();

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function tempName(base: string): string {
  return `.${base}~${HOST}-${process.pid}-${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errno(error) === 'EPERM';
  }
}

/** Whether a temp/journal written by (host, pid) can no longer be in use. */
function abandoned(host: string, pid: number, name: string, active: Set<string>, mtimeMs: number): boolean {
  if (pid === process.pid && host === HOST) return !active.has(name);
  if (Date.now() - mtimeMs > STALE_MS) return true;
  return host === HOST && !pidAlive(pid);
}

function entryType(stat: fs.Stats | fs.Dirent): EntryType {
  if (stat.isFile()) return 'file';
  if (stat.isDirectory()) return 'directory';
  if (stat.isSymbolicLink()) return 'symlink';
  return 'other';
}

function fsyncPath(file: string, flags = 'r'): void {
  const fd = fs.openSync(file, flags);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function sameContent(a: string, b: string): boolean {
  const sa = fs.statSync(a);
  const sb = fs.statSync(b);
  if (sa.dev === sb.dev && sa.ino === sb.ino) return true;
  if (sa.size !== sb.size) return false;
  const fa = fs.openSync(a, 'r');
  const fb = fs.openSync(b, 'r');
  try {
    const ba = Buffer.allocUnsafe(Math.min(COMPARE_CHUNK, Math.max(1, sa.size)));
    const bb = Buffer.allocUnsafe(ba.length);
    for (let offset = 0; offset < sa.size;) {
      const na = fs.readSync(fa, ba, 0, ba.length, offset);
      const nb = fs.readSync(fb, bb, 0, bb.length, offset);
      if (na !== nb || na === 0) return false;
      if (ba.compare(bb, 0, nb, 0, na) !== 0) return false;
      offset += na;
    }
    return true;
  } finally {
    fs.closeSync(fa);
    fs.closeSync(fb);
  }
}

function sizeOf(file: string): number {
  return fs.statSync(file).size;
}

function exists(file: string): boolean {
  try {
    fs.lstatSync(file);
    return true;
  } catch (error) {
    if (errno(error) === 'ENOENT') return false;
    throw error;
  }
}

const MOVED: MoveOutcome = Object.freeze({ kind: 'moved' });
const VANISHED: MoveOutcome = Object.freeze({ kind: 'vanished' });

/** `placed`: now at the candidate; `same`: an identical file was there; `different`: try the next name. */
type Placement = 'placed' | 'same' | 'different' | 'vanished';

export class MoveAdapter implements IngestFileSystem {
  private readonly dropDir: string;
  private readonly dataDir: string;
  private readonly ops: FsOps;
  private readonly batchSize: number;
  private roots: { drop: string; data: string } | undefined;

  constructor(options: MoveAdapterOptions) {
    this.dropDir = path.resolve(options.dropDir);
    this.dataDir = path.resolve(options.dataDir);
    this.ops = { ...defaultOps, ...options.ops };
    this.batchSize = options.batchSize ?? 256;
  }

  /** Real paths of both roots, created on first use (the configured roots themselves may be links). */
  private root(): { drop: string; data: string } {
    if (!this.roots) {
      fs.mkdirSync(this.dropDir, { recursive: true });
      fs.mkdirSync(this.dataDir, { recursive: true });
      this.roots = { drop: fs.realpathSync(this.dropDir), data: fs.realpathSync(this.dataDir) };
    }
    return this.roots;
  }

  private dataPath(rel: string): string {
    return path.join(this.root().data, checkRelative(rel));
  }

  private dropPath(name: string): string {
    if (!isPlainName(name)) {
      throw new InputError('INGEST_PATH_ESCAPE', `"${name}" is not a plain file name in the drop directory`);
    }
    return `${this.root().drop}/${name}`;
  }

  /**
   * Creates the directories of `relDir` under dataDir one level at a time and refuses any that is
   * a symbolic link, so nothing is written outside dataDir. `known` caches checked directories.
   */
  private ensureDataDir(relDir: string, known: Set<string>): string {
    const parts = checkRelative(relDir).split('/');
    let current = this.root().data;
    let rel = '';
    for (const part of parts) {
      current = path.join(current, part);
      rel = rel === '' ? part : `${rel}/${part}`;
      if (known.has(rel)) continue;
      try {
        fs.mkdirSync(current);
      } catch (error) {
        if (errno(error) !== 'EEXIST') throw error;
      }
      const stat = fs.lstatSync(current);
      if (!stat.isDirectory()) {
        throw new IntegrityError(
          'INGEST_PATH_ESCAPE',
          `${current} is ${stat.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}; refusing to write through it (remove or rename it)`,
        );
      }
      known.add(rel);
    }
    return current;
  }

  listDrop(): Promise<DropEntry[]> {
    return promised(() => this.listDropSync());
  }

  private listDropSync(): DropEntry[] {
    const dir = this.root().drop;
    const names = fs.readdirSync(dir).sort();
    const entries: DropEntry[] = [];
    for (const name of names) {
      const file = `${dir}/${name}`;
      if (name.startsWith('.')) {
        if (TEMP_RE.test(name) && this.removeIfAbandonedTemp(file)) continue;
        entries.push({ name, type: 'other', size: 0, mtimeMs: 0 });
        continue;
      }
      // undefined: gone between readdir and lstat, so not ours to report
      const stat = fs.lstatSync(file, { throwIfNoEntry: false });
      if (stat) entries.push({ name, type: entryType(stat), size: stat.size, mtimeMs: stat.mtimeMs });
    }
    return entries;
  }

  listData(dir: string): Promise<DataEntry[]> {
    return promised(() => this.listDataSync(dir));
  }

  private listDataSync(dir: string): DataEntry[] {
    const full = dir === '' ? this.root().data : this.dataPath(dir);
    let dirents: fs.Dirent[];
    try {
      const stat = fs.lstatSync(full);
      if (!stat.isDirectory()) return [];
      dirents = fs.readdirSync(full, { withFileTypes: true });
    } catch (error) {
      if (errno(error) === 'ENOENT') return [];
      throw error;
    }
    const entries: DataEntry[] = [];
    for (const dirent of dirents) {
      const type = entryType(dirent);
      if (type !== 'file') {
        entries.push({ name: dirent.name, type, size: 0 });
        continue;
      }
      try {
        entries.push({ name: dirent.name, type, size: fs.lstatSync(path.join(full, dirent.name)).size });
      } catch (error) {
        if (errno(error) !== 'ENOENT') throw error;
      }
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return entries;
  }

  readRunInfo(runDir: string): Promise<string | undefined> {
    return promised(() => this.readRunInfoSync(path.join(this.dataPath(runDir), 'runInfo.yaml')));
  }

  private readRunInfoSync(file: string): string | undefined {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      if (errno(error) === 'ENOENT' || errno(error) === 'EISDIR') return undefined;
      throw error;
    }
    try {
      // failsafe: every scalar is a string, so `hltMode: 1e3` stays "1e3"
      const doc: unknown = parseYaml(text, { schema: 'failsafe' });
      const mode = doc && typeof doc === 'object' ? (doc as Record<string, unknown>).hltMode : undefined;
      return typeof mode === 'string' && mode.trim() !== '' ? mode.trim() : undefined;
    } catch {
      return undefined;
    }
  }

  ensureRunInfo(runDir: string, mode: string): Promise<string | undefined> {
    return promised(() => this.ensureRunInfoSync(runDir, mode));
  }

  private ensureRunInfoSync(runDir: string, mode: string): string | undefined {
    const dir = this.ensureDataDir(runDir, new Set());
    const file = path.join(dir, 'runInfo.yaml');
    if (exists(file)) return this.readRunInfoSync(file);
    const temp = path.join(dir, tempName('runInfo.yaml'));
    activeTemps.add(path.basename(temp));
    try {
      fs.writeFileSync(temp, `hltMode: ${mode}\n`, { flag: 'wx' });
      // Content is durable before the name exists; a name lost to a power cut is simply written again.
      fsyncPath(temp);
      return this.placeNoReplace(temp, file) ? mode : this.readRunInfoSync(file);
    } finally {
      rmQuiet(temp);
      activeTemps.delete(path.basename(temp));
    }
  }

  /** Links `temp` to `file` unless `file` exists; false when it does. The temp stays for the caller to remove. */
  private placeNoReplace(temp: string, file: string): boolean {
    try {
      this.ops.link(temp, file);
      return true;
    } catch (error) {
      const code = errno(error);
      if (code === 'EEXIST') return false;
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
        // No hard links on this filesystem: check, then rename (a tiny race with another writer).
        if (exists(file)) return false;
        this.ops.rename(temp, file);
        return true;
      }
      throw error;
    }
  }

  async moveFiles(
    requests: readonly MoveRequest[],
    onProgress?: (done: number) => void,
  ): Promise<MoveOutcome[]> {
    const outcomes: MoveOutcome[] = [];
    const known = new Set<string>();
    const dirs = new Map<string, string>();
    for (let i = 0; i < requests.length; i++) {
      const request = requests[i];
      if (request === undefined) continue;
      outcomes.push(this.moveOne(request, known, dirs));
      if ((i + 1) % this.batchSize === 0) {
        onProgress?.(i + 1);
        await yieldToEventLoop();
      }
    }
    onProgress?.(requests.length);
    return outcomes;
  }

  /** `dirs` caches checked target directories (relative → absolute) for one batch. */
  private moveOne(request: MoveRequest, known: Set<string>, dirs: Map<string, string>): MoveOutcome {
    try {
      const source = this.dropPath(request.source);
      const targetRel = request.target;
      const slash = targetRel.lastIndexOf('/');
      const base = targetRel.slice(slash + 1);
      if (slash <= 0 || !isPlainName(base)) checkRelative(targetRel); // throws with the reason
      const relDir = targetRel.slice(0, slash);
      let dir = dirs.get(relDir);
      if (dir === undefined) {
        dir = this.ensureDataDir(relDir, known);
        dirs.set(relDir, dir);
      }
      const target = `${dir}/${base}`;
      switch (this.place(source, target)) {
        case 'placed':
        case 'same':
          return MOVED;
        case 'vanished':
          return VANISHED;
        case 'different':
          break;
      }
      const originalSize = sizeOf(target);
      for (let n = 1; n <= MAX_DUPLICATES; n++) {
        const candidate = `${target}.dup-${n}`;
        const placement = this.place(source, candidate);
        if (placement === 'vanished') return VANISHED;
        if (placement === 'different') continue;
        return { kind: 'duplicate', target: `${targetRel}.dup-${n}`, originalSize };
      }
      return {
        kind: 'failed',
        message: `${MAX_DUPLICATES} different files already hold ${targetRel}.dup-<n>`,
      };
    } catch (error) {
      return { kind: 'failed', message: coerceError(error).message };
    }
  }

  /** Puts `source` at `target` without replacing anything; removes the source once it is safe. */
  private place(source: string, target: string): Placement {
    try {
      this.ops.link(source, target);
    } catch (error) {
      const code = errno(error);
      if (code === 'EEXIST') return this.settleExisting(source, target);
      if (code === 'ENOENT') {
        if (!exists(source)) return 'vanished';
        throw error;
      }
      if (code === 'EXDEV') return this.copyAcross(source, target);
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
        if (exists(target)) return this.settleExisting(source, target);
        if (!exists(source)) return 'vanished';
        this.ops.rename(source, target);
        return 'placed';
      }
      throw error;
    }
    this.unlinkSource(source);
    return 'placed';
  }

  /** The target exists: identical content completes the move, different content is reported. */
  private settleExisting(source: string, target: string): Placement {
    if (!exists(source)) return 'vanished';
    if (!sameContent(source, target)) return 'different';
    this.unlinkSource(source);
    return 'same';
  }

  private copyAcross(source: string, target: string): Placement {
    if (exists(target)) return this.settleExisting(source, target);
    // copyFile follows links: refuse a source swapped for a link since it was listed.
    const stat = fs.lstatSync(source, { throwIfNoEntry: false });
    if (!stat) return 'vanished';
    if (!stat.isFile()) {
      throw new IntegrityError(
        'INGEST_NOT_A_FILE',
        `${source} is no longer a regular file; it was left in place`,
      );
    }
    const dir = path.dirname(target);
    const temp = path.join(dir, tempName(path.basename(target)));
    activeTemps.add(path.basename(temp));
    try {
      try {
        this.ops.copyFile(source, temp);
      } catch (error) {
        if (errno(error) === 'ENOENT' && !exists(source)) return 'vanished';
        throw error;
      }
      fsyncPath(temp);
      if (!sameContent(source, temp)) {
        throw new IntegrityError(
          'INGEST_COPY_MISMATCH',
          `the copy of ${source} differs from the original; the source is kept, check the disk of ${dir}`,
        );
      }
      if (!this.placeNoReplace(temp, target)) return this.settleExisting(source, target);
      fsyncPath(dir);
    } finally {
      rmQuiet(temp);
      activeTemps.delete(path.basename(temp));
    }
    this.unlinkSource(source);
    return 'placed';
  }

  private unlinkSource(source: string): void {
    try {
      this.ops.unlink(source);
    } catch (error) {
      if (errno(error) !== 'ENOENT') throw error; // another pass finished the same move
    }
  }

  beginJournal(runDirs: readonly string[]): Promise<Journal> {
    return promised(() => this.beginJournalSync(runDirs));
  }

  private beginJournalSync(runDirs: readonly string[]): Journal {
    const data = this.root().data;
    const name = `${JOURNAL_PREFIX}${HOST}-${process.pid}-${randomBytes(4).toString('hex')}.json`;
    const file = path.join(data, name);
    activeJournals.add(name);
    try {
      const fd = fs.openSync(file, 'wx');
      try {
        fs.writeFileSync(fd, JSON.stringify({ runDirs }));
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } catch (error) {
      activeJournals.delete(name);
      throw error;
    }
    return { id: name, runDirs: [...runDirs] };
  }

  endJournal(journal: Journal): Promise<void> {
    return promised(() => {
      rmQuiet(path.join(this.root().data, journal.id));
      activeJournals.delete(journal.id);
    });
  }

  leaveJournal(journal: Journal): Promise<void> {
    activeJournals.delete(journal.id);
    return Promise.resolve();
  }

  abandonedJournals(): Promise<Journal[]> {
    return promised(() => this.abandonedJournalsSync());
  }

  private abandonedJournalsSync(): Journal[] {
    const data = this.root().data;
    const journals: Journal[] = [];
    for (const name of fs.readdirSync(data)) {
      const match = JOURNAL_RE.exec(name);
      if (!match) continue;
      const file = path.join(data, name);
      let stat: fs.Stats;
      try {
        stat = fs.statSync(file);
      } catch {
        continue;
      }
      if (!abandoned(match[1] ?? '', Number(match[2]), name, activeJournals, stat.mtimeMs)) continue;
      let runDirs: string[] = [];
      try {
        const parsed: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
        const dirs = (parsed as { runDirs?: unknown }).runDirs;
        if (Array.isArray(dirs))
          runDirs = dirs.filter((d): d is string => typeof d === 'string' && isSafeRelative(d));
      } catch {
        // Written partly when its pass died: that pass had not moved anything yet.
      }
      journals.push({ id: name, runDirs });
    }
    return journals;
  }

  removeStaleTemps(dataDirs: readonly string[]): Promise<number> {
    return promised(() => this.removeStaleTempsSync(dataDirs));
  }

  private removeStaleTempsSync(dataDirs: readonly string[]): number {
    let removed = 0;
    for (const rel of dataDirs) {
      if (!isSafeRelative(rel)) continue;
      const dir = this.dataPath(rel);
      removed += this.removeTempsIn(dir);
      let subdirs: fs.Dirent[] = [];
      try {
        subdirs = fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory());
      } catch (error) {
        if (errno(error) !== 'ENOENT' && errno(error) !== 'ENOTDIR') throw error;
      }
      for (const sub of subdirs) removed += this.removeTempsIn(path.join(dir, sub.name));
    }
    return removed;
  }

  private removeTempsIn(dir: string): number {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch (error) {
      if (errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') return 0;
      throw error;
    }
    let removed = 0;
    for (const name of names) {
      if (name.startsWith('.') && TEMP_RE.test(name) && this.removeIfAbandonedTemp(path.join(dir, name)))
        removed++;
    }
    return removed;
  }

  /** Removes one of our temp files if its writer is gone; true when removed. */
  private removeIfAbandonedTemp(file: string): boolean {
    const name = path.basename(file);
    const match = TEMP_RE.exec(name);
    if (!match) return false;
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(file);
    } catch {
      return false;
    }
    if (!stat.isFile() || !abandoned(match[1] ?? '', Number(match[2]), name, activeTemps, stat.mtimeMs))
      return false;
    rmQuiet(file);
    return true;
  }

  async storeInDrop(name: string, bytes: Uint8Array): Promise<'stored' | 'identical'> {
    const target = this.dropPath(name);
    const dir = path.dirname(target);
    const temp = path.join(dir, tempName('upload'));
    activeTemps.add(path.basename(temp));
    try {
      const handle = await fs.promises.open(temp, 'wx');
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (!this.placeNoReplace(temp, target)) {
        if (sameContent(temp, target)) return 'identical';
        throw new ConflictError(
          'INGEST_UPLOAD_EXISTS',
          `${name} is already waiting in the drop directory with different content; wait for the next pass and upload again`,
        );
      }
      fsyncPath(dir);
      return 'stored';
    } finally {
      rmQuiet(temp);
      activeTemps.delete(path.basename(temp));
    }
  }
}

/** Runs synchronous filesystem work behind the async port: errors become rejections, never throws. */
function promised<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(coerceError(error));
  }
}

function rmQuiet(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (error) {
    if (errno(error) !== 'ENOENT') throw error;
  }
}

const UNSAFE_NAME_RE = /[/\\\0]/;

/** A single path component that cannot climb out of its directory. */
function isPlainName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !UNSAFE_NAME_RE.test(name);
}

function isSafeRelative(rel: string): boolean {
  if (rel === '' || rel.includes('\0') || rel.includes('\\') || rel.startsWith('/')) return false;
  return rel.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

function checkRelative(rel: string): string {
  if (!isSafeRelative(rel)) {
    throw new InputError(
      'INGEST_PATH_ESCAPE',
      `"${rel}" is not a plain relative path inside the data directory`,
    );
  }
  return rel;
}
