/**
 * Pure parsing for the audit listers: a site's storage URL (`file:///abs/path`,
 * `ssh://[user@]host[:port]/abs/path`, `root://host[:port]//abs/path`), the directories to check,
 * and what the remote tools print about one directory or subtree (`xrdfs ls -l`, `xrdfs ls -R -l`,
 * `xrdfs stat`, GNU `find -printf '%y %s %T@ %P\0'`).
 *
 * A storage path maps into the site namespace, which starts at the path's last component:
 * `/srv/store/mc/a.root` under `file:///srv/store` is `/store/mc/a.root`.
 *
 * Anything that later reaches a command line or an xrdfs session is checked here: a host or user
 * starting with `-` would be read as an option, and control characters could end a command early
 * or break a dump line, so both are refused with InputError AUDIT_BAD_STORAGE.
 */
import { InputError } from '../../core/errors.js';
import type { DumpEntry } from './audit.types.js';

export const BAD_STORAGE = 'AUDIT_BAD_STORAGE';
export const BAD_DIRECTORY = 'AUDIT_BAD_DIRECTORY';

interface Common {
  /** Absolute path at the storage (normalized: single slashes, no trailing slash, never `/`). */
  path: string;
  /** Where the site namespace starts: `/` + the path's last component (`/store`). */
  namespace: string;
}

export type StorageLocation =
  | (Common & { scheme: 'file' })
  | (Common & {
      scheme: 'ssh';
      user?: string;
      /** A host name, or an IPv6 address without brackets (`::1`). */
      host: string;
      port?: number;
    })
  | (Common & { scheme: 'root'; host: string; port?: number });

const FORMS = 'file:///abs/path, ssh://[user@]host[:port]/abs/path or root://host[:port]//abs/path';

/** C0 and C1 controls and DEL: they can end a command line, a dump line, or drive readline. */
export function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true;
  }
  return false;
}

/** The URL as it may be shown: a password written into it never reaches a message. */
export function redactStorage(storage: string): string {
  return storage.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/@]*?):[^/@]*@/, '$1:***@');
}

function refuse(storage: string, problem: string): InputError {
  const shown = redactStorage(storage);
  return new InputError(BAD_STORAGE, `Bad storage URL ${JSON.stringify(shown)}: ${problem}.`, {
    details: { storage: shown },
  });
}

function decode(storage: string, raw: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw refuse(storage, `the ${what} has an invalid percent-encoding (write %25 for a literal %)`);
  }
}

function normalizePath(storage: string, raw: string): Common {
  const decoded = decode(storage, raw, 'path');
  if (hasControlCharacter(decoded)) throw refuse(storage, 'the path contains a control character');
  if (!decoded.startsWith('/')) throw refuse(storage, `the path must be absolute: write ${FORMS}`);
  const segments = decoded.split('/').filter((segment) => segment !== '');
  if (segments.length === 0) {
    throw refuse(storage, 'the path is the root "/": name the directory the site namespace starts at');
  }
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    throw refuse(storage, 'the path may not contain "." or ".." components');
  }
  const last = segments[segments.length - 1] ?? '';
  return { path: `/${segments.join('/')}`, namespace: `/${last}` };
}

const HOST_NAME = /^[A-Za-z0-9._-]+$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

interface Authority {
  user?: string;
  host: string;
  port?: number;
}

function parseAuthority(storage: string, authority: string, allowUser: boolean): Authority {
  const at = authority.lastIndexOf('@');
  let user: string | undefined;
  if (at >= 0) {
    if (!allowUser) throw refuse(storage, 'a user is not supported in a root:// URL');
    const rawUser = authority.slice(0, at);
    if (rawUser === '') throw refuse(storage, 'the user before @ is empty');
    if (rawUser.includes(':')) {
      throw refuse(storage, 'a password in the URL is not supported: use an ssh key (sshIdentity)');
    }
    user = decode(storage, rawUser, 'user');
    if (hasControlCharacter(user)) throw refuse(storage, 'the user contains a control character');
    if (user.startsWith('-')) throw refuse(storage, 'the user may not start with "-"');
    if (/[\s@/]/.test(user)) throw refuse(storage, 'the user may not contain spaces, "@" or "/"');
  }
  const hostPort = authority.slice(at + 1);
  let host: string;
  let portText: string | undefined;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0) throw refuse(storage, 'the IPv6 address lacks its closing "]"');
    host = hostPort.slice(1, close);
    if (!IPV6.test(host) || !host.includes(':')) throw refuse(storage, `"${host}" is not an IPv6 address`);
    const after = hostPort.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) throw refuse(storage, 'only ":port" may follow the IPv6 address');
      portText = after.slice(1);
    }
  } else {
    const colon = hostPort.indexOf(':');
    host = colon < 0 ? hostPort : hostPort.slice(0, colon);
    portText = colon < 0 ? undefined : hostPort.slice(colon + 1);
    if (host === '') throw refuse(storage, `the host is empty: write ${FORMS}`);
    if (host.startsWith('-')) throw refuse(storage, 'the host may not start with "-"');
    if (!HOST_NAME.test(host)) {
      throw refuse(storage, 'the host may only hold letters, digits, ".", "_" and "-" (or be [IPv6])');
    }
  }
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw refuse(storage, `the port "${portText}" is not a number from 1 to 65535`);
    }
    port = Number(portText);
  }
  return { ...(user === undefined ? {} : { user }), host, ...(port === undefined ? {} : { port }) };
}

/**
 * Parses a site's storage URL; throws InputError AUDIT_BAD_STORAGE saying what to write instead.
 * Paths are percent-decoded (`%20` for a space, `%25` for `%`). `root://host/path` (one slash) is
 * read like `root://host//path`: XRootD servers take both as the absolute path `/path`.
 */
export function parseStorageUrl(storage: string): StorageLocation {
  if (storage === '') throw refuse(storage, `it is empty: write ${FORMS}`);
  if (hasControlCharacter(storage)) throw refuse(storage, 'it contains a control character');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(storage);
  if (!scheme) throw refuse(storage, `it is not a URL: write ${FORMS}`);
  const name = (scheme[1] ?? '').toLowerCase();
  const rest = storage.slice(scheme[0].length);
  if (name !== 'file' && name !== 'ssh' && name !== 'root') {
    throw refuse(storage, `the scheme "${name}" is not supported: write ${FORMS}`);
  }
  if (rest.includes('?') || rest.includes('#')) {
    throw refuse(storage, 'a URL query or fragment is not allowed (percent-encode ? as %3F and # as %23)');
  }
  const slash = rest.indexOf('/');
  if (slash < 0) throw refuse(storage, `the path is missing: write ${FORMS}`);
  const authority = rest.slice(0, slash);
  const rawPath = rest.slice(slash);
  if (name === 'file') {
    if (authority !== '' && authority.toLowerCase() !== 'localhost') {
      throw refuse(storage, 'a file:// URL names a local path: write file:///abs/path (three slashes)');
    }
    return { scheme: 'file', ...normalizePath(storage, rawPath) };
  }
  const parsed = parseAuthority(storage, authority, name === 'ssh');
  if (name === 'ssh') return { scheme: 'ssh', ...parsed, ...normalizePath(storage, rawPath) };
  return {
    scheme: 'root',
    host: parsed.host,
    ...(parsed.port === undefined ? {} : { port: parsed.port }),
    ...normalizePath(storage, `/${rawPath.replace(/^\/+/, '')}`),
  };
}

/** `root://host:port` for xrdfs (IPv6 in brackets). */
export function xrootdEndpoint(location: Extract<StorageLocation, { scheme: 'root' }>): string {
  const host = location.host.includes(':') ? `[${location.host}]` : location.host;
  return `root://${host}${location.port === undefined ? '' : `:${location.port}`}`;
}

/**
 * Checks one configured top-level directory (`mc`, `mc/2024`) and returns its site path
 * (`/store/mc`). Throws InputError AUDIT_BAD_DIRECTORY for absolute paths, `..`, control characters.
 */
export function topLevelSitePath(location: StorageLocation, directory: string): string {
  const segments = directory.split('/').filter((segment) => segment !== '');
  const bad = (problem: string) =>
    new InputError(BAD_DIRECTORY, `Bad directory ${JSON.stringify(directory)} to audit: ${problem}.`, {
      details: { directory },
    });
  if (directory.startsWith('/')) throw bad('write it relative to the storage path (mc, not /store/mc)');
  if (segments.length === 0) throw bad('it is empty');
  if (hasControlCharacter(directory)) throw bad('it contains a control character');
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    throw bad('it may not contain "." or ".." components');
  }
  return `${location.namespace}/${segments.join('/')}`;
}

/** The storage path of a site path (`/store/mc` → `/srv/store/mc` for `file:///srv/store`). */
export function toStoragePath(location: StorageLocation, sitePath: string): string {
  if (sitePath !== location.namespace && !sitePath.startsWith(`${location.namespace}/`)) {
    throw new Error(`${sitePath} is outside the site namespace ${location.namespace}`);
  }
  return `${location.path}${sitePath.slice(location.namespace.length)}`;
}

// ---------------------------------------------------------------------------------------------
// xrdfs

/**
 * Quotes a word for xrdfs's interactive command line, which splits on spaces and knows two
 * quotes, ' and ", each literal inside the other, and no escapes: runs without `"` go in double
 * quotes, runs of `"` in single quotes (`a"b` → `"a"'"'"b"`). Control characters cannot be sent.
 */
export function quoteXrdfsArgument(text: string): string {
  if (hasControlCharacter(text)) throw new Error('a control character cannot be sent to xrdfs');
  if (text === '') return '""';
  return (text.match(/"+|[^"]+/g) ?? [])
    .map((run) => (run.startsWith('"') ? `'${run}'` : `"${run}"`))
    .join('');
}

/** What xrdfs's interactive tokenizer makes of a line (its getArguments), for tests. */
export function splitXrdfsCommandLine(line: string): { words: string[]; complete: boolean } {
  const words: string[] = [];
  let quote = '';
  let word = '';
  for (const char of line) {
    if ((char === "'" || char === '"') && (quote === '' || quote === char)) {
      quote = quote === '' ? char : '';
      continue;
    }
    if (quote !== '' || char !== ' ') word += char;
    else if (word !== '') {
      words.push(word);
      word = '';
    }
  }
  if (word !== '') words.push(word);
  return { words, complete: quote === '' };
}

export type TimeZone = 'utc' | 'local';

export type XrdfsLine =
  | { ok: true; path: string; size: number; mtime: number; directory: boolean }
  | { ok: false; problem: string };

// 5.x: `-rw-r--r-- owner group size date time path` (size right-aligned to the widest).
const LONG_LINE =
  /^([-d])[-rwxsStTl]{9} +\S+ +\S+ +(\d+) (\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) (\/.*)$/s;
// 4.x: `dr-x date time size path` (size in 12 columns).
// `s`: a name may hold U+2028/U+2029, which `.` alone does not match (lines are split on \n already).
const SHORT_LINE = /^([-d])[-r][-w][-x] (\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) +(\d+) (\/.*)$/s;
const NO_STAT = /^---- 0000-00-00 00:00:00 +\? /;

function toUnixSeconds(fields: number[], timeZone: TimeZone): number | undefined {
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = fields;
  if (year < 1000 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59)
    return undefined;
  const date =
    timeZone === 'utc'
      ? new Date(Date.UTC(year, month - 1, day, hour, minute, second))
      : new Date(year, month - 1, day, hour, minute, second);
  // Date rolls 31 February over into March: such a day does not exist.
  if ((timeZone === 'utc' ? date.getUTCDate() : date.getDate()) !== day) return undefined;
  return Math.floor(date.getTime() / 1000);
}

/** Mode characters the long format may show after the type (LONG_LINE's `[-rwxsStTl]`). */
const MODE_CHARACTER = new Uint8Array(128);
for (const c of '-rwxsStTl') MODE_CHARACTER[c.charCodeAt(0)] = 1;

/** The last day converted by dayStart: entries of one listing mostly share a few days. */
let cachedDay = -1;
let cachedDayStart: number | undefined;

/** Unix seconds at 00:00 UTC of a real day (or undefined: 31 February, a year before 1000). */
function dayStart(year: number, month: number, day: number): number | undefined {
  const key = year * 10000 + month * 100 + day;
  if (key !== cachedDay) {
    cachedDay = key;
    cachedDayStart = toUnixSeconds([year, month, day, 0, 0, 0], 'utc');
  }
  return cachedDayStart;
}

/** The value of `count` ASCII digits at `at`, or -1. */
function digitsAt(line: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const digit = line.charCodeAt(i) - 48;
    if (!(digit >= 0 && digit <= 9)) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * LONG_LINE in UTC without a regular expression (a listing has one line per entry: 200,000 lines
 * are read in a fraction of the time). Only lines it is sure of are answered; undefined leaves
 * the line to the regular expressions, which say what is wrong (owners outside printable ASCII,
 * sizes beyond 15 digits, the 4.x format, bad dates all go that way).
 */
function fastLongLine(line: string): XrdfsLine | undefined {
  const type = line.charCodeAt(0);
  if (type !== 45 && type !== 100) return undefined; // - d
  for (let i = 1; i < 10; i++) if (MODE_CHARACTER[line.charCodeAt(i)] !== 1) return undefined;
  let at = 10;
  // Owner and group: runs of printable ASCII after one or more spaces.
  for (let field = 0; field < 2; field++) {
    if (line.charCodeAt(at) !== 32) return undefined;
    while (line.charCodeAt(at) === 32) at++;
    const start = at;
    for (let c = line.charCodeAt(at); c > 32 && c < 127; c = line.charCodeAt(at)) at++;
    if (at === start) return undefined;
  }
  if (line.charCodeAt(at) !== 32) return undefined;
  while (line.charCodeAt(at) === 32) at++;
  let size = 0;
  const sizeStart = at;
  for (let digit = line.charCodeAt(at) - 48; digit >= 0 && digit <= 9; digit = line.charCodeAt(at) - 48) {
    size = size * 10 + digit;
    at++;
  }
  if (at === sizeStart || at - sizeStart > 15 || line.charCodeAt(at) !== 32) return undefined;
  // `YYYY-MM-DD hh:mm:ss /path`
  const d = at + 1;
  if (
    line.charCodeAt(d + 4) !== 45 ||
    line.charCodeAt(d + 7) !== 45 ||
    line.charCodeAt(d + 10) !== 32 ||
    line.charCodeAt(d + 13) !== 58 ||
    line.charCodeAt(d + 16) !== 58 ||
    line.charCodeAt(d + 19) !== 32 ||
    line.charCodeAt(d + 20) !== 47
  )
    return undefined;
  const year = digitsAt(line, d, 4);
  const month = digitsAt(line, d + 5, 2);
  const day = digitsAt(line, d + 8, 2);
  const hour = digitsAt(line, d + 11, 2);
  const minute = digitsAt(line, d + 14, 2);
  const second = digitsAt(line, d + 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59)
    return undefined;
  if (second < 0 || second > 59) return undefined;
  const start = dayStart(year, month, day);
  if (start === undefined) return undefined;
  return {
    ok: true,
    path: line.slice(d + 20),
    size,
    mtime: start + hour * 3600 + minute * 60 + second,
    directory: type === 100,
  };
}

/**
 * One line of `xrdfs ls -l`: type, size, modification time and absolute path. xrdfs prints times
 * with the client's zone: the lister runs it with TZ=UTC and parses with `utc` (xrdfs 5.5 prints
 * UTC whatever TZ says; forcing TZ makes both behaviours agree).
 */
export function parseXrdfsListLine(line: string, timeZone: TimeZone = 'utc'): XrdfsLine {
  if (timeZone === 'utc') {
    const fast = fastLongLine(line);
    if (fast !== undefined) return fast;
  }
  if (NO_STAT.test(line)) return { ok: false, problem: `no stat information for ${line.slice(36)}` };
  let type: string;
  let size: string;
  let time: string[];
  let path: string;
  const long = LONG_LINE.exec(line);
  const short = long ? null : SHORT_LINE.exec(line);
  if (long) {
    [, type = '', size = '', ...time] = long;
    path = time.pop() ?? '';
  } else if (short) {
    type = short[1] ?? '';
    time = short.slice(2, 8);
    size = short[8] ?? '';
    path = short[9] ?? '';
  } else {
    return { ok: false, problem: `unexpected line from xrdfs ls -l: ${JSON.stringify(line.slice(0, 200))}` };
  }
  const bytes = Number(size);
  if (!Number.isSafeInteger(bytes)) return { ok: false, problem: `size ${size} is too large` };
  const mtime = toUnixSeconds(time.map(Number), timeZone);
  if (mtime === undefined)
    return { ok: false, problem: `bad date ${time.join(' ')} in ${JSON.stringify(line)}` };
  return { ok: true, path, size: bytes, mtime, directory: type === 'd' };
}

export type DirectoryAnswer =
  { ok: true; entries: DumpEntry[] } | { ok: false; reason: string; permanent: boolean; missing?: boolean };

/** XRootD error codes that another attempt will not change (kXR_ArgInvalid … kXR_NotFound, kXR_Unsupported). */
const PERMANENT_XRD_CODES = new Set([3000, 3001, 3002, 3010, 3011, 3013]);
const NOT_FOUND = 3011;

/**
 * What one `ls -l <directory>` printed (stdout and stderr merged, the echoed command line
 * removed): the directory's children, or why it failed. Paths must be direct children of
 * `directory`; anything else (a partial result, a line that does not parse) is a failure.
 */
export function parseXrdfsListing(
  answer: string,
  directory: string,
  timeZone: TimeZone = 'utc',
): DirectoryAnswer {
  const lines = answer
    .replace(/\0/g, '')
    .split('\n')
    .map((line) => line.replace(/\r$/, ''))
    .filter((line) => line !== '');
  const problem = lines.find((line) => /^\[(ERROR|FATAL|!)\]/.test(line));
  if (problem !== undefined) {
    const code = Number(/\[(\d{4})\]/.exec(problem)?.[1] ?? 0);
    const reason = problem.replace(/^\[ERROR\] Server responded with an error: /, '');
    if (code === NOT_FOUND)
      return { ok: false, reason: `does not exist (${reason})`, permanent: true, missing: true };
    return { ok: false, reason, permanent: PERMANENT_XRD_CODES.has(code) };
  }
  const entries: DumpEntry[] = [];
  const prefix = `${directory}/`;
  for (const line of lines) {
    const parsed = parseXrdfsListLine(line, timeZone);
    if (!parsed.ok) return { ok: false, reason: parsed.problem, permanent: false };
    if (parsed.path === directory && !parsed.directory && lines.length === 1) {
      return { ok: false, reason: 'not a directory', permanent: true };
    }
    const name = parsed.path.slice(prefix.length);
    if (!parsed.path.startsWith(prefix) || name === '' || name.includes('/')) {
      return {
        ok: false,
        reason: `xrdfs listed ${JSON.stringify(parsed.path)}, which is not an entry of ${directory}`,
        permanent: false,
      };
    }
    entries.push({
      path: parsed.path,
      size: parsed.directory ? 0 : parsed.size,
      mtime: parsed.mtime,
      directory: parsed.directory,
    });
  }
  return { ok: true, entries };
}

export type SubtreeListing =
  | {
      ok: true;
      /** Every directory at or below the one listed (mapped paths) and its children; none left out. */
      listings: Map<string, DumpEntry[]>;
      entries: number;
    }
  | { ok: false; reason: string; tooLarge: boolean };

const FAILURE_MARK = /\[(ERROR|FATAL|!)\]/;

/**
 * Reads what `xrdfs ls -R -l <directory>` prints (stdout and stderr merged), as it arrives: one
 * `ls -l` line per entry below `directory`, full paths, in no particular order, grouped here by
 * parent. `ls -R` reports a failed request only as `[!] Some of the requests failed` (no path), so
 * any line that is not an entry below `directory` fails the whole listing, as does an entry whose
 * parent never appeared as a directory. Paths are handed out with the `storage` prefix replaced by
 * `site` (the site namespace). Beyond `maxEntries`, the listing fails as too large.
 */
export class XrdfsSubtreeReader {
  private readonly listings = new Map<string, DumpEntry[]>();
  /** Parents met through their entries before their own line (it must come). */
  private readonly unseen = new Set<string>();
  private readonly prefix: string;
  private readonly rename: boolean;
  /** The storage path of the last entry's parent, and its children (entries come by directory). */
  private lastParent: string;
  private lastSiblings: DumpEntry[] = [];
  private entries = 0;
  private failure: { reason: string; tooLarge: boolean } | undefined;

  constructor(
    private readonly directory: string,
    private readonly maxEntries: number,
    private readonly mapping: { storage: string; site: string } = { storage: '', site: '' },
  ) {
    this.prefix = `${directory}/`;
    this.rename = mapping.storage !== mapping.site;
    this.lastParent = directory;
    this.listings.set(this.toSite(directory), this.lastSiblings);
  }

  private toSite(storagePath: string): string {
    return this.rename
      ? `${this.mapping.site}${storagePath.slice(this.mapping.storage.length)}`
      : storagePath;
  }

  /** Whether the listing failed for holding more than `maxEntries` entries. */
  get tooLarge(): boolean {
    return this.failure?.tooLarge === true;
  }

  private fail(reason: string, tooLarge = false): void {
    this.failure ??= { reason, tooLarge };
  }

  /** Takes text made of whole lines; false once the listing has failed (what follows is ignored). */
  push(text: string): boolean {
    // Rare characters are looked for once per piece rather than once per line.
    const marked = text.includes('[');
    if (text.includes('\0')) text = text.replace(/\0/g, '');
    let start = 0;
    while (this.failure === undefined && start < text.length) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      const line = text.slice(start, text.charCodeAt(end - 1) === 13 ? end - 1 : end);
      start = end + 1;
      if (line !== '') this.line(line, marked);
    }
    return this.failure === undefined;
  }

  private line(line: string, marked: boolean): void {
    if (++this.entries > this.maxEntries) return this.fail(`more than ${this.maxEntries} entries`, true);
    // stderr's `[!]` may land inside a line of stdout when xrdfs flushes a full buffer.
    if (marked && line.includes('[') && FAILURE_MARK.test(line)) return this.fail(line);
    const parsed = parseXrdfsListLine(line, 'utc');
    if (!parsed.ok) return this.fail(line.startsWith('[') ? line : parsed.problem);
    const storagePath = parsed.path;
    const slash = storagePath.lastIndexOf('/');
    if (slash === storagePath.length - 1)
      return this.fail(`xrdfs listed ${JSON.stringify(storagePath)}, a name ending in /`);
    let siblings = this.lastSiblings;
    if (slash !== this.lastParent.length || !storagePath.startsWith(this.lastParent)) {
      if (!storagePath.startsWith(this.prefix))
        return this.fail(`xrdfs listed ${JSON.stringify(storagePath)} outside ${this.directory}`);
      this.lastParent = storagePath.slice(0, slash);
      const parent = this.toSite(this.lastParent);
      const known = this.listings.get(parent);
      if (known === undefined) {
        this.listings.set(parent, (siblings = []));
        this.unseen.add(parent);
      } else {
        siblings = known;
      }
      this.lastSiblings = siblings;
    }
    const path = this.rename ? this.toSite(storagePath) : storagePath;
    siblings.push({
      path,
      size: parsed.directory ? 0 : parsed.size,
      mtime: parsed.mtime,
      directory: parsed.directory,
    });
    if (parsed.directory) {
      if (this.listings.has(path)) this.unseen.delete(path);
      else this.listings.set(path, []);
    }
  }

  /** The listing, once xrdfs has printed all of it. */
  finish(): SubtreeListing {
    // Entries of a directory never listed itself mean the output is not what it seems.
    for (const parent of this.unseen) this.fail(`xrdfs listed entries of ${parent} alone`);
    if (this.failure !== undefined) return { ok: false, ...this.failure };
    return { ok: true, listings: this.listings, entries: this.entries };
  }
}

/** What `stat <path>` printed: whether it is a directory, or why it failed. */
export function parseXrdfsStat(
  answer: string,
): { ok: true; directory: boolean } | { ok: false; reason: string; missing: boolean } {
  const lines = answer.replace(/\0/g, '').split('\n');
  const problem = lines.find((line) => /^\[(ERROR|FATAL|!)\]/.test(line));
  if (problem !== undefined) {
    return {
      ok: false,
      reason: problem.replace(/^\[ERROR\] Server responded with an error: /, ''),
      missing: /\[3011\]/.test(problem),
    };
  }
  const flags = lines.find((line) => line.startsWith('Flags:'));
  if (flags === undefined) return { ok: false, reason: 'xrdfs stat printed no Flags line', missing: false };
  return { ok: true, directory: /\bIsDir\b/.test(flags) };
}

// ---------------------------------------------------------------------------------------------
// find

/**
 * Output of `find -H DIR -mindepth 1 -maxdepth 1 -printf '%y %s %T@ %P\0'` as entries under the
 * site directory `directory`. Only regular files and directories are kept: symlinks (never
 * followed), sockets, pipes and devices are not data. A record that does not parse fails the
 * whole directory.
 */
export function parseFindRecords(
  output: string,
  directory: string,
): { ok: true; entries: DumpEntry[] } | { ok: false; reason: string } {
  const entries: DumpEntry[] = [];
  if (output === '') return { ok: true, entries };
  if (!output.endsWith('\0')) return { ok: false, reason: 'find output was cut short' };
  for (const record of output.slice(0, -1).split('\0')) {
    const match = /^([a-zA-Z]) (\d+) (-?\d+(?:\.\d+)?) ([^/]+)$/s.exec(record);
    if (!match)
      return { ok: false, reason: `unexpected find record ${JSON.stringify(record.slice(0, 200))}` };
    const [, type, size = '', time = '', name = ''] = match;
    if (type !== 'f' && type !== 'd') continue;
    const bytes = Number(size);
    if (!Number.isSafeInteger(bytes)) return { ok: false, reason: `size ${size} is too large` };
    entries.push({
      path: `${directory}/${name}`,
      size: type === 'd' ? 0 : bytes,
      mtime: Math.floor(Number(time)),
      directory: type === 'd',
    });
  }
  return { ok: true, entries };
}
