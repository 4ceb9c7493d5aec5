import fs from 'node:fs/promises';
import path from 'node:path';
import { ConflictError, coerceError } from '../../core/errors.js';
import { errnoCode } from './checksum.adapter.js';
import type { EntryKind, ExposureFiles } from './transfer.ports.js';

// Directories rwxr-s--- (setgid keeps the group of the data centre's readers), files r--r-----.
const READ_ONLY_DIR = 0o2750;
const READ_ONLY_FILE = 0o440;

async function walk(
  dir: string,
  visit: (target: string, kind: 'file' | 'directory') => void | Promise<void>,
): Promise<void> {
  // Directories are visited before their contents for makeWritable (so they can be entered
  // and written) and after them for the read-only modes (a locked directory is never descended
  // into again); callers pick the order through `visit`.
  const entries = await fs.readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    const target = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      await visit(target, 'directory');
      await walk(target, visit);
    } else if (entry.isFile()) await visit(target, 'file');
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
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
      const stat = await fs.lstat(target);
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
    await walk(dir, async (target, kind) => {
      if (kind === 'file') await fs.chmod(target, READ_ONLY_FILE);
    });
    const dirs: string[] = [];
    await walk(dir, (target, kind) => {
      if (kind === 'directory') dirs.push(target);
    });
    for (const d of dirs.reverse()) await fs.chmod(d, READ_ONLY_DIR);
    await fs.chmod(dir, READ_ONLY_DIR);
  }

  async makeWritable(dir: string): Promise<void> {
    const stat = await fs.stat(dir);
    await fs.chmod(dir, (stat.mode & 0o7777) | 0o700);
    await walk(dir, async (target, kind) => {
      const mode = (await fs.stat(target)).mode & 0o7777;
      await fs.chmod(target, mode | (kind === 'directory' ? 0o700 : 0o600));
    });
  }

  async lockDirectories(dir: string): Promise<void> {
    const dirs: string[] = [dir];
    await walk(dir, (target, kind) => {
      if (kind === 'directory') dirs.push(target);
    });
    // Deepest first: a parent that lost user-write can still be entered (x stays), but keep
    // the order that would also work for a non-owner walk.
    for (const d of dirs.reverse()) {
      const mode = (await fs.stat(d)).mode & 0o7777;
      await fs.chmod(d, mode & ~0o200);
    }
  }

  async publish(from: string, to: string): Promise<void> {
    const parent = path.dirname(to);
    await fs.mkdir(parent, { recursive: true });
    if ((await this.kind(to)) !== 'missing') {
      throw new ConflictError(
        'TRANSFER_ALREADY_PUBLISHED',
        `${to} already exists: an exposure is published once; move it away to publish again`,
      );
    }
    try {
      await fs.rename(from, to);
    } catch (e) {
      const error = coerceError(e);
      if (errnoCode(error) !== 'EXDEV') throw error;
      // Staging on another filesystem: copy under a temp name, then rename in place, then
      // remove the staged copy. A crash leaves either the temp (removed by the next attempt)
      // or the staged copy (published again by the next attempt).
      const temp = path.join(parent, `.${path.basename(to)}.publish-tmp`);
      await fs.rm(temp, { recursive: true, force: true });
      await fs.cp(from, temp, {
        recursive: true,
        preserveTimestamps: true,
        mode: fs.constants.COPYFILE_EXCL,
      });
      await fs.rename(temp, to);
      await fsyncDir(parent);
      await fs.chmod(from, 0o700).catch(() => undefined);
      await this.makeWritable(from);
      await fs.rm(from, { recursive: true, force: true });
      return;
    }
    await fsyncDir(parent);
    await fsyncDir(path.dirname(from)).catch(() => undefined);
  }

  async ensureDirectory(dir: string): Promise<void> {
    await fs.mkdir(dir, { recursive: true });
  }

  async listDirectories(dir: string): Promise<string[]> {
    try {
      const entries = await fs.readdir(dir, { withFileTypes: true });
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
