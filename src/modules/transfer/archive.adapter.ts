/**
 * Archiver on the local filesystem: one POSIX tar per night plus its index (see tar.format.ts).
 * Files are streamed through a fixed buffer, so memory stays at `chunkBytes` whatever their size.
 */
import fs from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import {
  IntegrityError,
  InputError,
  NotFoundError,
  UnavailableError,
  coerceError,
  isCustodianError,
} from '../../core/errors.js';
import { errnoCode } from './checksum.adapter.js';
import {
  BLOCK,
  EMPTY_SHA256,
  TarParser,
  encodeHeader,
  formatIndex,
  memberPathProblem,
  paddingAfter,
  parseIndex,
  trailerLength,
  type TarEvent,
} from './tar.format.js';
import type { ArchiveWriteResult, Archiver } from './transfer.ports.js';
import type { ArchiveMember, ArchiveProblem, ArchiveVerifyResult } from './transfer.types.js';

export interface TarArchiverOptions {
  /** Bytes per read and write; default 1 MiB. Memory use of write and verify is about this much. */
  chunkBytes?: number;
}

/** Where a stream's archive of one night lives: `<archiveDir>/<stream>_<night>.tar` and `.tar.idx`. */
export function archiveNames(
  archiveDir: string,
  stream: string,
  night: string,
): { tar: string; index: string } {
  const tar = path.join(archiveDir, `${stream}_${night}.tar`);
  return { tar, index: `${tar}.idx` };
}

interface WalkEntry {
  /** Member path (`dir/...`, directories ending with `/`). */
  member: string;
  absolute: string;
  type: 'file' | 'directory';
}

interface Inspection {
  members: number;
  problems: ArchiveProblem[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function byteOrder(a: Buffer, b: Buffer): number {
  return Buffer.compare(a, b);
}

function describeKind(entry: { isSymbolicLink(): boolean; isFIFO(): boolean; isSocket(): boolean }): string {
  if (entry.isSymbolicLink()) return 'a symbolic link';
  if (entry.isFIFO()) return 'a FIFO';
  if (entry.isSocket()) return 'a socket';
  return 'a device or other special file';
}

function unsupported(absolute: string, kind: string): InputError {
  return new InputError(
    'TRANSFER_ARCHIVE_UNSUPPORTED_ENTRY',
    `Cannot archive ${absolute}: it is ${kind}, and an archive holds only directories and regular files. ` +
      'Replace it with the real file (or remove it) and archive again.',
    { details: { path: absolute, kind } },
  );
}

/** An abort (or timeout) signal's reason passes through untouched: it is not a filesystem failure. */
function isAbort(thrown: unknown): boolean {
  return thrown instanceof Error && (thrown.name === 'AbortError' || thrown.name === 'TimeoutError');
}

/** Runs `op` on the archive location; a filesystem failure there becomes UnavailableError. */
async function atArchive<T>(target: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (thrown) {
    if (isCustodianError(thrown) || isAbort(thrown)) throw thrown;
    const error = coerceError(thrown);
    const code = errnoCode(error) ?? 'error';
    const advice =
      code === 'ENOSPC' || code === 'EDQUOT'
        ? 'free space there'
        : 'make sure the archive directory is a writable directory (not a file, not read-only)';
    throw new UnavailableError(
      'TRANSFER_ARCHIVE_UNWRITABLE',
      `Cannot write the archive at ${target} (${code}: ${error.message}); ${advice}, then archive again.`,
      { details: { path: target, errno: code }, cause: error },
    );
  }
}

function sourceError(target: string, error: Error): InputError | UnavailableError {
  const code = errnoCode(error) ?? 'error';
  if (code === 'ELOOP') return unsupported(target, 'a symbolic link');
  return new UnavailableError(
    'TRANSFER_ARCHIVE_SOURCE_UNREADABLE',
    `Cannot read ${target} while archiving (${code}: ${error.message}); check that it exists and is readable, then archive again.`,
    { details: { path: target, errno: code }, cause: error },
  );
}

/** Runs `op` on the tree being archived; a read failure becomes UnavailableError. */
async function atSource<T>(target: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (thrown) {
    if (isCustodianError(thrown) || isAbort(thrown)) throw thrown;
    throw sourceError(target, coerceError(thrown));
  }
}

function tempName(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${randomBytes(6).toString('hex')}`);
}

async function writeAll(handle: fs.FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, null);
    done += bytesWritten;
  }
}

/** Durable renames need the directory entry itself flushed. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } catch (thrown) {
    // Some filesystems cannot fsync a directory; the renames are as durable as they allow.
    if (!['EINVAL', 'ENOTSUP', 'EPERM'].includes(errnoCode(coerceError(thrown)) ?? '')) throw thrown;
  } finally {
    await handle.close();
  }
}

/** User and group names for the tar headers, from /etc/passwd and /etc/group (empty when unknown). */
async function ownerNames(): Promise<{ user(uid: number): string; group(gid: number): string }> {
  const table = async (file: string): Promise<Map<number, string>> => {
    const names = new Map<number, string>();
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      const [name, , id] = line.split(':');
      if (name && id && /^[0-9]+$/.test(id) && !names.has(Number(id))) names.set(Number(id), name);
    }
    return names;
  };
  const [users, groups] = await Promise.all([table('/etc/passwd'), table('/etc/group')]);
  return { user: (uid) => users.get(uid) ?? '', group: (gid) => groups.get(gid) ?? '' };
}

export class TarArchiver implements Archiver {
  private readonly chunkBytes: number;

  constructor(options: TarArchiverOptions = {}) {
    this.chunkBytes = Math.max(BLOCK, options.chunkBytes ?? 1 << 20);
  }

  async write(options: {
    root: string;
    dir: string;
    tarPath: string;
    indexPath: string;
    signal?: AbortSignal;
  }): Promise<ArchiveWriteResult> {
    const { root, tarPath, indexPath, signal } = options;
    signal?.throwIfAborted();
    const dir = options.dir.replace(/\/+$/, '');
    const dirProblem = memberPathProblem(dir) ?? (dir.includes('\n') ? 'it contains a newline' : undefined);
    if (dirProblem !== undefined) {
      throw new InputError(
        'TRANSFER_ARCHIVE_BAD_PATH',
        `Cannot archive ${JSON.stringify(options.dir)}: ${dirProblem}.`,
        {
          details: { dir: options.dir },
        },
      );
    }
    if (path.resolve(tarPath) === path.resolve(indexPath)) {
      throw new InputError('TRANSFER_ARCHIVE_BAD_PATH', `The tar and its index cannot both be ${tarPath}.`);
    }
    const top = path.resolve(root, dir);
    for (const target of [tarPath, indexPath]) {
      const relative = path.relative(top, path.resolve(target));
      const outside = relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative);
      if (!outside) {
        throw new InputError(
          'TRANSFER_ARCHIVE_BAD_PATH',
          `Cannot write the archive ${target} inside the directory it archives (${top}); choose an archive directory elsewhere.`,
          { details: { path: target, dir: top } },
        );
      }
    }
    // The whole tree is checked before anything is written: a refused entry leaves no trace.
    const entries = await this.collect(root, dir);
    signal?.throwIfAborted();
    const temps: string[] = [];
    try {
      for (const target of new Set([path.dirname(tarPath), path.dirname(indexPath)])) {
        await atArchive(target, () => fs.mkdir(target, { recursive: true }));
      }
      const tmpTar = tempName(tarPath);
      const tmpIndex = tempName(indexPath);
      temps.push(tmpTar, tmpIndex);
      const { members, bytes } = await this.writeTar(tmpTar, entries, signal);
      const indexText = formatIndex(members);
      await atArchive(indexPath, async () => {
        const handle = await fs.open(tmpIndex, 'wx');
        try {
          await writeAll(handle, Buffer.from(indexText, 'utf8'));
          await handle.sync();
        } finally {
          await handle.close();
        }
      });

      signal?.throwIfAborted();
      const check = await atArchive(tarPath, () => this.inspect(tmpTar, tmpIndex, root, [`${dir}/`], signal));
      if (check.members !== members.length && check.problems.length === 0) {
        check.problems.push({ problem: `read back ${check.members} members, wrote ${members.length}` });
      }
      if (check.problems.length > 0) {
        const first = check.problems[0];
        throw new IntegrityError(
          'TRANSFER_ARCHIVE_MISMATCH',
          `The archive of ${path.join(root, dir)} did not read back as written ` +
            `(${check.problems.length} problem(s), first: ${first?.path ?? ''} ${first?.problem ?? ''}); ` +
            'nothing was kept. Check the archive disk and whether files changed during archiving, then archive again.',
          { details: { tar: tarPath, problems: check.problems } },
        );
      }

      // Order of the renames: an old index goes first, then the tar, then the new index. The
      // index is the commit mark: verify() refuses a tar without its index, so a crash at any
      // point leaves either the old archive, or a tar with no index (invalid, rewritten on the next
      // run), never a new tar next to an index that merely looks like it belongs to it.
      await atArchive(indexPath, () => fs.rm(indexPath, { force: true }));
      await atArchive(tarPath, () => fs.rename(tmpTar, tarPath));
      await atArchive(indexPath, () => fs.rename(tmpIndex, indexPath));
      for (const target of new Set([path.dirname(tarPath), path.dirname(indexPath)])) {
        await atArchive(target, () => syncDirectory(target));
      }
      return { tar: tarPath, index: indexPath, members, bytes };
    } catch (error) {
      await Promise.all(temps.map((temp) => fs.rm(temp, { force: true }).catch(() => undefined)));
      throw error;
    }
  }

  async verify(
    tarPath: string,
    options: { indexPath?: string; against?: string } = {},
  ): Promise<ArchiveVerifyResult> {
    const indexPath = options.indexPath ?? `${tarPath}.idx`;
    const result = (bytes: number, inspection: Inspection): ArchiveVerifyResult => ({
      ok: inspection.problems.length === 0,
      tar: tarPath,
      index: indexPath,
      members: inspection.members,
      bytes,
      problems: inspection.problems,
    });
    let bytes: number;
    try {
      const stat = await fs.stat(tarPath);
      if (!stat.isFile()) {
        return result(0, { members: 0, problems: [{ problem: `${tarPath} is not a regular file` }] });
      }
      bytes = stat.size;
    } catch (thrown) {
      const error = coerceError(thrown);
      const code = errnoCode(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new NotFoundError(
          'TRANSFER_ARCHIVE_NOT_FOUND',
          `No archive at ${tarPath}: check the path, or archive the night first.`,
          { details: { tar: tarPath } },
        );
      }
      return result(0, { members: 0, problems: [{ problem: `cannot read ${tarPath}: ${error.message}` }] });
    }
    try {
      return result(bytes, await this.inspect(tarPath, indexPath, options.against, undefined));
    } catch (thrown) {
      return result(bytes, {
        members: 0,
        problems: [{ problem: `cannot read ${tarPath}: ${coerceError(thrown).message}` }],
      });
    }
  }

  /** `<root>/<dir>` in archive order: each directory, then its entries sorted by name (bytes). */
  private async collect(root: string, dir: string): Promise<WalkEntry[]> {
    const top = path.join(root, dir);
    let stat;
    try {
      // The top itself may be a symlink to the night; nothing below it may.
      stat = await fs.stat(top);
    } catch (thrown) {
      const error = coerceError(thrown);
      const code = errnoCode(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new NotFoundError(
          'TRANSFER_ARCHIVE_SOURCE_NOT_FOUND',
          `Nothing to archive at ${top}: it does not exist. Check the destination path and the night.`,
          { details: { path: top } },
        );
      }
      throw sourceError(top, error);
    }
    if (!stat.isDirectory()) {
      throw new InputError('TRANSFER_ARCHIVE_BAD_PATH', `Cannot archive ${top}: it is not a directory.`, {
        details: { path: top },
      });
    }
    const entries: WalkEntry[] = [{ member: `${dir}/`, absolute: top, type: 'directory' }];
    const walk = async (member: string, absolute: string): Promise<void> => {
      const children = await atSource(absolute, () =>
        fs.readdir(absolute, { withFileTypes: true, encoding: 'buffer' }),
      );
      children.sort((a, b) => byteOrder(a.name, b.name));
      for (const child of children) {
        let name: string;
        try {
          name = utf8.decode(child.name);
        } catch {
          throw new InputError(
            'TRANSFER_ARCHIVE_BAD_PATH',
            `Cannot archive ${JSON.stringify(`${absolute}/${child.name.toString('latin1')}`)}: its name is not valid UTF-8. Rename it and archive again.`,
          );
        }
        const childAbsolute = path.join(absolute, name);
        const childMember = `${member}${name}`;
        if (name.includes('\n')) {
          throw new InputError(
            'TRANSFER_ARCHIVE_BAD_PATH',
            `Cannot archive ${JSON.stringify(childAbsolute)}: its name contains a newline, which the index cannot hold. Rename it and archive again.`,
            { details: { path: childAbsolute } },
          );
        }
        if (child.isDirectory()) {
          entries.push({ member: `${childMember}/`, absolute: childAbsolute, type: 'directory' });
          await walk(`${childMember}/`, childAbsolute);
        } else if (child.isFile()) {
          entries.push({ member: childMember, absolute: childAbsolute, type: 'file' });
        } else {
          throw unsupported(childAbsolute, describeKind(child));
        }
      }
    };
    await walk(`${dir}/`, top);
    return entries;
  }

  private async writeTar(
    tmpTar: string,
    entries: readonly WalkEntry[],
    signal: AbortSignal | undefined,
  ): Promise<{ members: ArchiveMember[]; bytes: number }> {
    const names = await ownerNames();
    const out = await atArchive(tmpTar, () => fs.open(tmpTar, 'wx'));
    const members: ArchiveMember[] = [];
    let offset = 0;
    const emit = async (bytes: Uint8Array): Promise<void> => {
      await atArchive(tmpTar, () => writeAll(out, bytes));
      offset += bytes.length;
    };
    const buffer = Buffer.allocUnsafe(this.chunkBytes);
    try {
      for (const entry of entries) {
        signal?.throwIfAborted();
        if (entry.type === 'directory') {
          const stat = await atSource(entry.absolute, () => fs.lstat(entry.absolute));
          const headerOffset = offset;
          await emit(
            encodeHeader({
              path: entry.member,
              type: 'directory',
              size: 0,
              mode: stat.mode & 0o7777,
              mtime: Math.floor(stat.mtimeMs / 1000),
              uid: stat.uid,
              gid: stat.gid,
              uname: names.user(stat.uid),
              gname: names.group(stat.gid),
            }),
          );
          members.push({
            path: entry.member,
            headerOffset,
            dataOffset: offset,
            size: 0,
            sha256: EMPTY_SHA256,
          });
          continue;
        }
        // O_NOFOLLOW: a file swapped for a symlink since the walk is refused, not followed.
        const input = await atSource(entry.absolute, () =>
          fs.open(entry.absolute, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW),
        );
        try {
          const stat = await atSource(entry.absolute, () => input.stat());
          if (!stat.isFile()) throw unsupported(entry.absolute, 'no longer a regular file');
          const headerOffset = offset;
          await emit(
            encodeHeader({
              path: entry.member,
              type: 'file',
              size: stat.size,
              mode: stat.mode & 0o7777,
              mtime: Math.floor(stat.mtimeMs / 1000),
              uid: stat.uid,
              gid: stat.gid,
              uname: names.user(stat.uid),
              gname: names.group(stat.gid),
            }),
          );
          const dataOffset = offset;
          const hash = createHash('sha256');
          let remaining = stat.size;
          while (remaining > 0) {
            signal?.throwIfAborted();
            const { bytesRead } = await atSource(entry.absolute, () =>
              input.read(buffer, 0, Math.min(buffer.length, remaining), null),
            );
            if (bytesRead === 0) {
              throw new IntegrityError(
                'TRANSFER_ARCHIVE_MISMATCH',
                `${entry.absolute} shrank while being archived (${remaining} of ${stat.size} bytes missing); ` +
                  'archive again once nothing writes to the night.',
                { details: { path: entry.absolute } },
              );
            }
            const chunk = buffer.subarray(0, bytesRead);
            hash.update(chunk);
            await emit(chunk);
            remaining -= bytesRead;
          }
          await emit(new Uint8Array(paddingAfter(stat.size)));
          members.push({
            path: entry.member,
            headerOffset,
            dataOffset,
            size: stat.size,
            sha256: hash.digest('hex'),
          });
        } finally {
          await input.close();
        }
      }
      await emit(new Uint8Array(trailerLength(offset)));
      await atArchive(tmpTar, () => out.sync());
    } finally {
      await out.close().catch(() => undefined);
    }
    return { members, bytes: offset };
  }

  /**
   * Streams the tar once and checks it against its index; with `against`, against the tree too.
   * `tops` are the directories whose trees must hold nothing beyond the archive (default: the
   * archive's directories whose parent is not in it). Throws only when the tar cannot be read.
   */
  private async inspect(
    tarPath: string,
    indexPath: string,
    against: string | undefined,
    tops: readonly string[] | undefined,
    signal?: AbortSignal,
  ): Promise<Inspection> {
    const problems: ArchiveProblem[] = [];
    const indexed = new Map<string, ArchiveMember>();
    let indexText: string | undefined;
    try {
      indexText = await fs.readFile(indexPath, 'utf8');
    } catch (thrown) {
      const error = coerceError(thrown);
      problems.push({
        problem:
          errnoCode(error) === 'ENOENT'
            ? `the index ${indexPath} is missing: the archive is incomplete; archive the night again`
            : `cannot read the index ${indexPath}: ${error.message}`,
      });
    }
    if (indexText !== undefined) {
      const parsed = parseIndex(indexText);
      for (const p of parsed.problems)
        problems.push({ problem: `index line ${p.line}: ${p.problem}: ${JSON.stringify(p.text)}` });
      for (const member of parsed.members) indexed.set(member.path, member);
    }
    const headerOffsets = [...indexed.values()].map((m) => m.headerOffset).sort((a, b) => a - b);
    const indexedAt = (offset: number): ArchiveMember | undefined =>
      [...indexed.values()].find((m) => m.headerOffset <= offset && offset < m.dataOffset);

    const found = new Map<string, ArchiveMember & { directory: boolean }>();
    /** Index entries already named by a problem (damaged header, truncated data). */
    const accounted = new Set<string>();
    const parser = new TarParser();
    let current:
      | { member: Omit<ArchiveMember, 'sha256'>; directory: boolean; hash: ReturnType<typeof createHash> }
      | undefined;

    const onMemberEnd = (): void => {
      if (current === undefined) return;
      const member: ArchiveMember = { ...current.member, sha256: current.hash.digest('hex') };
      const { directory } = current;
      current = undefined;
      if (found.has(member.path)) {
        problems.push({
          path: member.path,
          problem: `appears more than once in the tar (again at byte ${member.headerOffset})`,
        });
        return;
      }
      found.set(member.path, { ...member, directory });
      const expected = indexed.get(member.path);
      if (expected === undefined) {
        if (indexText !== undefined)
          problems.push({ path: member.path, problem: 'in the tar but not in the index' });
        return;
      }
      const differences: string[] = [];
      if (expected.headerOffset !== member.headerOffset) {
        differences.push(`header at byte ${member.headerOffset}, index says ${expected.headerOffset}`);
      }
      if (expected.dataOffset !== member.dataOffset) {
        differences.push(`data at byte ${member.dataOffset}, index says ${expected.dataOffset}`);
      }
      if (expected.size !== member.size)
        differences.push(`${member.size} bytes, index says ${expected.size}`);
      if (expected.sha256 !== member.sha256)
        differences.push(`sha256 ${member.sha256}, index says ${expected.sha256}`);
      if (differences.length > 0) problems.push({ path: member.path, problem: differences.join('; ') });
    };

    const consume = (events: Iterable<TarEvent>): void => {
      for (const event of events) {
        switch (event.type) {
          case 'member': {
            const { header } = event;
            const directory = header.typeflag === '5';
            let memberPath = directory && !header.path.endsWith('/') ? `${header.path}/` : header.path;
            const pathProblem = memberPathProblem(memberPath);
            if (pathProblem !== undefined) {
              problems.push({ path: memberPath, problem: `unusable member path: ${pathProblem}` });
              memberPath = `\0unsafe@${event.headerOffset}`;
            }
            if (!directory && header.typeflag !== '0') {
              problems.push({
                path: memberPath,
                problem: `member type '${header.typeflag}' is neither a file nor a directory`,
              });
            }
            current = {
              member: {
                path: memberPath,
                headerOffset: event.headerOffset,
                dataOffset: event.dataOffset,
                size: directory ? 0 : header.size,
              },
              directory,
              hash: createHash('sha256'),
            };
            break;
          }
          case 'data':
            current?.hash.update(event.bytes);
            break;
          case 'memberEnd':
            onMemberEnd();
            break;
          case 'end':
            break;
          case 'problem': {
            if (!event.fatal) {
              problems.push({ problem: `${event.problem} (byte ${event.offset})` });
              break;
            }
            const victim = current?.member.path ?? indexedAt(event.offset)?.path;
            if (victim !== undefined) accounted.add(victim);
            current = undefined;
            problems.push({
              ...(victim === undefined ? {} : { path: victim }),
              problem: `${event.problem} (byte ${event.offset})`,
            });
            // With an index, reading resumes at the next indexed header: one damaged block costs one member.
            const next = headerOffsets.find((o) => o > event.offset && o >= parser.position);
            if (next !== undefined) parser.resyncAt(next);
            break;
          }
        }
      }
    };

    const tar = await fs.open(tarPath, 'r');
    try {
      const buffer = Buffer.allocUnsafe(this.chunkBytes);
      for (;;) {
        signal?.throwIfAborted();
        const { bytesRead } = await tar.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        consume(parser.push(buffer.subarray(0, bytesRead)));
      }
      consume(parser.finish());
    } finally {
      await tar.close();
    }

    for (const member of indexed.values()) {
      if (!found.has(member.path) && !accounted.has(member.path)) {
        problems.push({ path: member.path, problem: 'in the index but not found in the tar' });
      }
    }
    if (against !== undefined) {
      problems.push(...(await this.compareTree(against, found, tops, signal)));
    }
    return { members: found.size, problems };
  }

  private async compareTree(
    against: string,
    found: ReadonlyMap<string, ArchiveMember & { directory: boolean }>,
    tops: readonly string[] | undefined,
    signal: AbortSignal | undefined,
  ): Promise<ArchiveProblem[]> {
    const problems: ArchiveProblem[] = [];
    try {
      if (!(await fs.stat(against)).isDirectory())
        return [{ problem: `${against} is not a directory to compare with` }];
    } catch (thrown) {
      return [{ problem: `cannot compare with ${against}: ${coerceError(thrown).message}` }];
    }
    for (const member of found.values()) {
      if (member.path.startsWith('\0')) continue;
      signal?.throwIfAborted();
      const absolute = path.join(against, member.path);
      try {
        const stat = await fs.lstat(absolute);
        if (member.directory) {
          if (!stat.isDirectory())
            problems.push({ path: member.path, problem: `${absolute} is not a directory` });
          continue;
        }
        if (!stat.isFile()) {
          problems.push({ path: member.path, problem: `${absolute} is not a regular file` });
          continue;
        }
        const actual = await this.hashFile(absolute, signal);
        if (actual.size !== member.size || actual.sha256 !== member.sha256) {
          problems.push({
            path: member.path,
            problem: `differs from ${absolute} (${actual.size} bytes, sha256 ${actual.sha256}; archived ${member.size} bytes, sha256 ${member.sha256})`,
          });
        }
      } catch (thrown) {
        if (isAbort(thrown)) throw thrown;
        const error = coerceError(thrown);
        problems.push({
          path: member.path,
          problem:
            errnoCode(error) === 'ENOENT'
              ? `missing from ${against}`
              : `cannot read ${absolute}: ${error.message}`,
        });
      }
    }
    const roots =
      tops ??
      [...found.values()]
        .filter((m) => m.directory && !found.has(m.path.replace(/[^/]+\/$/, '')))
        .map((m) => m.path);
    for (const top of roots) {
      const walk = async (member: string): Promise<void> => {
        let children;
        try {
          children = await fs.readdir(path.join(against, member), { withFileTypes: true });
        } catch {
          return; // a missing top directory is reported with the members above
        }
        for (const child of children) {
          const childMember = child.isDirectory() ? `${member}${child.name}/` : `${member}${child.name}`;
          if (!found.has(childMember)) {
            problems.push({ path: childMember, problem: `in ${against} but not in the archive` });
          } else if (child.isDirectory()) {
            await walk(childMember);
          }
        }
      };
      await walk(top);
    }
    return problems;
  }

  private async hashFile(
    file: string,
    signal: AbortSignal | undefined,
  ): Promise<{ size: number; sha256: string }> {
    const handle = await fs.open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    try {
      const hash = createHash('sha256');
      const buffer = Buffer.allocUnsafe(this.chunkBytes);
      let size = 0;
      for (;;) {
        signal?.throwIfAborted();
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) break;
        hash.update(buffer.subarray(0, bytesRead));
        size += bytesRead;
      }
      return { size, sha256: hash.digest('hex') };
    } finally {
      await handle.close();
    }
  }
}
