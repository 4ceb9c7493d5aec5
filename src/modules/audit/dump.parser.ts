/**
 * Dump files (inventory and listing): one entry per line, `PATH<TAB>SIZE[<TAB>MTIME]`.
 *
 * The rules, which the compare engine's SQL checks mirror exactly (keep them in step):
 * - 2 or 3 tab-separated fields; an empty third field counts as no mtime, and empty fields
 *   after the third are ignored (tabs at the end of a line are harmless).
 * - PATH starts with `/`, holds no NUL and is at most MAX_PATH_BYTES bytes of UTF-8; it may hold
 *   spaces, quotes, backslashes and other control characters (they are legal file names, and an
 *   audit must report such a file rather than fail on it). A path ending in `/` is a directory.
 * - SIZE: 1-16 decimal digits, at most 2^53-1; required on directories too, where its value is
 *   not used.
 * - MTIME: unix seconds, 1-16 digits with an optional fraction of 1-9 digits (`find -printf %T@`
 *   writes one), at most 2^53-1.
 * - Carriage returns are refused anywhere (a CRLF file is the usual cause), as is invalid UTF-8.
 * - Empty lines are skipped wherever they are, and a UTF-8 byte order mark at the start of the
 *   file is ignored (DuckDB's CSV reader does both, and the engine must agree with this file).
 */
import fs from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { InputError } from '../../core/errors.js';
import type { DumpEntry } from './audit.types.js';

export const MAX_PATH_BYTES = 65_536;
/** A longer line cannot be valid (longest path + separators + longest size and mtime). */
export const MAX_LINE_BYTES = MAX_PATH_BYTES + 64;

export const SIZE_PATTERN = /^[0-9]{1,16}$/;
export const MTIME_PATTERN = /^[0-9]{1,16}(\.[0-9]{1,9})?$/;

export type DumpLineResult = { ok: true; entry: DumpEntry } | { ok: false; problem: string };

const FORMAT_HINT = 'each line is PATH<TAB>SIZE[<TAB>MTIME]';

/** A short, printable rendering of a bad value for a message. */
function shown(value: string): string {
  const cut = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return JSON.stringify(cut);
}

function problem(text: string): DumpLineResult {
  return { ok: false, problem: text };
}

/** Parses one line (without its newline). Never throws: a bad line gives `{ ok: false, problem }`. */
export function parseDumpLine(line: string): DumpLineResult {
  if (line === '') return problem(`empty line; ${FORMAT_HINT}`);
  if (line.includes('\r'))
    return problem(
      line.endsWith('\r')
        ? 'carriage return at the end of the line (CRLF line endings?): convert the file with `sed -i s/\\r$//`'
        : 'carriage return in the line',
    );
  const fields = line.split('\t');
  while (fields.length > 3 && fields[fields.length - 1] === '') fields.pop();
  const [path = '', size, mtime] = fields;
  if (fields.length > 3) return problem(`${fields.length} tab-separated fields, at most 3: ${FORMAT_HINT}`);
  if (path === '') return problem(`empty path; ${FORMAT_HINT}`);
  if (!path.startsWith('/')) return problem(`path ${shown(path)} is not absolute (must start with /)`);
  if (path.includes('\0')) return problem(`path ${shown(path)} holds a NUL character (binary data?)`);
  if (Buffer.byteLength(path) > MAX_PATH_BYTES)
    return problem(`path is longer than ${MAX_PATH_BYTES} bytes (binary data?)`);
  if (size === undefined) return problem(`no size field after the path: ${FORMAT_HINT}`);
  if (size === '') return problem(`empty size field: ${FORMAT_HINT}`);
  if (!SIZE_PATTERN.test(size) || Number(size) > Number.MAX_SAFE_INTEGER)
    return problem(`size ${shown(size)} is not a non-negative integer of at most 16 digits (bytes)`);
  const entry: DumpEntry = { path, size: Number(size), directory: path.endsWith('/') };
  if (mtime !== undefined && mtime !== '') {
    if (!MTIME_PATTERN.test(mtime) || Number(mtime) > Number.MAX_SAFE_INTEGER)
      return problem(`mtime ${shown(mtime)} is not unix seconds (digits, optionally .fraction)`);
    entry.mtime = Number(mtime);
  }
  return { ok: true, entry };
}

/** Unix seconds as MTIME_PATTERN wants them: never exponent notation, at most 9 decimals. */
function formatMtime(mtime: number): string {
  if (Number.isInteger(mtime)) return String(mtime);
  return mtime.toFixed(9).replace(/0+$/, '').replace(/\.$/, '');
}

/** The line for an entry (without newline); `parseDumpLine(formatDumpLine(e))` gives `e` back. */
export function formatDumpLine(entry: DumpEntry): string {
  const base = `${entry.path}\t${entry.size}`;
  return entry.mtime === undefined ? base : `${base}\t${formatMtime(entry.mtime)}`;
}

export interface DumpLine {
  /** 1-based line number in the file. */
  line: number;
  entry: DumpEntry;
}

export interface DumpReadOptions {
  signal?: AbortSignal;
}

function badDump(file: string, line: number, what: string): InputError {
  return new InputError('AUDIT_BAD_DUMP', `dump ${file}, line ${line}: ${what}`, {
    details: { file, line, problem: what },
  });
}

/** Opens a dump, turning "cannot read" into an InputError naming the file. */
export async function openDump(file: string): Promise<fs.promises.FileHandle> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(file, 'r');
    const stat = await handle.stat();
    if (!stat.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTFILE' });
    return handle;
  } catch (error) {
    await handle?.close();
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR' || code === 'ENOTFILE'
          ? 'not a regular file'
          : (error as Error).message;
    throw new InputError('AUDIT_DUMP_UNREADABLE', `cannot read dump ${file}: ${reason}`, {
      details: { file, reason },
      cause: error,
    });
  }
}

const CHUNK = 1 << 20;

/**
 * Streams the entries of a dump with bounded memory (one chunk plus one line), throwing
 * InputError AUDIT_BAD_DUMP naming the file and 1-based line at the first bad line, and
 * AUDIT_DUMP_UNREADABLE when the file cannot be read.
 */
export async function* readDumpEntries(
  file: string,
  options: DumpReadOptions = {},
): AsyncGenerator<DumpLine> {
  const handle = await openDump(file);
  try {
    let carry: Buffer = Buffer.alloc(0);
    let line = 0;
    let first = true;
    const buffer = Buffer.allocUnsafe(CHUNK);
    const take = (raw: Buffer): DumpLine | undefined => {
      line++;
      let bytes = raw;
      if (first) {
        first = false;
        if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
      }
      if (bytes.length === 0) return undefined;
      if (bytes.length > MAX_LINE_BYTES)
        throw badDump(file, line, `line is longer than ${MAX_LINE_BYTES} bytes (binary data?)`);
      if (!isUtf8(bytes)) throw badDump(file, line, 'not valid UTF-8 (binary data?)');
      const parsed = parseDumpLine(bytes.toString('utf8'));
      if (!parsed.ok) throw badDump(file, line, parsed.problem);
      return { line, entry: parsed.entry };
    };
    for (;;) {
      options.signal?.throwIfAborted();
      const { bytesRead } = await handle.read(buffer, 0, CHUNK, null);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      let start = 0;
      for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
        const piece = chunk.subarray(start, nl);
        const raw = carry.length > 0 ? Buffer.concat([carry, piece]) : piece;
        carry = Buffer.alloc(0);
        const entry = take(raw);
        if (entry) yield entry;
        start = nl + 1;
      }
      const rest = chunk.subarray(start);
      if (carry.length + rest.length > MAX_LINE_BYTES)
        throw badDump(file, line + 1, `line is longer than ${MAX_LINE_BYTES} bytes (binary data?)`);
      // The chunk buffer is reused by the next read, so the unfinished line is copied out.
      carry = Buffer.concat([carry, rest]);
    }
    if (carry.length > 0) {
      const entry = take(carry);
      if (entry) yield entry;
    }
  } finally {
    await handle.close();
  }
}

export interface DumpSummary {
  /** Non-empty lines. */
  entries: number;
  files: number;
  directories: number;
}

/** Reads the whole dump, checking every line (bounded memory); throws like readDumpEntries. */
export async function validateDump(file: string, options: DumpReadOptions = {}): Promise<DumpSummary> {
  const summary: DumpSummary = { entries: 0, files: 0, directories: 0 };
  for await (const { entry } of readDumpEntries(file, options)) {
    summary.entries++;
    if (entry.directory) summary.directories++;
    else summary.files++;
  }
  return summary;
}
