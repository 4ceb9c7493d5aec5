/**
 * POSIX tar (ustar blocks, pax extended headers) and the archive index, as pure functions: no I/O.
 *
 * A member is a regular file or a directory. Member paths are relative, `/`-separated, and a
 * directory's path ends with `/` (as GNU tar stores it), so the index can tell an empty file from
 * a directory. A path that does not fit ustar's name/prefix split, a size above 8 GiB - 1, and
 * numbers or names too large for their ustar field go into a pax header (typeflag `x`) placed
 * right before the member's ustar header.
 *
 * The index is a text file:
 *
 *   # custodian tar index v1
 *   <headerOffset> <dataOffset> <size> <sha256> <path>
 *
 * one line per member in archive order, decimal byte offsets into the tar, lower-case hex sha256
 * (of the empty string for directories), the path last so it may hold spaces.
 */
import { InputError } from '../../core/errors.js';
import type { ArchiveMember } from './transfer.types.js';

export const BLOCK = 512;
/** GNU tar writes in records of 20 blocks; archives are padded to a whole record. */
export const RECORD = 20 * BLOCK;
/** The largest value of an 11-digit octal field (size, mtime): 8 GiB - 1. */
export const MAX_OCTAL_11 = 8 ** 11 - 1;
/** The largest value of a 7-digit octal field (mode, uid, gid). */
export const MAX_OCTAL_7 = 8 ** 7 - 1;
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const INDEX_HEADER = '# custodian tar index v1';
/** A pax header larger than this is taken as damage rather than buffered. */
export const MAX_PAX_BYTES = 1 << 20;

const encoder = new TextEncoder();
// ignoreBOM: a name may start with U+FEFF, which must survive decoding.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** What is needed to write one member's header(s). */
export interface TarEntry {
  /** Member path; a directory's ends with `/`. */
  path: string;
  type: 'file' | 'directory';
  /** Data bytes (0 for a directory). */
  size: number;
  /** Permission bits (`stat.mode & 0o7777`). */
  mode: number;
  /** Modification time, whole seconds since the epoch. */
  mtime: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
}

/** One decoded ustar header, with any pax records already applied. */
export interface TarHeader {
  path: string;
  /** `0` regular file (an old `\0` is read as `0`), `5` directory, `x`/`g` pax, others as found. */
  typeflag: string;
  size: number;
  mode: number;
  mtime: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  linkname: string;
}

export type DecodedHeader = { ok: true; header: TarHeader } | { ok: false; problem: string };

// ustar field offsets and lengths.
const F = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 6],
  version: [263, 2],
  uname: [265, 32],
  gname: [297, 32],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
} as const satisfies Record<string, readonly [number, number]>;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why `path` cannot be a member path (undefined when it can): it must be relative, made of
 * non-empty segments other than `.` and `..`, free of NUL, and well-formed Unicode (it is stored
 * as UTF-8); a single trailing `/` marks a directory.
 */
export function memberPathProblem(path: string): string | undefined {
  if (path === '' || path === '/') return 'the path is empty';
  if (path.startsWith('/')) return 'the path is absolute';
  if (path.includes('\0')) return 'the path contains a NUL byte';
  if (LONE_SURROGATE.test(path)) return 'the path is not valid Unicode';
  const body = path.endsWith('/') ? path.slice(0, -1) : path;
  for (const segment of body.split('/')) {
    if (segment === '') return 'the path has an empty segment (`//`)';
    if (segment === '.' || segment === '..') return `the path has a \`${segment}\` segment`;
  }
  return undefined;
}

/** Zero bytes after `size` data bytes up to the next block boundary. */
export function paddingAfter(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** Zero bytes that end an archive whose members end at `offset`: two zero blocks, then up to a whole record. */
export function trailerLength(offset: number): number {
  const end = offset + 2 * BLOCK;
  return end + ((RECORD - (end % RECORD)) % RECORD) - offset;
}

function writeString(
  block: Uint8Array,
  [offset, length]: readonly [number, number],
  bytes: Uint8Array,
): void {
  block.set(bytes.subarray(0, length), offset);
}

function writeOctal(block: Uint8Array, field: readonly [number, number], value: number): void {
  const digits = field[1] - 1;
  writeString(block, field, encoder.encode(`${value.toString(8).padStart(digits, '0')}\0`));
}

function checksum(block: Uint8Array): { unsigned: number; signed: number } {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= F.chksum[0] && i < F.chksum[0] + F.chksum[1] ? 0x20 : (block[i] ?? 0);
    unsigned += byte;
    signed += byte >= 0x80 ? byte - 0x100 : byte;
  }
  return { unsigned, signed };
}

/** The longest prefix of `text` whose UTF-8 encoding fits in `max` bytes (never splits a character). */
function truncateUtf8(text: string, max: number): Uint8Array {
  const bytes = encoder.encode(text);
  if (bytes.length <= max) return bytes;
  let end = max;
  // Back up over continuation bytes so the cut lands on a character boundary.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/** ustar's name/prefix split of a path, or undefined when it needs a pax `path` record. */
function splitPath(path: string): { name: Uint8Array; prefix: Uint8Array } | undefined {
  const bytes = encoder.encode(path);
  if (bytes.length <= F.name[1]) return { name: bytes, prefix: new Uint8Array(0) };
  for (let i = 1; i < bytes.length - 1; i++) {
    if (bytes[i] !== 0x2f) continue;
    if (i > F.prefix[1]) return undefined;
    if (bytes.length - i - 1 <= F.name[1])
      return { prefix: bytes.subarray(0, i), name: bytes.subarray(i + 1) };
  }
  return undefined;
}

/** Pax records, `"<len> <key>=<value>\n"` where `<len>` counts the whole record in bytes, itself included. */
export function encodePax(records: ReadonlyArray<readonly [string, string]>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [key, value] of records) {
    const body = encoder.encode(` ${key}=${value}\n`);
    let length = body.length + 1;
    while (String(length).length + body.length !== length) length = String(length).length + body.length;
    parts.push(encoder.encode(String(length)), body);
  }
  return concat(parts);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Parses pax records; a malformed record ends the parse with a problem (trailing NUL padding is accepted). */
export function parsePax(data: Uint8Array): { records: Map<string, string>; problem?: string } {
  const records = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    if (data.subarray(at).every((b) => b === 0)) break;
    let space = at;
    while (space < data.length && space - at < 20 && data[space] !== 0x20) space++;
    const lengthText = decoder.decode(data.subarray(at, space));
    if (data[space] !== 0x20 || !/^[1-9][0-9]*$/.test(lengthText)) {
      return { records, problem: `pax record at byte ${at} has no valid length` };
    }
    const length = Number(lengthText);
    const end = at + length;
    if (end > data.length || data[end - 1] !== 0x0a) {
      return { records, problem: `pax record at byte ${at} does not end where its length says` };
    }
    const body = data.subarray(space + 1, end - 1);
    const equals = body.indexOf(0x3d);
    if (equals <= 0) return { records, problem: `pax record at byte ${at} has no key` };
    records.set(decoder.decode(body.subarray(0, equals)), decoder.decode(body.subarray(equals + 1)));
    at = end;
  }
  return { records };
}

function checkEntry(entry: TarEntry): void {
  const problem = memberPathProblem(entry.path);
  const isDirPath = entry.path.endsWith('/');
  const bad = (what: string): never => {
    throw new InputError(
      'TRANSFER_ARCHIVE_BAD_ENTRY',
      `Cannot archive ${JSON.stringify(entry.path)}: ${what}.`,
      {
        details: { path: entry.path },
      },
    );
  };
  if (problem !== undefined) bad(problem);
  if (entry.type === 'directory' ? !isDirPath : isDirPath)
    bad('directory paths, and only they, end with `/`');
  if (entry.type === 'directory' && entry.size !== 0) bad('a directory has no data');
  for (const [name, value] of [
    ['size', entry.size],
    ['uid', entry.uid],
    ['gid', entry.gid],
    ['mode', entry.mode],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0) bad(`${name} ${value} is not a non-negative integer`);
  }
  if (entry.mode > 0o7777) bad(`mode ${entry.mode.toString(8)} has bits beyond 7777`);
  if (!Number.isSafeInteger(entry.mtime)) bad(`mtime ${entry.mtime} is not whole seconds`);
  if (entry.uname.includes('\0') || entry.gname.includes('\0')) bad('a user or group name contains NUL');
}

function ustarBlock(fields: {
  name: Uint8Array;
  prefix: Uint8Array;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  uname: Uint8Array;
  gname: Uint8Array;
}): Uint8Array {
  const block = new Uint8Array(BLOCK);
  writeString(block, F.name, fields.name);
  writeOctal(block, F.mode, fields.mode);
  writeOctal(block, F.uid, fields.uid);
  writeOctal(block, F.gid, fields.gid);
  writeOctal(block, F.size, fields.size);
  writeOctal(block, F.mtime, fields.mtime);
  writeString(block, F.typeflag, encoder.encode(fields.typeflag));
  writeString(block, F.magic, encoder.encode('ustar\0'));
  writeString(block, F.version, encoder.encode('00'));
  writeString(block, F.uname, fields.uname);
  writeString(block, F.gname, fields.gname);
  writeOctal(block, F.devmajor, 0);
  writeOctal(block, F.devminor, 0);
  writeString(block, F.prefix, fields.prefix);
  writeString(block, F.chksum, encoder.encode(`${checksum(block).unsigned.toString(8).padStart(6, '0')}\0 `));
  return block;
}

/**
 * The header blocks of one member: a pax header (block plus padded records) when something does
 * not fit ustar, then the ustar header. The member's data follows right after the returned bytes.
 * Throws InputError (TRANSFER_ARCHIVE_BAD_ENTRY) for a path or number that cannot be a member.
 */
export function encodeHeader(entry: TarEntry): Uint8Array {
  checkEntry(entry);
  const pax: Array<[string, string]> = [];
  const split = splitPath(entry.path);
  if (split === undefined) pax.push(['path', entry.path]);
  if (entry.size > MAX_OCTAL_11) pax.push(['size', String(entry.size)]);
  const mtimeFits = entry.mtime >= 0 && entry.mtime <= MAX_OCTAL_11;
  if (!mtimeFits) pax.push(['mtime', String(entry.mtime)]);
  if (entry.uid > MAX_OCTAL_7) pax.push(['uid', String(entry.uid)]);
  if (entry.gid > MAX_OCTAL_7) pax.push(['gid', String(entry.gid)]);
  const unameBytes = encoder.encode(entry.uname);
  const gnameBytes = encoder.encode(entry.gname);
  // Keep a NUL after the name: some readers expect these two fields to be terminated.
  if (unameBytes.length >= F.uname[1]) pax.push(['uname', entry.uname]);
  if (gnameBytes.length >= F.gname[1]) pax.push(['gname', entry.gname]);

  // Readers that ignore pax records still get the nearest sensible values.
  const common = {
    mode: entry.mode,
    uid: entry.uid > MAX_OCTAL_7 ? 0 : entry.uid,
    gid: entry.gid > MAX_OCTAL_7 ? 0 : entry.gid,
    mtime: mtimeFits ? entry.mtime : Math.min(Math.max(entry.mtime, 0), MAX_OCTAL_11),
    uname: unameBytes.length >= F.uname[1] ? truncateUtf8(entry.uname, F.uname[1] - 1) : unameBytes,
    gname: gnameBytes.length >= F.gname[1] ? truncateUtf8(entry.gname, F.gname[1] - 1) : gnameBytes,
  };
  const base = entry.path.replace(/\/$/, '').split('/').pop() ?? '';
  const ustar = ustarBlock({
    ...common,
    ...(split ?? { name: truncateUtf8(base, F.name[1]), prefix: new Uint8Array(0) }),
    size: entry.size > MAX_OCTAL_11 ? 0 : entry.size,
    typeflag: entry.type === 'directory' ? '5' : '0',
  });
  if (pax.length === 0) return ustar;
  const records = encodePax(pax);
  const paxHeader = ustarBlock({
    ...common,
    mode: 0o644,
    name: truncateUtf8(`PaxHeaders/${base}`, F.name[1]),
    prefix: new Uint8Array(0),
    size: records.length,
    typeflag: 'x',
  });
  return concat([paxHeader, records, new Uint8Array(paddingAfter(records.length)), ustar]);
}

function readString(block: Uint8Array, [offset, length]: readonly [number, number]): string {
  const field = block.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return decoder.decode(nul === -1 ? field : field.subarray(0, nul));
}

/** An octal field (leading spaces, terminated by NUL or space) or GNU base-256; NaN when malformed. */
function readNumber(block: Uint8Array, [offset, length]: readonly [number, number]): number {
  const field = block.subarray(offset, offset + length);
  const first = field[0] ?? 0;
  if (first & 0x80) {
    if (first === 0xff) return NaN; // negative base-256: never valid for the fields we read
    let value = first & 0x7f;
    for (const byte of field.subarray(1)) value = value * 256 + byte;
    return Number.isSafeInteger(value) ? value : NaN;
  }
  const text = decoder.decode(field).replace(/^ +/, '');
  const match = /^([0-7]*)(?:[ \0].*)?$/s.exec(text);
  if (!match) return NaN;
  const digits = match[1] ?? '';
  return digits === '' ? 0 : parseInt(digits, 8);
}

/**
 * Decodes one 512-byte header block: undefined for an all-zero block (end of archive), a problem
 * for a bad checksum or malformed number. The ustar prefix is joined to the name; pax records
 * are not applied here (see `applyPax`).
 */
export function decodeHeader(block: Uint8Array): DecodedHeader | undefined {
  if (block.length !== BLOCK)
    return { ok: false, problem: `a header block has ${block.length} bytes, not 512` };
  if (block.every((b) => b === 0)) return undefined;
  const stored = readNumber(block, F.chksum);
  const { unsigned, signed } = checksum(block);
  if (Number.isNaN(stored)) return { ok: false, problem: 'the header checksum field is not a number' };
  // Some old writers summed signed bytes; both are accepted, as GNU tar does.
  if (stored !== unsigned && stored !== signed) {
    return { ok: false, problem: `bad header checksum (stored ${stored}, computed ${unsigned})` };
  }
  const numbers = {
    mode: readNumber(block, F.mode),
    uid: readNumber(block, F.uid),
    gid: readNumber(block, F.gid),
    size: readNumber(block, F.size),
    mtime: readNumber(block, F.mtime),
  };
  for (const [name, value] of Object.entries(numbers)) {
    if (Number.isNaN(value)) return { ok: false, problem: `the header's ${name} field is not a number` };
  }
  const name = readString(block, F.name);
  const isUstar = readString(block, F.magic) === 'ustar' && block[F.magic[0] + 5] === 0;
  const prefix = isUstar ? readString(block, F.prefix) : '';
  const typeflag = String.fromCharCode(block[F.typeflag[0]] ?? 0);
  return {
    ok: true,
    header: {
      path: prefix === '' ? name : `${prefix}/${name}`,
      typeflag: typeflag === '\0' ? '0' : typeflag,
      ...numbers,
      uname: readString(block, F.uname),
      gname: readString(block, F.gname),
      linkname: readString(block, F.linkname),
    },
  };
}

/** The header with pax records (`path`, `size`, `mtime`, `uid`, `gid`, `uname`, `gname`, `linkpath`) applied. */
export function applyPax(header: TarHeader, records: ReadonlyMap<string, string>): DecodedHeader {
  const out = { ...header };
  for (const [key, value] of records) {
    switch (key) {
      case 'path':
        out.path = value;
        break;
      case 'linkpath':
        out.linkname = value;
        break;
      case 'uname':
        out.uname = value;
        break;
      case 'gname':
        out.gname = value;
        break;
      case 'size':
      case 'uid':
      case 'gid':
      case 'mtime': {
        const pattern = key === 'mtime' ? /^-?[0-9]+(\.[0-9]*)?$/ : /^[0-9]+$/;
        const number = pattern.test(value) ? Math.floor(Number(value)) : NaN;
        if (!Number.isSafeInteger(number))
          return { ok: false, problem: `pax ${key} ${JSON.stringify(value)} is not valid` };
        out[key] = number;
        break;
      }
      default:
        break;
    }
  }
  return { ok: true, header: out };
}

export type TarEvent =
  /** A member header (pax applied); `headerOffset` is where its first header block (pax or ustar) starts. */
  | { type: 'member'; header: TarHeader; headerOffset: number; dataOffset: number }
  /** Part of the current member's data; valid only until the next event is requested. */
  | { type: 'data'; bytes: Uint8Array }
  /** All of the current member's data was delivered. */
  | { type: 'memberEnd' }
  /** `fatal`: the parser cannot find the next header by itself (see `resyncAt`). */
  | { type: 'problem'; offset: number; problem: string; fatal: boolean }
  /** The two zero blocks that end the archive start at `offset`. */
  | { type: 'end'; offset: number };

type ParserState =
  | { kind: 'header' }
  | { kind: 'data'; remaining: number; member: string }
  | { kind: 'pax'; size: number; global: boolean }
  | { kind: 'skip'; remaining: number; member?: string }
  | { kind: 'trailer' }
  | { kind: 'failed' };

/**
 * Reads a tar stream chunk by chunk with bounded memory (one header block, plus one pax header of
 * at most MAX_PAX_BYTES). Feed chunks to `push` and consume its events before the next push; call
 * `finish` at the end of the stream. After a fatal problem the parser skips everything until
 * `resyncAt(offset)` tells it where the next header is.
 */
export class TarParser {
  private offset = 0;
  private state: ParserState = { kind: 'header' };
  private readonly block = new Uint8Array(BLOCK);
  private blockFill = 0;
  private pax: Uint8Array | undefined;
  private paxFill = 0;
  private paxRecords: Map<string, string> | undefined;
  private memberStart: number | undefined;
  private zeroBlockAt: number | undefined;
  private trailerReported = false;

  /** Bytes consumed so far. */
  get position(): number {
    return this.offset;
  }

  /** Whether the end-of-archive blocks were seen. */
  get ended(): boolean {
    return this.state.kind === 'trailer';
  }

  /** After a fatal problem: expect a header at `offset` (at or after the current position). */
  resyncAt(offset: number): boolean {
    if (this.state.kind !== 'failed' || offset < this.offset || offset % BLOCK !== 0) return false;
    this.resetMember();
    this.zeroBlockAt = undefined;
    this.state =
      offset === this.offset ? { kind: 'header' } : { kind: 'skip', remaining: offset - this.offset };
    return true;
  }

  *push(chunk: Uint8Array): Generator<TarEvent> {
    let at = 0;
    while (at < chunk.length) {
      const state = this.state;
      switch (state.kind) {
        case 'header': {
          const take = Math.min(BLOCK - this.blockFill, chunk.length - at);
          this.block.set(chunk.subarray(at, at + take), this.blockFill);
          this.blockFill += take;
          at += take;
          this.offset += take;
          if (this.blockFill === BLOCK) {
            this.blockFill = 0;
            yield* this.onBlock(this.offset - BLOCK);
          }
          break;
        }
        case 'data': {
          const take = Math.min(state.remaining, chunk.length - at);
          const bytes = chunk.subarray(at, at + take);
          at += take;
          this.offset += take;
          state.remaining -= take;
          yield { type: 'data', bytes };
          if (state.remaining === 0) {
            const padding = paddingAfter(this.offset);
            this.state =
              padding === 0 ? { kind: 'header' } : { kind: 'skip', remaining: padding, member: state.member };
            yield { type: 'memberEnd' };
          }
          break;
        }
        case 'pax': {
          const pax = this.pax ?? new Uint8Array(0);
          const take = Math.min(state.size - this.paxFill, chunk.length - at);
          pax.set(chunk.subarray(at, at + take), this.paxFill);
          this.paxFill += take;
          at += take;
          this.offset += take;
          if (this.paxFill === state.size) {
            const parsed = parsePax(pax);
            this.pax = undefined;
            const padding = paddingAfter(state.size);
            this.state = padding === 0 ? { kind: 'header' } : { kind: 'skip', remaining: padding };
            if (parsed.problem !== undefined) {
              yield* this.fail(this.offset - state.size, parsed.problem);
            } else if (!state.global) {
              this.paxRecords = new Map([...(this.paxRecords ?? []), ...parsed.records]);
            }
          }
          break;
        }
        case 'skip': {
          const take = Math.min(state.remaining, chunk.length - at);
          at += take;
          this.offset += take;
          state.remaining -= take;
          if (state.remaining === 0) this.state = { kind: 'header' };
          break;
        }
        case 'trailer': {
          const rest = chunk.subarray(at);
          if (!this.trailerReported && rest.some((b) => b !== 0)) {
            this.trailerReported = true;
            yield {
              type: 'problem',
              offset: this.offset + rest.findIndex((b) => b !== 0),
              problem: 'non-zero bytes after the end-of-archive blocks',
              fatal: false,
            };
          }
          this.offset += rest.length;
          at = chunk.length;
          break;
        }
        case 'failed':
          this.offset += chunk.length - at;
          at = chunk.length;
          break;
      }
    }
  }

  /** Problems of a stream that ended early (an empty list when the archive is complete). */
  finish(): TarEvent[] {
    const state = this.state;
    const problem = (text: string): TarEvent[] => [
      { type: 'problem', offset: this.offset, problem: `truncated: ${text}`, fatal: true },
    ];
    switch (state.kind) {
      case 'trailer':
      case 'failed':
        return [];
      case 'data':
        return problem(`the data of ${JSON.stringify(state.member)} stops ${state.remaining} bytes short`);
      case 'pax':
        return problem('the archive ends inside a pax header');
      case 'skip':
        return problem(
          state.member === undefined
            ? 'the archive ends inside padding'
            : `the archive ends inside the padding after ${JSON.stringify(state.member)}`,
        );
      case 'header':
        if (this.blockFill > 0)
          return problem(`the archive ends inside a header block (${this.blockFill} bytes)`);
        if (this.memberStart !== undefined)
          return problem('the archive ends after a pax header, before its member');
        if (this.zeroBlockAt !== undefined)
          return problem('only one of the two end-of-archive blocks is present');
        return problem('the end-of-archive blocks are missing');
    }
  }

  private resetMember(): void {
    this.pax = undefined;
    this.paxFill = 0;
    this.paxRecords = undefined;
    this.memberStart = undefined;
  }

  private *fail(offset: number, problem: string): Generator<TarEvent> {
    this.resetMember();
    this.state = { kind: 'failed' };
    yield { type: 'problem', offset, problem, fatal: true };
  }

  private *onBlock(blockOffset: number): Generator<TarEvent> {
    const decoded = decodeHeader(this.block);
    if (decoded === undefined) {
      if (this.memberStart !== undefined) {
        yield* this.fail(blockOffset, 'a zero block follows a pax header instead of its member header');
      } else if (this.zeroBlockAt === undefined) {
        this.zeroBlockAt = blockOffset;
      } else {
        this.state = { kind: 'trailer' };
        yield { type: 'end', offset: this.zeroBlockAt };
      }
      return;
    }
    if (this.zeroBlockAt !== undefined) {
      yield {
        type: 'problem',
        offset: this.zeroBlockAt,
        problem: 'a lone zero block inside the archive',
        fatal: false,
      };
      this.zeroBlockAt = undefined;
    }
    if (!decoded.ok) {
      yield* this.fail(blockOffset, decoded.problem);
      return;
    }
    const raw = decoded.header;
    this.memberStart ??= blockOffset;
    if (raw.typeflag === 'x' || raw.typeflag === 'g') {
      if (raw.size > MAX_PAX_BYTES) {
        yield* this.fail(blockOffset, `a pax header of ${raw.size} bytes is implausibly large`);
        return;
      }
      // Global records describe defaults we never write; they are read past, not applied.
      if (raw.typeflag === 'g') this.memberStart = undefined;
      if (raw.size === 0) return;
      this.pax = new Uint8Array(raw.size);
      this.paxFill = 0;
      this.state = { kind: 'pax', size: raw.size, global: raw.typeflag === 'g' };
      return;
    }
    const applied = applyPax(raw, this.paxRecords ?? new Map<string, string>());
    const headerOffset = this.memberStart;
    this.resetMember();
    if (!applied.ok) {
      yield* this.fail(blockOffset, applied.problem);
      return;
    }
    const header = applied.header;
    yield { type: 'member', header, headerOffset, dataOffset: this.offset };
    // POSIX: links, devices, directories and FIFOs have no data whatever the size field says.
    const size = '123456'.includes(header.typeflag) ? 0 : header.size;
    if (size === 0) {
      yield { type: 'memberEnd' };
      return;
    }
    this.state = { kind: 'data', remaining: size, member: header.path };
  }
}

export interface IndexProblem {
  /** 1-based line number; 0 when the index as a whole is the problem (empty). */
  line: number;
  /** The line (cut to 200 characters). */
  text: string;
  problem: string;
}

export interface ParsedIndex {
  members: ArchiveMember[];
  problems: IndexProblem[];
}

function indexEntryProblem(member: ArchiveMember): string | undefined {
  const pathProblem = memberPathProblem(member.path);
  if (pathProblem !== undefined) return pathProblem;
  for (const key of ['headerOffset', 'dataOffset', 'size'] as const) {
    const value = member[key];
    if (!Number.isSafeInteger(value) || value < 0) return `${key} is not a non-negative integer`;
  }
  if (member.headerOffset % BLOCK !== 0 || member.dataOffset % BLOCK !== 0) {
    return 'offsets must be multiples of 512';
  }
  if (member.dataOffset < member.headerOffset + BLOCK) return 'the data must start after a header block';
  if (member.path.endsWith('/') && member.size !== 0) return 'a directory has no data';
  if (!/^[0-9a-f]{64}$/.test(member.sha256)) return 'sha256 must be 64 lower-case hex digits';
  return undefined;
}

/**
 * The index text for `members` (in the given order). Throws InputError
 * (TRANSFER_ARCHIVE_BAD_PATH) for a path holding a newline or otherwise unusable, or
 * (TRANSFER_ARCHIVE_BAD_INDEX_ENTRY) for a bad number, hash or a repeated path: whatever
 * `parseIndex` would reject is refused here, so what is written always reads back the same.
 */
export function formatIndex(members: readonly ArchiveMember[]): string {
  const seen = new Set<string>();
  const lines = [INDEX_HEADER];
  for (const member of members) {
    if (member.path.includes('\n') || memberPathProblem(member.path) !== undefined) {
      const why = member.path.includes('\n') ? 'it contains a newline' : memberPathProblem(member.path);
      throw new InputError(
        'TRANSFER_ARCHIVE_BAD_PATH',
        `Cannot archive ${JSON.stringify(member.path)}: ${why}. Rename the file and archive again.`,
        { details: { path: member.path } },
      );
    }
    const problem = seen.has(member.path) ? 'the path is listed twice' : indexEntryProblem(member);
    if (problem !== undefined) {
      throw new InputError(
        'TRANSFER_ARCHIVE_BAD_INDEX_ENTRY',
        `Bad index entry for ${JSON.stringify(member.path)}: ${problem}.`,
        {
          details: { member },
        },
      );
    }
    seen.add(member.path);
    lines.push(`${member.headerOffset} ${member.dataOffset} ${member.size} ${member.sha256} ${member.path}`);
  }
  return `${lines.join('\n')}\n`;
}

const INDEX_LINE = /^(0|[1-9][0-9]*) (0|[1-9][0-9]*) (0|[1-9][0-9]*) ([0-9a-f]{64}) (.+)$/s;

/**
 * Reads an index; never throws. Every line other than the first (the `# custodian tar index v1`
 * header) becomes a member or a problem with its 1-based number. A first line that is not the
 * header is a problem and is not read as a member.
 */
export function parseIndex(text: string): ParsedIndex {
  const members: ArchiveMember[] = [];
  const problems: IndexProblem[] = [];
  const cut = (line: string): string => (line.length > 200 ? `${line.slice(0, 200)}…` : line);
  const lines = text.split('\n');
  // A final newline ends the last line; it does not start an empty one.
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0)
    return { members, problems: [{ line: 0, text: '', problem: 'the index is empty' }] };
  if (lines[0] !== INDEX_HEADER) {
    problems.push({
      line: 1,
      text: cut(lines[0] ?? ''),
      problem: `the first line is not \`${INDEX_HEADER}\``,
    });
  }
  const seen = new Set<string>();
  lines.forEach((line, i) => {
    if (i === 0) return;
    const match = INDEX_LINE.exec(line);
    if (!match) {
      problems.push({
        line: i + 1,
        text: cut(line),
        problem: 'not `<headerOffset> <dataOffset> <size> <sha256> <path>`',
      });
      return;
    }
    const [, headerOffset = '', dataOffset = '', size = '', sha256 = '', path = ''] = match;
    const member: ArchiveMember = {
      path,
      headerOffset: Number(headerOffset),
      dataOffset: Number(dataOffset),
      size: Number(size),
      sha256,
    };
    const problem = seen.has(path) ? 'the path is listed twice' : indexEntryProblem(member);
    if (problem !== undefined) {
      problems.push({ line: i + 1, text: cut(line), problem });
      return;
    }
    seen.add(path);
    members.push(member);
  });
  return { members, problems };
}
