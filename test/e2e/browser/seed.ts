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
  /** When set, the dashboard's config has a `transfer:` section and these attempts recorded. */
  transfer?: TransferSeed;
  /** When set, the dashboard's config has an `audit:` section and these sites audited. */
  audit?: AuditSeed;
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

// ---- transfer -----------------------------------------------------------------------------------
// The transfer module's dashboard is seeded with stage attempts recorded through its repository,
// plus real published exposure folders (files and a sha256sum manifest) that the server can verify.

export const TRANSFER_STAGES = ['rsync', 'checksum', 'publish', 'backup'] as const;
export type TransferStage = (typeof TRANSFER_STAGES)[number];

export const SPECTRO_STREAM = 'desi_spectro_data';
export const GUIDE_STREAM = 'desi_guide_data';

export interface TransferAttemptSeed {
  stream: string;
  night: string;
  exposure: string;
  stage: TransferStage;
  ok: boolean;
  /** Unix ms. */
  at: number;
  message: string;
}

export interface TransferFileSeed {
  /** Relative to the exposure folder. */
  name: string;
  content: string;
}

/** An exposure whose folder exists under the stream's destination (and its source), with a manifest. */
export interface PublishedExposureSeed {
  stream: string;
  night: string;
  exposure: string;
  files: TransferFileSeed[];
  /** Files that arrived at the source after publishing: what a catch-up would bring over. */
  late: TransferFileSeed[];
}

export interface TransferNightSeed {
  stream: string;
  night: string;
  /** Unix ms. */
  catchupAt: number;
  archiveAt: number;
}

export interface TransferSeed {
  streams: string[];
  /** Recorded in this order, which is also time order: the last attempt of a stage is its state. */
  attempts: TransferAttemptSeed[];
  published: PublishedExposureSeed[];
  nights: TransferNightSeed[];
}

/** Unix ms `minutes` after 03:00 UTC of the day after `night` (20:00 in Arizona, when nights start). */
export function transferTime(night: string, minutes: number): number {
  const y = Number(night.slice(0, 4));
  const m = Number(night.slice(4, 6));
  const d = Number(night.slice(6, 8));
  return Date.UTC(y, m - 1, d + 1, 3, 0) + minutes * 60_000;
}

function attempts(
  stream: string,
  night: string,
  exposure: string,
  minute: number,
  stages: readonly (TransferStage | [TransferStage, string])[],
): TransferAttemptSeed[] {
  return stages.map((entry, i) => {
    const [stage, failure] = typeof entry === 'string' ? [entry, undefined] : entry;
    return {
      stream,
      night,
      exposure,
      stage,
      ok: failure === undefined,
      at: transferTime(night, minute + i),
      message: failure ?? '',
    };
  });
}

const ALL_OK = ['rsync', 'checksum', 'publish', 'backup'] as const;
const PUBLISHED = ['rsync', 'checksum', 'publish'] as const;

/** The night whose exposure 00000012 is published on disk but whose last re-verification failed. */
export const VERIFY_NIGHT = '20261119';
export const VERIFY_EXPOSURE = '00000012';
export const VERIFY_FAILURE = '1 mismatched: desi-00000012.fits.fz';
/** Written late at the source of VERIFY_EXPOSURE only. */
export const LATE_FILE = 'sky-00000012.fits.fz';
export const CHECKSUM_FAILURE = 'checksum mismatch: desi-00000010.fits.fz (1 of 3 files)';
/** Exposure 00000002 of the green night: a checksum that failed once, then passed after a re-copy. */
export const RETRIED_NIGHT = '20261118';
export const RETRIED_EXPOSURE = '00000002';
export const RETRIED_FAILURE = '1 missing: guide-00000002.fits.fz';

/**
 * Nights of two streams: 20261121 in progress, 20261120 with a failed checksum (and an all-green
 * guide night), 20261119 with a failed re-verification of a published exposure, 20261118 green and
 * archived after a retried checksum, and eight older green nights so "last N nights" matters.
 */
export function defaultTransferSeed(): TransferSeed {
  const s = SPECTRO_STREAM;
  const list: TransferAttemptSeed[] = [];
  for (let day = 1; day <= 8; day++) {
    const night = `202611${String(day).padStart(2, '0')}`;
    list.push(...attempts(s, night, '00000001', 0, ALL_OK));
  }
  list.push(
    ...attempts(s, RETRIED_NIGHT, '00000001', 0, ALL_OK),
    ...attempts(s, RETRIED_NIGHT, RETRIED_EXPOSURE, 10, ['rsync', ['checksum', RETRIED_FAILURE]]),
    ...attempts(s, RETRIED_NIGHT, RETRIED_EXPOSURE, 20, ALL_OK),
    ...attempts(s, RETRIED_NIGHT, '00000003', 30, ALL_OK),
    ...attempts(s, VERIFY_NIGHT, '00000011', 0, PUBLISHED),
    ...attempts(s, VERIFY_NIGHT, VERIFY_EXPOSURE, 10, PUBLISHED),
    ...attempts(s, VERIFY_NIGHT, VERIFY_EXPOSURE, 200, [['checksum', VERIFY_FAILURE]]),
    // Recorded out of numeric order on purpose: the page sorts exposures itself.
    ...attempts(s, '20261120', '00000010', 10, ['rsync', ['checksum', CHECKSUM_FAILURE]]),
    ...attempts(s, '20261120', '00000009', 0, PUBLISHED),
    ...attempts(GUIDE_STREAM, '20261120', '00000009', 0, ALL_OK),
    ...attempts(s, '20261121', '00000020', 0, PUBLISHED),
    ...attempts(s, '20261121', '00000021', 10, ['rsync']),
  );
  const file = (name: string, size: number, seed: number): TransferFileSeed => ({
    name,
    content: Array.from({ length: size }, (_, i) => String.fromCharCode(97 + ((i * seed) % 26))).join(''),
  });
  return {
    streams: [SPECTRO_STREAM, GUIDE_STREAM],
    attempts: list,
    published: [
      {
        stream: s,
        night: VERIFY_NIGHT,
        exposure: VERIFY_EXPOSURE,
        files: [
          file('desi-00000012.fits.fz', 4096, 7),
          file('guide-00000012.fits.fz', 2048, 11),
          file('fibermap/fibermap-00000012.fits', 1024, 13),
        ],
        late: [file(LATE_FILE, 512, 17)],
      },
    ],
    nights: [
      {
        stream: s,
        night: RETRIED_NIGHT,
        catchupAt: transferTime(RETRIED_NIGHT, 11 * 60 + 5),
        archiveAt: transferTime(RETRIED_NIGHT, 17 * 60 + 10),
      },
    ],
  };
}

export function transferDashboardSeed(): Seed {
  return { ...defaultSeed(), transfer: defaultTransferSeed() };
}

export type StageStateSeed = { ok: boolean; at: number; message: string } | null;

export interface ExpectedExposure {
  exposure: string;
  stages: Record<TransferStage, StageStateSeed>;
}

export interface ExpectedNight {
  stream: string;
  night: string;
  state: 'green' | 'yellow' | 'red';
  exposures: ExpectedExposure[];
  failed: number;
  archived: boolean;
}

/**
 * What the status page must show, newest night first (streams of one night by name): the latest
 * attempt of each stage; red when one failed, green when every exposure is rsynced, checked and
 * published, yellow otherwise.
 */
export function expectedTransferNights(attemptsList: readonly TransferAttemptSeed[]): ExpectedNight[] {
  const nights = new Map<string, Map<string, ExpectedExposure>>();
  for (const a of attemptsList) {
    const key = `${a.stream}:${a.night}`;
    const exposures = nights.get(key) ?? new Map<string, ExpectedExposure>();
    nights.set(key, exposures);
    const exposure = exposures.get(a.exposure) ?? {
      exposure: a.exposure,
      stages: { rsync: null, checksum: null, publish: null, backup: null },
    };
    exposures.set(a.exposure, exposure);
    exposure.stages[a.stage] = { ok: a.ok, at: a.at, message: a.message };
  }
  return [...nights.entries()]
    .map(([key, exposures]) => {
      const [stream = '', night = ''] = key.split(':');
      const list = [...exposures.values()].sort((a, b) => Number(a.exposure) - Number(b.exposure));
      const failedOne = (e: ExpectedExposure) => Object.values(e.stages).some((s) => s !== null && !s.ok);
      const failed = list.filter(failedOne).length;
      const done = list.every((e) => e.stages.rsync?.ok && e.stages.checksum?.ok && e.stages.publish?.ok);
      return {
        stream,
        night,
        state: failed > 0 ? ('red' as const) : done ? ('green' as const) : ('yellow' as const),
        exposures: list,
        failed,
        archived: list.every((e) => e.stages.backup?.ok === true),
      };
    })
    .sort((a, b) => b.night.localeCompare(a.night) || a.stream.localeCompare(b.stream));
}

/** "MM-DD HH:MM" in TIMEZONE: how a stage cell shows an attempt's time. */
export function displayedShortTime(unixMs: number): string {
  const { M, D, h, m } = localFields(Math.floor(unixMs / 1000));
  return `${M}-${D} ${h}:${m}`;
}

// ---- audit --------------------------------------------------------------------------------------
// The audit module's dashboard is seeded by real audits (the service listing a real local tree
// and comparing it with an inventory dump), so the counts and lists are the compare engine's own.

export const AUDIT_SITE = 'T2_TEST';
export const AUDIT_DISABLED_SITE = 'T2_OLD';
export const AUDIT_MAX_MISSING = 10;
export const AUDIT_MAX_ORPHANS = 10;
/** Files and directories are this old, well past `ignoreAgeDays`, so every difference is reported. */
export const AUDIT_AGE_DAYS = 30;
export const AUDIT_IGNORE_AGE_DAYS = 5;

export interface AuditFileSeed {
  /** In the site namespace, e.g. /store/mc/run1/a.root. */
  path: string;
  size: number;
}

export interface AuditSiteSeed {
  name: string;
  /** Top-level directories to check; one that does not exist at the site is unlisted. */
  directories: string[];
  /** What is at the site (written to disk under the storage root). */
  files: AuditFileSeed[];
  /** Directories at the site with nothing in them (site paths). */
  emptyDirs: string[];
  /** What should be at the site (the inventory dump). */
  inventory: AuditFileSeed[];
  /** Audits run through the service, one after the other. */
  runs: number;
  /** The status or mode set after the runs. */
  after?: 'disable' | 'halt' | 'act';
}

export interface AuditSeed {
  sites: AuditSiteSeed[];
}

/** The namespace root of every seeded site: the storage URL ends in `/store`. */
export const AUDIT_NAMESPACE = '/store';

/** The known answers of T2_TEST. */
export const AUDIT_MISSING = '/store/mc/run2/c.root';
export const AUDIT_ORPHAN = '/store/mc/dark/orphan file.root';
export const AUDIT_MISMATCH = '/store/mc/run3/e.root';
/** In the inventory, under the top-level directory `data`, which does not exist at the site. */
export const AUDIT_HIDDEN = '/store/data/hidden.root';

export function defaultAuditSeed(): AuditSeed {
  return {
    sites: [
      {
        name: AUDIT_SITE,
        directories: ['mc', 'data'],
        files: [
          { path: '/store/mc/run1/a.root', size: 1000 },
          { path: '/store/mc/run1/b.root', size: 2000 },
          { path: '/store/mc/run2/d.root', size: 700 },
          { path: AUDIT_MISMATCH, size: 350 },
          { path: AUDIT_ORPHAN, size: 4096 },
        ],
        emptyDirs: ['/store/mc/empty/inner'],
        inventory: [
          { path: '/store/mc/run1/a.root', size: 1000 },
          { path: '/store/mc/run1/b.root', size: 2000 },
          { path: AUDIT_MISSING, size: 1536 },
          { path: '/store/mc/run2/d.root', size: 700 },
          { path: AUDIT_MISMATCH, size: 300 },
          { path: AUDIT_HIDDEN, size: 999 },
        ],
        // Twice, so the missing file is confirmed by a second run.
        runs: 2,
      },
      {
        name: AUDIT_DISABLED_SITE,
        directories: ['mc'],
        files: [
          { path: '/store/mc/kept.root', size: 10 },
          ...Array.from({ length: AUDIT_MAX_ORPHANS + 2 }, (_, i) => ({
            path: `/store/mc/dark/o${String(i).padStart(2, '0')}.root`,
            size: 1024,
          })),
        ],
        emptyDirs: [],
        inventory: [{ path: '/store/mc/kept.root', size: 10 }],
        runs: 1,
        after: 'disable',
      },
    ],
  };
}

export function auditDashboardSeed(): Seed {
  return { ...defaultSeed(), audit: defaultAuditSeed() };
}

export interface ExpectedAudit {
  missing: string[];
  missingBytes: number;
  orphans: string[];
  orphanBytes: number;
  sizeMismatches: string[];
  /** Deepest first. */
  emptyDirs: string[];
  /** Top-level directories that do not exist at the site. */
  unlisted: string[];
  /** Files and directories listed (below the top-level directories, which are not counted). */
  files: number;
  directories: number;
}

const under = (root: string, p: string) => p === root || p.startsWith(`${root}/`);

/**
 * What an audit of the site must find (every entry is old enough to count): set differences of
 * the inventory and the files, nothing under an unlisted top-level directory, and the empty
 * directories with their ancestors that hold no file, deepest first.
 */
export function expectedAudit(site: AuditSiteSeed): ExpectedAudit {
  const roots = site.directories.map((d) => `${AUDIT_NAMESPACE}/${d}`);
  const existing = new Set(
    roots.filter(
      (root) => site.files.some((f) => under(root, f.path)) || site.emptyDirs.some((d) => under(root, d)),
    ),
  );
  const unlisted = roots.filter((root) => !existing.has(root));
  const listed = (p: string) => roots.some((root) => existing.has(root) && under(root, p));
  const atSite = new Map(site.files.map((f) => [f.path, f.size]));
  const wanted = new Map(site.inventory.map((f) => [f.path, f.size]));
  const missing = site.inventory.filter((f) => listed(f.path) && !atSite.has(f.path));
  const orphans = site.files.filter((f) => !wanted.has(f.path));
  const sizeMismatches = site.files.filter((f) => wanted.has(f.path) && wanted.get(f.path) !== f.size);
  const candidates = new Set<string>();
  for (const dir of site.emptyDirs) {
    for (let d = dir; d.length > AUDIT_NAMESPACE.length; d = d.slice(0, d.lastIndexOf('/'))) {
      if (!roots.includes(d)) candidates.add(d);
    }
  }
  const emptyDirs = [...candidates]
    .filter((d) => !site.files.some((f) => under(d, f.path)))
    .sort((a, b) => b.split('/').length - a.split('/').length || a.localeCompare(b));
  const directories = new Set<string>();
  for (const p of [...site.files.map((f) => f.path.slice(0, f.path.lastIndexOf('/'))), ...site.emptyDirs]) {
    for (
      let d = p;
      d.length > AUDIT_NAMESPACE.length && !roots.includes(d);
      d = d.slice(0, d.lastIndexOf('/'))
    ) {
      directories.add(d);
    }
  }
  const sorted = (list: AuditFileSeed[]) => list.map((f) => f.path).sort();
  return {
    missing: sorted(missing),
    missingBytes: missing.reduce((sum, f) => sum + f.size, 0),
    orphans: sorted(orphans),
    orphanBytes: orphans.reduce((sum, f) => sum + f.size, 0),
    sizeMismatches: sorted(sizeMismatches),
    emptyDirs,
    unlisted,
    files: site.files.filter((f) => listed(f.path)).length,
    directories: directories.size,
  };
}
