/**
 * Pure parsing for transfer sources: the stream's `source` string (a local path or
 * `ssh://[user@]host[:port]/path`), the listing of a source's first two levels (turned into a
 * Discovery), and the text `find` and `rsync --itemize-changes` print about a source.
 *
 * Anything that later reaches an ssh command line is checked here: a host or user starting with
 * `-` would be read by ssh as an option, and control characters (NUL, newline) could end a
 * remote command early, so both are refused with InputError TRANSFER_BAD_SOURCE.
 */
import { InputError } from '../../core/errors.js';
import type { Discovery, ExposureRef, SkippedEntry } from './transfer.types.js';

export type SourceLocation =
  | {
      kind: 'ssh';
      user?: string;
      /** A host name, or an IPv6 address without brackets (`::1`). */
      host: string;
      port?: number;
      /** Absolute path on the remote host, percent-decoded. */
      path: string;
    }
  | { kind: 'local'; path: string };

export const BAD_SOURCE = 'TRANSFER_BAD_SOURCE';

const SSH_FORM = 'ssh://[user@]host[:port]/absolute/path';

/** The source as it may be shown: a password written into an ssh URL never reaches a message. */
function redact(source: string): string {
  return source.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/@]*?):[^/@]*@/, '$1:***@');
}

function refuse(source: string, problem: string): InputError {
  const shown = redact(source);
  return new InputError(BAD_SOURCE, `Bad transfer source ${JSON.stringify(shown)}: ${problem}.`, {
    details: { source: shown },
  });
}

export function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

const EIGHT_DIGITS = /^\d{8}$/;

/** Nights and exposures are exactly 8 ASCII digits. */
export function isEightDigits(name: string): boolean {
  return EIGHT_DIGITS.test(name);
}

function decode(source: string, raw: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw refuse(source, `the ${what} has an invalid percent-encoding (write %25 for a literal %)`);
  }
}

const HOST_NAME = /^[A-Za-z0-9._-]+$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

function parseSsh(source: string, rest: string): SourceLocation {
  if (rest.includes('?') || rest.includes('#')) {
    throw refuse(source, 'a URL query or fragment is not allowed (percent-encode ? as %3F and # as %23)');
  }
  const slash = rest.indexOf('/');
  if (slash < 0) throw refuse(source, `the path is missing: write ${SSH_FORM}`);
  const authority = rest.slice(0, slash);
  const rawPath = rest.slice(slash);

  const at = authority.lastIndexOf('@');
  let user: string | undefined;
  if (at >= 0) {
    const rawUser = authority.slice(0, at);
    if (rawUser === '') throw refuse(source, 'the user before @ is empty');
    if (rawUser.includes(':')) {
      throw refuse(source, 'a password in the URL is not supported: use an ssh key (sshIdentity)');
    }
    user = decode(source, rawUser, 'user');
    if (hasControlCharacter(user)) throw refuse(source, 'the user contains a control character');
    if (user.startsWith('-')) throw refuse(source, 'the user may not start with "-"');
  }

  const hostPort = authority.slice(at + 1);
  let host: string;
  let portText: string | undefined;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0) throw refuse(source, 'the IPv6 address lacks its closing "]"');
    host = hostPort.slice(1, close);
    if (!IPV6.test(host) || !host.includes(':')) {
      throw refuse(source, `"${host}" is not an IPv6 address`);
    }
    const after = hostPort.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) throw refuse(source, 'only ":port" may follow the IPv6 address');
      portText = after.slice(1);
    }
  } else {
    const colon = hostPort.indexOf(':');
    host = colon < 0 ? hostPort : hostPort.slice(0, colon);
    portText = colon < 0 ? undefined : hostPort.slice(colon + 1);
    if (host === '') throw refuse(source, `the host is empty: write ${SSH_FORM}`);
    if (host.startsWith('-')) throw refuse(source, 'the host may not start with "-"');
    if (!HOST_NAME.test(host)) {
      throw refuse(source, 'the host may only hold letters, digits, ".", "_" and "-" (or be [IPv6])');
    }
  }

  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw refuse(source, `the port "${portText}" is not a number from 1 to 65535`);
    }
    port = Number(portText);
  }

  const path = decode(source, rawPath, 'path');
  if (hasControlCharacter(path)) throw refuse(source, 'the path contains a control character');
  if (/^\/*$/.test(path)) throw refuse(source, `the path is empty: write ${SSH_FORM}`);

  return {
    kind: 'ssh',
    ...(user === undefined ? {} : { user }),
    host,
    ...(port === undefined ? {} : { port }),
    path,
  };
}

/** Parses a stream's `source`; throws InputError TRANSFER_BAD_SOURCE with what to write instead. */
export function parseSource(source: string): SourceLocation {
  if (source === '') throw refuse(source, 'it is empty');
  if (hasControlCharacter(source)) throw refuse(source, 'it contains a control character');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(source);
  if (scheme) {
    const name = (scheme[1] ?? '').toLowerCase();
    if (name !== 'ssh') {
      throw refuse(source, `the scheme "${name}" is not supported: use a local path or ${SSH_FORM}`);
    }
    return parseSsh(source, source.slice(scheme[0].length));
  }
  // rsync itself reads `host:path` as remote; say so rather than copy from the wrong place.
  if (/^[^/]*:/.test(source)) {
    throw refuse(source, `it looks like scp syntax: write ${SSH_FORM}, or ./${source} for a local path`);
  }
  return { kind: 'local', path: source };
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** The canonical text of a location; `parseSource(formatSource(x))` gives `x` back. */
export function formatSource(location: SourceLocation): string {
  if (location.kind === 'local') return location.path;
  const user = location.user === undefined ? '' : `${encodeURIComponent(location.user)}@`;
  const host = location.host.includes(':') ? `[${location.host}]` : location.host;
  const port = location.port === undefined ? '' : `:${location.port}`;
  return `ssh://${user}${host}${port}${encodePath(location.path)}`;
}

/** One entry of a source's first two levels: `NIGHT` or `NIGHT/EXPOSURE` (any names). */
export interface ListingEntry {
  path: string;
  /** A directory, or a symlink to one. */
  directory: boolean;
}

export const SKIP_REASONS = {
  night: 'not an 8-digit night',
  exposure: 'not an 8-digit exposure',
  notDirectory: 'not a directory',
} as const;

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The Discovery of a listing: `NIGHT/EXPOSURE` directories with 8-digit names, sorted; every
 * other entry at either level skipped with its reason. Children of a skipped night are not
 * reported again (the night already is). With `nights`, entries of other nights are ignored.
 */
export function parseDiscovery(
  entries: Iterable<ListingEntry>,
  options: { nights?: readonly string[]; extraSkipped?: readonly SkippedEntry[] } = {},
): Discovery {
  const wanted = options.nights ? new Set(options.nights) : undefined;
  const nights = new Set<string>();
  const second: ListingEntry[] = [];
  const skipped = new Map<string, string>();
  // A path listed twice counts once, with its last type.
  const unique = new Map<string, ListingEntry>();
  for (const entry of entries) unique.set(entry.path, entry);
  for (const entry of unique.values()) {
    const segments = entry.path.split('/');
    const night = segments[0] ?? '';
    if (entry.path === '' || segments.length > 2 || night === '') continue;
    if (wanted && !wanted.has(night)) continue;
    if (segments.length === 2) {
      second.push(entry);
      continue;
    }
    if (!isEightDigits(night)) skipped.set(entry.path, SKIP_REASONS.night);
    else if (!entry.directory) skipped.set(entry.path, SKIP_REASONS.notDirectory);
    else nights.add(night);
  }
  const exposures = new Map<string, ExposureRef>();
  for (const entry of second) {
    const [night = '', exposure = ''] = entry.path.split('/');
    if (!nights.has(night) || exposure === '') continue;
    if (!isEightDigits(exposure)) skipped.set(entry.path, SKIP_REASONS.exposure);
    else if (!entry.directory) skipped.set(entry.path, SKIP_REASONS.notDirectory);
    else exposures.set(entry.path, { night, exposure });
  }
  for (const extra of options.extraSkipped ?? []) {
    if (!skipped.has(extra.path)) skipped.set(extra.path, extra.reason);
  }
  return {
    exposures: [...exposures.entries()].sort(([a], [b]) => compareText(a, b)).map(([, ref]) => ref),
    skipped: [...skipped.entries()]
      .sort(([a], [b]) => compareText(a, b))
      .map(([path, reason]) => ({ path, reason })),
  };
}

/**
 * Parses the output of `find -L <start>... -printf '%y %p\0'` run with `.`-relative start points
 * (`./NIGHT`, `./NIGHT/EXPOSURE`). `%y` is `d` for a directory (or a symlink to one, with -L).
 */
export function parseFindListing(output: string): ListingEntry[] {
  const entries: ListingEntry[] = [];
  for (const record of output.split('\0')) {
    const match = /^([a-zA-Z]) (.*)$/s.exec(record);
    if (!match) continue;
    const path = (match[2] ?? '').replace(/^(\.\/)+/, '');
    if (path === '' || path === '.') continue;
    entries.push({ path, directory: match[1] === 'd' });
  }
  return entries;
}

/** find's complaints (`find: './x': Permission denied`) as skipped entries, so a partial listing says what is missing. */
export function parseFindErrors(stderr: string): SkippedEntry[] {
  const out: SkippedEntry[] = [];
  for (const line of stderr.split('\n')) {
    const text = line.replace(/\r$/, '').trim();
    if (text === '') continue;
    const match = /^find: (['"])(.*)\1: (.+)$/.exec(text);
    const path = match ? (match[2] ?? '').replace(/^(\.\/)+/, '') : '';
    out.push({
      path: path === '' ? '.' : path,
      reason: `could not be listed: ${match ? match[3] : text}`,
    });
  }
  return out;
}

/** rsync writes a byte it will not print as `\#ooo` (octal); a literal `\#ddd` in a name becomes `\#134#ddd`. */
function decodeRsyncName(name: string): string {
  if (!name.includes('\\#')) return name;
  const bytes: number[] = [];
  const raw = Buffer.from(name, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const octal =
      raw[i] === 0x5c && raw[i + 1] === 0x23 ? /^[0-7]{3}/.exec(raw.toString('latin1', i + 2, i + 5)) : null;
    if (octal) {
      bytes.push(parseInt(octal[0], 8) & 0xff);
      i += 4;
    } else bytes.push(raw[i] ?? 0);
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * The paths rsync copies (or would copy, in a dry run) according to output written with
 * `--out-format='%i %n'`: files, symlinks and devices that are new or differ, not directories,
 * and not items whose attributes alone change (`.f...p.....`: a read-only published copy is not
 * a change). Sorted, relative to the transfer's root.
 */
export function parseItemizedChanges(output: string): string[] {
  const changed = new Set<string>();
  for (const rawLine of output.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    if (line.length < 13 || line[11] !== ' ') continue;
    const update = line[0] ?? '';
    const type = line[1] ?? '';
    if (!'<>ch'.includes(update) || !'fLDS'.includes(type)) continue;
    changed.add(decodeRsyncName(line.slice(12)));
  }
  return [...changed].sort(compareText);
}
