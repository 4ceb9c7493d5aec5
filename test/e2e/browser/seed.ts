// What the browser tests expect the dashboard to hold. Runs are described by their files, the
// ingest pipeline's input, so a real server can be seeded by dropping these files and running a
// pass, and the stand-in API derives its runs from the same list.

export const TIMEZONE = 'Europe/Zurich';
export const SUBSYSTEMS = ['EMC', 'HLT', 'TPC'] as const;

export type Role = 'viewer' | 'operator' | 'admin';
export type Severity = 'info' | 'warning' | 'critical';

export interface SeedUser {
  name: string;
  role: Role;
  password: string;
}

export interface SeedFile {
  subsystem: string;
  run: number;
  mode: string;
  /** Unix seconds (UTC). */
  timestamp: number;
  size: number;
}

export interface SeedAlert {
  code: string;
  severity: Severity;
  message: string;
  resolved: boolean;
}

export interface Seed {
  users: SeedUser[];
  files: SeedFile[];
  alerts: SeedAlert[];
}

export const FIRST_RUN = 300001;
export const RUN_COUNT = 25;
/** Modes that the test configuration lists as replay modes. */
export const REPLAY_MODES = ['E'];
/** EMChistos_300005_C_2015_11_24_18_05_10.root in Europe/Zurich (the example). */
const FIRST_FILE_AT = 1448384710;

/**
 * The files of the index-th run: runs 30 minutes apart, a varying number of files per subsystem,
 * one run without TPC files and one replay-mode run, so every column state shows up.
 */
export function runFiles(index: number): SeedFile[] {
  const run = FIRST_RUN + index;
  const mode = index === 6 ? 'E' : 'C';
  const start = FIRST_FILE_AT + index * 1800;
  const counts: Record<string, number> = {
    EMC: 2 + (index % 4),
    HLT: 1 + (index % 2),
    TPC: index % 5 === 3 ? 0 : 3,
  };
  return SUBSYSTEMS.flatMap((subsystem, s) =>
    Array.from({ length: counts[subsystem] ?? 0 }, (_, k) => ({
      subsystem,
      run,
      mode,
      timestamp: start + s * 13 + k * 70,
      size: 20_000 + index * 997 + s * 131 + k * 17,
    })),
  );
}

export function defaultSeed(): Seed {
  return {
    users: [
      { name: 'admin', role: 'admin', password: 'admin-password-1' },
      { name: 'oliver', role: 'operator', password: 'operator-password-1' },
      { name: 'vera', role: 'viewer', password: 'viewer-password-1' },
    ],
    files: Array.from({ length: RUN_COUNT }, (_, index) => runFiles(index)).flat(),
    alerts: [
      {
        code: 'INGEST_NAME_COLLISION',
        severity: 'critical',
        message: 'EMChists.2015_11_24_18_05_10.root exists with different content; kept both.',
        resolved: false,
      },
      {
        code: 'INGEST_DROP_DIR_UNREADABLE',
        severity: 'warning',
        message: 'The drop directory could not be listed.',
        resolved: false,
      },
      { code: 'DEMO_NOTICE', severity: 'info', message: 'A notice for the operators.', resolved: false },
      {
        code: 'INGEST_OLD_PROBLEM',
        severity: 'warning',
        message: 'A problem that was fixed.',
        resolved: true,
      },
    ],
  };
}

export interface ExpectedRun {
  run: number;
  mode: string;
  replay: boolean;
  firstTimestamp: number;
  files: Record<string, number>;
}

/** Runs as the Runs page must list them: newest (highest number) first. */
export function expectedRuns(files: SeedFile[]): ExpectedRun[] {
  const runs = new Map<number, ExpectedRun>();
  for (const file of files) {
    const run = runs.get(file.run) ?? {
      run: file.run,
      mode: file.mode,
      replay: REPLAY_MODES.includes(file.mode),
      firstTimestamp: file.timestamp,
      files: {},
    };
    run.firstTimestamp = Math.min(run.firstTimestamp, file.timestamp);
    run.files[file.subsystem] = (run.files[file.subsystem] ?? 0) + 1;
    runs.set(file.run, run);
  }
  return [...runs.values()].sort((a, b) => b.run - a.run);
}

/** Local wall-clock fields of a unix time in TIMEZONE. */
export function localFields(timestamp: number): {
  Y: string;
  M: string;
  D: string;
  h: string;
  m: string;
  s: string;
} {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: TIMEZONE,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(timestamp * 1000));
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((part) => part.type === type)?.value ?? '';
  return {
    Y: get('year'),
    M: get('month'),
    D: get('day'),
    h: get('hour'),
    m: get('minute'),
    s: get('second'),
  };
}

/** The name the online system drops the file under, e.g. EMChistos_300005_C_2015_11_24_18_05_10.root. */
export function dropFileName(file: SeedFile): string {
  const { Y, M, D, h, m, s } = localFields(file.timestamp);
  return `${file.subsystem}histos_${file.run}_${file.mode}_${Y}_${M}_${D}_${h}_${m}_${s}.root`;
}

/** "YYYY-MM-DD HH:MM:SS" in TIMEZONE: how the dashboard shows a time to a browser in that zone. */
export function displayedTime(timestamp: number): string {
  const { Y, M, D, h, m, s } = localFields(timestamp);
  return `${Y}-${M}-${D} ${h}:${m}:${s}`;
}
