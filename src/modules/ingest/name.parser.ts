import { DateTime, IANAZone } from 'luxon';
import { InputError } from '../../core/errors.js';
import type { DropName, HistogramExt, LocalTime, ParsedName, ProcessedName } from './ingest.types.js';

/**
 * File names of the OVERWATCH pipeline. Pure functions: every input gives a result or an
 * InputError (code INGEST_BAD_NAME / INGEST_BAD_TIMEZONE) whose message names the problem.
 *
 *   drop directory   <SYS>histos_<run>_<mode>_<Y>_<M>_<D>_<h>_<m>_<s>.<root|json>   (also <SYS>hists_…)
 *   organized        <SYS>hists.<Y>_<M>_<D>_<h>_<m>_<s>.<root|json>
 *   combined         hists.combined.<n>.<unix time>.root
 *   time slice       timeSlice.<start>.<end>.<hash>.root
 *
 * Times in drop and organized names are local wall-clock time of the configured zone.
 */

const DROP_RE = /^([A-Za-z0-9]+?)(histos|hists)_(.*)\.([^._]+)$/;
/** The common, well-formed case in one match; anything else goes the diagnostic way. */
const DROP_FAST_RE =
  /^([A-Za-z0-9]+?)(?:histos|hists)_(\d{1,15})_([A-Za-z0-9]+)_(\d{4})_(\d{1,2})_(\d{1,2})_(\d{1,2})_(\d{1,2})_(\d{1,2})\.(root|json)$/;
const PROCESSED_RE =
  /^([A-Za-z0-9]+)hists\.(\d{4})_(\d{1,2})_(\d{1,2})_(\d{1,2})_(\d{1,2})_(\d{1,2})\.(root|json)$/;
const COMBINED_RE = /^hists\.combined\.(\d{1,15})\.(\d{1,15})\.root$/;
const TIME_SLICE_RE = /^timeSlice\.(\d{1,15})\.(\d{1,15})\.(-?[A-Za-z0-9]+)\.root$/;
const EXPECTED =
  'expected <SYS>histos_<run>_<mode>_<Y>_<M>_<D>_<h>_<m>_<s>.root|json, <SYS>hists.<Y>_<M>_<D>_<h>_<m>_<s>.root|json, ' +
  'hists.combined.<n>.<unix time>.root or timeSlice.<start>.<end>.<hash>.root';
const FIELD_NAMES = ['run', 'mode', 'year', 'month', 'day', 'hour', 'minute', 'second'] as const;

function badName(name: string, problem: string): InputError {
  return new InputError('INGEST_BAD_NAME', `cannot parse file name "${printable(name)}": ${problem}`, {
    details: { name },
  });
}

/** Keeps messages one line and readable whatever bytes a name holds. */
function printable(name: string): string {
  const cleaned = name.replace(/[\u0000-\u001f\u007f]/g, '?'); // eslint-disable-line no-control-regex
  return cleaned.length > 200 ? `${cleaned.slice(0, 200)}…` : cleaned;
}

export function assertTimezone(zone: string): void {
  if (!IANAZone.isValidZone(zone)) {
    throw new InputError(
      'INGEST_BAD_TIMEZONE',
      `unknown time zone "${printable(zone)}": use an IANA name such as Europe/Zurich or UTC`,
    );
  }
}

function pad2(value: number): string {
  return value < 10 ? `0${value}` : String(value);
}

function pad4(value: number): string {
  return String(value).padStart(4, '0');
}

/** `Y_M_D_h_m_s` zero-padded, as organized names carry it. */
export function formatLocalTime(local: LocalTime): string {
  return `${pad4(local.year)}_${pad2(local.month)}_${pad2(local.day)}_${pad2(local.hour)}_${pad2(local.minute)}_${pad2(local.second)}`;
}

/** The organized name of a file: `<SYS>hists.<Y>_<M>_<D>_<h>_<m>_<s>.<ext>` with padded fields. */
export function processedFileName(subsystem: string, local: LocalTime, ext: HistogramExt): string {
  return `${subsystem}hists.${formatLocalTime(local)}.${ext}`;
}

/** The drop-directory name of a DQM upload: `<agent>histos_<run>_DQM_<local time>.root`. */
export function uploadFileName(agent: string, run: number, timestamp: number, zone: string): string {
  assertTimezone(zone);
  return `${agent}histos_${run}_DQM_${formatLocalTime(localTimeOf(timestamp, zone))}.root`;
}

/** Local wall-clock fields of a unix time (seconds) in a zone. */
export function localTimeOf(timestamp: number, zone: string): LocalTime {
  const dt = DateTime.fromSeconds(timestamp, { zone });
  if (!dt.isValid) throw new InputError('INGEST_BAD_TIMESTAMP', `timestamp ${timestamp} is out of range`);
  return { year: dt.year, month: dt.month, day: dt.day, hour: dt.hour, minute: dt.minute, second: dt.second };
}

// ---- local time → UTC --------------------------------------------------------------------------

/*
 * luxon costs ~20 µs per conversion, which dominated a 10,000-file pass. Within one local hour
 * the UTC offset is constant unless a transition falls inside it, so the offset is cached per
 * (zone, local hour) when luxon agrees on both ends of the hour; hours with a transition (and
 * odd years) take the exact luxon path for every name.
 */
const hourOffsets = new Map<string, Map<number, number | null>>();
const HOUR_CACHE_LIMIT = 50_000;

function luxonLocal(local: LocalTime, zone: string): DateTime {
  return DateTime.fromObject({ ...local, millisecond: 0 }, { zone });
}

function sameWallClock(dt: DateTime, local: LocalTime): boolean {
  return (
    dt.year === local.year &&
    dt.month === local.month &&
    dt.day === local.day &&
    dt.hour === local.hour &&
    dt.minute === local.minute &&
    dt.second === local.second
  );
}

function hourOffset(local: LocalTime, zone: string): number | null {
  let byHour = hourOffsets.get(zone);
  if (!byHour) {
    byHour = new Map();
    hourOffsets.set(zone, byHour);
  }
  // a number key: no string is built per name (years < 10000 here)
  const key = ((local.year * 100 + local.month) * 100 + local.day) * 100 + local.hour;
  const cached = byHour.get(key);
  if (cached !== undefined) return cached;
  const start = { ...local, minute: 0, second: 0 };
  const end = { ...local, minute: 59, second: 59 };
  const a = luxonLocal(start, zone);
  const b = luxonLocal(end, zone);
  const offset =
    a.isValid && b.isValid && sameWallClock(a, start) && sameWallClock(b, end) && a.offset === b.offset
      ? a.offset
      : null;
  if (byHour.size >= HOUR_CACHE_LIMIT) byHour.clear();
  byHour.set(key, offset);
  return offset;
}

function rangeProblem(local: LocalTime): string | undefined {
  if (local.month < 1 || local.month > 12) return `month ${local.month} is not 1-12`;
  if (local.day < 1 || local.day > 31) return `day ${local.day} is not 1-31`;
  if (local.hour > 23) return `hour ${local.hour} is not 0-23`;
  if (local.minute > 59) return `minute ${local.minute} is not 0-59`;
  if (local.second > 59) return `second ${local.second} is not 0-59`;
  return undefined;
}

function isoLike(local: LocalTime): string {
  return `${pad4(local.year)}-${pad2(local.month)}-${pad2(local.day)} ${pad2(local.hour)}:${pad2(local.minute)}:${pad2(local.second)}`;
}

/**
 * Unix seconds of a local wall-clock time in `zone`. Throws InputError for impossible dates and
 * for times skipped by a daylight-saving jump; an ambiguous time (clocks turned back) takes
 * luxon's choice, the later (standard-time) instant.
 */
export function localToUnix(local: LocalTime, zone: string, name = isoLike(local)): number {
  const range = rangeProblem(local);
  if (range) throw badName(name, `bad date: ${range}`);
  if (local.year >= 1000) {
    const offset = hourOffset(local, zone);
    if (offset !== null) {
      const utc = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second);
      return utc / 1000 - offset * 60;
    }
  }
  const dt = luxonLocal(local, zone);
  if (!dt.isValid) {
    if (dt.invalidReason === 'unsupported zone') {
      throw new InputError(
        'INGEST_BAD_TIMEZONE',
        `unknown time zone "${printable(zone)}": use an IANA name such as Europe/Zurich or UTC`,
      );
    }
    throw badName(
      name,
      `bad date: ${isoLike(local)} does not exist (${dt.invalidExplanation ?? dt.invalidReason ?? 'invalid'})`,
    );
  }
  if (!sameWallClock(dt, local)) {
    throw badName(
      name,
      `bad date: ${isoLike(local)} does not exist in ${zone} (clocks were turned forward over it)`,
    );
  }
  return dt.toSeconds();
}

// ---- the four kinds ---------------------------------------------------------------------------

function parseExt(name: string, ext: string): HistogramExt {
  if (ext === 'root' || ext === 'json') return ext;
  throw badName(name, `extension ".${printable(ext)}" is not .root or .json`);
}

function numberField(name: string, field: string, raw: string, maxDigits: number): number {
  if (!/^\d+$/.test(raw)) throw badName(name, `${field} "${printable(raw)}" is not a number`);
  if (raw.length > maxDigits) throw badName(name, `${field} "${printable(raw)}" has too many digits`);
  return Number(raw);
}

/** A drop-directory name (`<SYS>histos_…`), or InputError saying what is wrong with it. */
export function parseDropName(name: string, zone: string): DropName {
  const fast = DROP_FAST_RE.exec(name);
  if (fast) {
    const [, subsystem = '', run, mode = '', y, mo, d, h, mi, s, ext] = fast;
    const local: LocalTime = {
      year: Number(y),
      month: Number(mo),
      day: Number(d),
      hour: Number(h),
      minute: Number(mi),
      second: Number(s),
    };
    const timestamp = localToUnix(local, zone, name);
    return { subsystem, run: Number(run), mode, timestamp, local, ext: ext === 'json' ? 'json' : 'root' };
  }
  const match = DROP_RE.exec(name);
  if (!match) {
    if (/^[A-Za-z0-9]*hist/.test(name)) {
      throw badName(name, `expected <SYS>histos_<run>_<mode>_<Y>_<M>_<D>_<h>_<m>_<s>.root|json`);
    }
    throw badName(name, EXPECTED);
  }
  const [, subsystem = '', prefix = '', rest = '', rawExt = ''] = match;
  const ext = parseExt(name, rawExt);
  const fields = rest.split('_');
  if (fields.length !== FIELD_NAMES.length) {
    throw badName(
      name,
      `expected ${FIELD_NAMES.length} fields after "${subsystem}${prefix}_" (${FIELD_NAMES.join(', ')}), found ${fields.length}`,
    );
  }
  const [rawRun = '', mode = '', y = '', mo = '', d = '', h = '', mi = '', s = ''] = fields;
  const run = numberField(name, 'run', rawRun, 15);
  if (!/^[A-Za-z0-9]+$/.test(mode))
    throw badName(name, `mode "${printable(mode)}" must be letters or digits`);
  if (!/^\d{4}$/.test(y)) throw badName(name, `year "${printable(y)}" is not four digits`);
  const local: LocalTime = {
    year: Number(y),
    month: numberField(name, 'month', mo, 2),
    day: numberField(name, 'day', d, 2),
    hour: numberField(name, 'hour', h, 2),
    minute: numberField(name, 'minute', mi, 2),
    second: numberField(name, 'second', s, 2),
  };
  return { subsystem, run, mode, timestamp: localToUnix(local, zone, name), local, ext };
}

/** An organized name (`<SYS>hists.<Y>_…_<s>.<ext>`), or InputError. */
export function parseProcessedName(name: string, zone: string): ProcessedName {
  const match = PROCESSED_RE.exec(name);
  if (!match) throw badName(name, 'expected <SYS>hists.<Y>_<M>_<D>_<h>_<m>_<s>.root|json');
  const [, subsystem = '', y, mo, d, h, mi, s, ext] = match;
  const local: LocalTime = {
    year: Number(y),
    month: Number(mo),
    day: Number(d),
    hour: Number(h),
    minute: Number(mi),
    second: Number(s),
  };
  return {
    subsystem,
    timestamp: localToUnix(local, zone, name),
    local,
    ext: ext === 'json' ? 'json' : 'root',
  };
}

/** Explains any of the four kinds of names (what `ingest parse-name` prints). */
export function parseName(name: string, zone: string): ParsedName {
  assertTimezone(zone);
  if (name.includes('/') || name.includes('\\')) throw badName(name, 'a file name, not a path, is expected');
  const combined = COMBINED_RE.exec(name);
  if (combined) return { kind: 'combined', timestamp: Number(combined[2]) };
  const slice = TIME_SLICE_RE.exec(name);
  if (slice) {
    const start = Number(slice[1]);
    const end = Number(slice[2]);
    if (end < start) throw badName(name, `time slice ends (${end}) before it starts (${start})`);
    return { kind: 'timeSlice', start, end, duration: end - start };
  }
  if (name.startsWith('timeSlice.')) throw badName(name, 'expected timeSlice.<start>.<end>.<hash>.root');
  if (name.startsWith('hists.')) throw badName(name, 'expected hists.combined.<n>.<unix time>.root');
  if (/^[A-Za-z0-9]+hists\./.test(name)) {
    const processed = parseProcessedName(name, zone);
    return { kind: 'processed', subsystem: processed.subsystem, timestamp: processed.timestamp };
  }
  const drop = parseDropName(name, zone);
  return {
    kind: 'unprocessed',
    subsystem: drop.subsystem,
    run: drop.run,
    mode: drop.mode,
    timestamp: drop.timestamp,
  };
}
