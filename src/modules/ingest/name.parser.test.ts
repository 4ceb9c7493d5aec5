import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DateTime } from 'luxon';
import { InputError, isCustodianError } from '../../core/errors.js';
import {
  formatLocalTime,
  localTimeOf,
  parseDropName,
  parseName,
  parseProcessedName,
  processedFileName,
  uploadFileName,
} from './name.parser.js';
import type { LocalTime } from './ingest.types.js';

const ZURICH = 'Europe/Zurich';

function utc(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  return Date.UTC(y, mo - 1, d, h, mi, s) / 1000;
}

function assertBadName(fn: () => unknown, pattern: RegExp, code = 'INGEST_BAD_NAME'): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof InputError, `expected InputError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('parseName: the four kinds', () => {
  it('explains the issue example in Europe/Zurich', () => {
    assert.deepEqual(parseName('EMChistos_300005_C_2015_11_24_18_05_10.root', ZURICH), {
      kind: 'unprocessed',
      subsystem: 'EMC',
      run: 300005,
      mode: 'C',
      timestamp: 1448384710,
    });
  });

  it('accepts the hists_ spelling, json files and unpadded fields', () => {
    assert.deepEqual(parseName('HLThists_294832_B_2018_10_22_9_53_55.json', ZURICH), {
      kind: 'unprocessed',
      subsystem: 'HLT',
      run: 294832,
      mode: 'B',
      timestamp: utc(2018, 10, 22, 7, 53, 55), // CEST, UTC+2
    });
    const drop = parseDropName('TPChistos_1_E_2018_1_2_3_4_5.root', ZURICH);
    assert.deepEqual(drop.local, { year: 2018, month: 1, day: 2, hour: 3, minute: 4, second: 5 });
    assert.equal(drop.timestamp, utc(2018, 1, 2, 2, 4, 5)); // CET, UTC+1
    assert.equal(drop.ext, 'root');
  });

  it('explains organized, combined and time-slice names', () => {
    assert.deepEqual(parseName('EMChists.2015_11_24_18_05_10.root', ZURICH), {
      kind: 'processed',
      subsystem: 'EMC',
      timestamp: 1448384710,
    });
    assert.deepEqual(parseName('hists.combined.1.1448388552.root', ZURICH), {
      kind: 'combined',
      timestamp: 1448388552,
    });
    assert.deepEqual(parseName('timeSlice.1448384710.1448388552.a1b2c3.root', ZURICH), {
      kind: 'timeSlice',
      start: 1448384710,
      end: 1448388552,
      duration: 3842,
    });
    // OVERWATCH hashed options with Python's hash(), which may be negative.
    assert.equal(parseName('timeSlice.10.70.-8123.root', ZURICH).kind, 'timeSlice');
  });

  it('uses the zone it is given', () => {
    const name = 'EMChistos_300005_C_2015_11_24_18_05_10.root';
    assert.equal((parseName(name, 'UTC') as { timestamp: number }).timestamp, utc(2015, 11, 24, 18, 5, 10));
    assert.equal(
      (parseName(name, 'America/New_York') as { timestamp: number }).timestamp,
      utc(2015, 11, 24, 23, 5, 10),
    );
  });
});

describe('parseName: what is wrong with a name', () => {
  it('names the problem', () => {
    assertBadName(
      () => parseName('EMChistos_300005_C_2015_11_24_18_05.root', ZURICH),
      /expected 8 fields .* found 7/,
    );
    assertBadName(
      () => parseName('EMChistos_30x005_C_2015_11_24_18_05_10.root', ZURICH),
      /run "30x005" is not a number/,
    );
    assertBadName(
      () => parseName('EMChistos_300005_C_2015_13_24_18_05_10.root', ZURICH),
      /month 13 is not 1-12/,
    );
    assertBadName(
      () => parseName('EMChistos_300005_C_2015_02_30_18_05_10.root', ZURICH),
      /bad date: 2015-02-30 .*does not exist/,
    );
    assertBadName(() => parseName('EMChistos_300005_C_2015_11_24_24_05_10.root', ZURICH), /hour 24/);
    assertBadName(() => parseName('EMChistos_300005_C_2015_11_24_18_05_10.txt', ZURICH), /extension "\.txt"/);
    assertBadName(
      () => parseName('EMChistos_300005_C_15_11_24_18_05_10.root', ZURICH),
      /year "15" is not four digits/,
    );
    assertBadName(() => parseName('EMChists.2015_11_24_18_05.root', ZURICH), /expected <SYS>hists\./);
    assertBadName(() => parseName('hists.combined.x.1448388552.root', ZURICH), /hists\.combined/);
    assertBadName(() => parseName('timeSlice.20.10.abc.root', ZURICH), /ends \(10\) before it starts \(20\)/);
    assertBadName(() => parseName('', ZURICH), /expected/);
    assertBadName(() => parseName('../../etc/passwd', ZURICH), /not a path/);
    assertBadName(() => parseName('notes.txt', ZURICH), /expected <SYS>histos_/);
  });

  it('rejects local times skipped by the daylight-saving jump, like invalid dates', () => {
    // 2015-03-29 02:00 → 03:00 in Zurich
    assertBadName(
      () => parseName('EMChistos_1_C_2015_03_29_02_30_00.root', ZURICH),
      /2015-03-29 02:30:00 does not exist in Europe\/Zurich/,
    );
    assert.equal(
      parseDropName('EMChistos_1_C_2015_03_29_01_59_59.root', ZURICH).timestamp,
      utc(2015, 3, 29, 0, 59, 59),
    );
    assert.equal(
      parseDropName('EMChistos_1_C_2015_03_29_03_00_00.root', ZURICH).timestamp,
      utc(2015, 3, 29, 1, 0, 0),
    );
  });

  it('takes the later instant for a repeated (autumn) local time', () => {
    assert.equal(
      parseDropName('EMChistos_1_C_2015_10_25_02_30_00.root', ZURICH).timestamp,
      utc(2015, 10, 25, 1, 30, 0),
    );
  });

  it('rejects an unknown time zone with its own code', () => {
    assertBadName(
      () => parseName('EMChistos_1_C_2015_10_25_02_30_00.root', 'Mars/Olympus'),
      /unknown time zone/,
      'INGEST_BAD_TIMEZONE',
    );
  });
});

describe('organized and upload names', () => {
  it('pads every date field', () => {
    const local = { year: 2018, month: 1, day: 2, hour: 3, minute: 4, second: 5 };
    assert.equal(processedFileName('EMC', local, 'root'), 'EMChists.2018_01_02_03_04_05.root');
    assert.equal(formatLocalTime(local), '2018_01_02_03_04_05');
  });

  it('names uploads in local time with mode DQM', () => {
    assert.equal(
      uploadFileName('EMC', 300005, 1448384710, ZURICH),
      'EMChistos_300005_DQM_2015_11_24_18_05_10.root',
    );
    assert.deepEqual(parseName(uploadFileName('TPC', 7, 1448384710, ZURICH), ZURICH), {
      kind: 'unprocessed',
      subsystem: 'TPC',
      run: 7,
      mode: 'DQM',
      timestamp: 1448384710,
    });
  });
});

// ---- properties -----------------------------------------------------------------------------

const ZONES = ['Europe/Zurich', 'UTC', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata'];

/** Only InputError may come out, whatever the input. */
function onlyInputErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    if (isCustodianError(error) && error.kind === 'InputError') return;
    throw error;
  }
}

const localTimeArb = fc.record({
  year: fc.integer({ min: 1971, max: 2037 }),
  month: fc.integer({ min: 1, max: 12 }),
  day: fc.integer({ min: 1, max: 28 }),
  hour: fc.integer({ min: 0, max: 23 }),
  minute: fc.integer({ min: 0, max: 59 }),
  second: fc.integer({ min: 0, max: 59 }),
});

const validNameArb = fc.record({
  subsystem: fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,5}$/),
  prefix: fc.constantFrom('histos', 'hists'),
  run: fc.integer({ min: 0, max: 99_999_999 }),
  mode: fc.stringMatching(/^[A-Za-z0-9]{1,4}$/),
  local: localTimeArb,
  padded: fc.boolean(),
  ext: fc.constantFrom('root' as const, 'json' as const),
  zone: fc.constantFrom(...ZONES),
});

function dropName(v: {
  subsystem: string;
  prefix: string;
  run: number;
  mode: string;
  local: LocalTime;
  padded: boolean;
  ext: string;
}): string {
  const fields = v.padded
    ? formatLocalTime(v.local)
    : [v.local.year, v.local.month, v.local.day, v.local.hour, v.local.minute, v.local.second].join('_');
  return `${v.subsystem}${v.prefix}_${v.run}_${v.mode}_${fields}.${v.ext}`;
}

function existsInZone(local: LocalTime, zone: string): boolean {
  const dt = DateTime.fromObject(local, { zone });
  return dt.isValid && dt.hour === local.hour && dt.minute === local.minute && dt.day === local.day;
}

describe('name parser properties', () => {
  it('gives a result or an InputError for arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 120 }), fc.constantFrom(...ZONES), (name, zone) => {
        onlyInputErrors(() => parseName(name, zone));
        onlyInputErrors(() => parseDropName(name, zone));
        onlyInputErrors(() => parseProcessedName(name, zone));
      }),
      { numRuns: 2000 },
    );
  });

  it('gives a result or an InputError for mutated valid names', () => {
    const mutation = fc.record({
      at: fc.nat(),
      op: fc.constantFrom('delete', 'insert', 'replace', 'duplicate', 'truncate'),
      char: fc.constantFrom('_', '.', '0', '9', 'a', '-', ' ', '/', '\u0000', 'é', '99', '_1'),
    });
    fc.assert(
      fc.property(validNameArb, fc.array(mutation, { minLength: 1, maxLength: 4 }), (v, mutations) => {
        let name = dropName(v);
        for (const m of mutations) {
          const i = name.length === 0 ? 0 : m.at % name.length;
          if (m.op === 'delete') name = name.slice(0, i) + name.slice(i + 1);
          else if (m.op === 'insert') name = name.slice(0, i) + m.char + name.slice(i);
          else if (m.op === 'replace') name = name.slice(0, i) + m.char + name.slice(i + 1);
          else if (m.op === 'duplicate') name = name.slice(0, i) + name.slice(i);
          else name = name.slice(0, i);
        }
        onlyInputErrors(() => parseName(name, v.zone));
      }),
      { numRuns: 3000 },
    );
  });

  it('round-trips valid generated names (drop name → organized name → same time)', () => {
    fc.assert(
      fc.property(validNameArb, (v) => {
        const name = dropName(v);
        if (!existsInZone(v.local, v.zone)) {
          assert.throws(() => parseDropName(name, v.zone), InputError);
          return;
        }
        const drop = parseDropName(name, v.zone);
        assert.equal(drop.subsystem, v.subsystem);
        assert.equal(drop.run, v.run);
        assert.equal(drop.mode, v.mode);
        assert.deepEqual(drop.local, { ...v.local }); // fc.record objects have a null prototype
        // the same instant as luxon computes it directly (the per-hour offset cache agrees)
        assert.equal(drop.timestamp, DateTime.fromObject(v.local, { zone: v.zone }).toSeconds());
        // local wall time of the instant is the name's
        assert.deepEqual(localTimeOf(drop.timestamp, v.zone), { ...v.local });
        const organized = processedFileName(drop.subsystem, drop.local, drop.ext);
        const processed = parseProcessedName(organized, v.zone);
        assert.equal(processed.subsystem, v.subsystem);
        assert.equal(processed.timestamp, drop.timestamp);
        assert.deepEqual(parseName(organized, v.zone), {
          kind: 'processed',
          subsystem: v.subsystem,
          timestamp: drop.timestamp,
        });
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees with luxon around daylight-saving transitions', () => {
    const transitionDays = fc.record({
      zone: fc.constantFrom('Europe/Zurich', 'America/New_York', 'Australia/Lord_Howe'),
      year: fc.integer({ min: 2010, max: 2030 }),
      month: fc.constantFrom(3, 4, 10, 11),
      day: fc.integer({ min: 1, max: 31 }),
      hour: fc.integer({ min: 0, max: 4 }),
      minute: fc.integer({ min: 0, max: 59 }),
      second: fc.integer({ min: 0, max: 59 }),
    });
    fc.assert(
      fc.property(transitionDays, ({ zone, ...local }) => {
        const dt = DateTime.fromObject(local, { zone });
        const name = `EMChistos_1_C_${formatLocalTime(local)}.root`;
        const exists =
          dt.isValid && dt.day === local.day && dt.hour === local.hour && dt.minute === local.minute;
        if (!exists) {
          assert.throws(() => parseDropName(name, zone), InputError);
          return;
        }
        assert.equal(parseDropName(name, zone).timestamp, dt.toSeconds());
      }),
      { numRuns: 3000 },
    );
  });
});
