import fs from 'node:fs';
import path from 'node:path';
import { ConflictError, coerceError } from '../../core/errors.js';
import { errnoCode } from './checksum.adapter.js';
import type { EntryKind, ExposureFiles } from './transfer.ports.js';

// Directories rwxr-s--- (setgid keeps the group of the data centre's readers), files r--r-----.
const READ_ONLY_DIR = 0o2750;
const READ_ONLY_FILE = 0o440;

/* eslint-disable @typescript-eslint/require-await -- the port is async; these methods are synchronous on purpose (below) */
// The metadata calls here (readdir, chmod, rename) are synchronous: each is
// a few microseconds in the kernel, while a promise round trip through libuv's thread pool costs
// ~0.1 ms of CPU and wakeups. A night of 2,000 files makes ~10 such calls per file, on the CPU
// the concurrent rsync needs; the methods stay async for the port (and for the EXDEV copy).

function walk(dir: string, visit: (target: string, kind: 'file' | 'directory') => void): void {
  // Directories are visited before their contents for makeWritable (so they can be entered
  // and written) and after them for the read-only modes (a locked directory is never descended
  // into again); callers pick the order through `visit`.
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const target = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      visit(target, 'directory');
      walk(target, visit);
    } else if (entry.isFile()) visit(target, 'file');
  }
}

/**
 * Asynchronous, unlike the rest: with rsync writing at the same time, a directory's fsync waits
 * for the journal to commit the data written meanwhile (tens of milliseconds), and the event loop
 * must stay free to start the next copy.
 */
async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** ExposureFiles on the local filesystem. Symlinks inside an exposure are left as they are. */
export class LocalExposureFiles implements ExposureFiles {
  async kind(target: string): Promise<EntryKind> {
    try {
      const stat = fs.lstatSync(target);
      if (stat.isDirectory()) return 'directory';
      if (stat.isFile()) return 'file';
      if (stat.isSymbolicLink()) return 'symlink';
      return 'other';
    } catch (e) {
      const code = errnoCode(coerceError(e));
      if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
      throw e;
    }
  }

  async makeReadOnly(dir: string): Promise<void> {
    // Owner keeps rwx on directories (2750), so files are made read-only before their parent
    // directory changes mode; the top directory last.
    const dirs: string[] = [];
    walk(dir, (target, kind) => {
      if (kind === 'file') fs.chmodSync(target, READ_ONLY_FILE);
      else dirs.push(target);
    });
    for (const d of dirs.reverse()) fs.chmodSync(d, READ_ONLY_DIR);
    fs.chmodSync(dir, READ_ONLY_DIR);
  }

  async makeWritable(dir: string): Promise<void> {
    fs.chmodSync(dir, (fs.statSync(dir).mode & 0o7777) | 0o700);
    walk(dir, (target, kind) => {
      const mode = fs.statSync(target).mode & 0o7777;
      fs.chmodSync(target, mode | (kind === 'directory' ? 0o700 : 0o600));
    });
  }

  async lockDirectories(dir: string): Promise<void> {
    const dirs: string[] = [dir];
    walk(dir, (target, kind) => {
      if (kind === 'directory') dirs.push(target);
    });
    // Deepest first: a parent that lost user-write can still be entered (x stays), but keep
    // the order that would also work for a non-owner walk.
    for (const d of dirs.reverse()) fs.chmodSync(d, fs.statSync(d).mode & 0o7777 & ~0o200);
  }

  async publish(from: string, to: string): Promise<void> {
    const parent = path.dirname(to);
    fs.mkdirSync(parent, { recursive: true });
    if ((await this.kind(to)) !== 'missing') {
      throw new ConflictError(
        'TRANSFER_ALREADY_PUBLISHED',
        `${to} already exists: an exposure is published once; move it away to publish again`,
      );
    }
    try {
      fs.renameSync(from, to);
    } catch (e) {
      const error = coerceError(e);
      if (errnoCode(error) !== 'EXDEV') throw error;
      // Staging on another filesystem: copy under a temp name, then rename in place, then
      // remove the staged copy. A crash leaves either the temp (removed by the next attempt)
      // or the staged copy (published again by the next attempt).
      const temp = path.join(parent, `.${path.basename(to)}.publish-tmp`);
      await fs.promises.rm(temp, { recursive: true, force: true });
      await fs.promises.cp(from, temp, {
        recursive: true,
        preserveTimestamps: true,
        mode: fs.constants.COPYFILE_EXCL,
      });
      fs.renameSync(temp, to);
      await fsyncDir(parent);
      await fs.promises.chmod(from, 0o700).catch(() => undefined);
      await this.makeWritable(from);
      await fs.promises.rm(from, { recursive: true, force: true });
      return;
    }
  }

  async flush(dirs: readonly string[]): Promise<void> {
    for (const dir of dirs) await fsyncDir(dir);
  }

  async ensureDirectory(dir: string): Promise<void> {
    fs.mkdirSync(dir, { recursive: true });
  }

  async listDirectories(dir: string): Promise<string[]> {
    try {
      const entries = fs.readdirSync(dir, { withFileTypes: true });
      return entries
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort();
    } catch (e) {
      const code = errnoCode(coerceError(e));
      if (code === 'ENOENT' || code === 'ENOTDIR') return [];
      throw e;
    }
  }
}
