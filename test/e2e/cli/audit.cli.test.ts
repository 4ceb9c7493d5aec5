// `custodian audit ...` as an operator runs it: the built binary on a SQLite workspace whose
// config has an audit: section and one file:// site with known answers. Covers sites, run (and
// its exit codes), report, the two-run confirmation of missing files, acting on a list only in act
// mode, empty directories deepest first, set-status, list to stdout and to a file, compare
// without any config, unknown sites, a config without an audit section, and watch stopping at
// the kill file. The CLI uses the real clock, so the fixture's ages are relative to now.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runCli, startCli, tempDir, writeConfig, type CliResult } from '../../helpers/cli.js';

const SITE = 'T2_TEST';
const NOW = Math.floor(Date.now() / 1000);
const OLD = NOW - 30 * 86_400;
const YOUNG = NOW - 3_600;

interface Run {
  id: number;
  site: string;
  startedAt: string;
  finishedAt: string | null;
  files: number;
  directories: number;
  missing: number;
  missingBytes: number;
  orphans: number;
  orphanBytes: number;
  sizeMismatches: number;
  emptyDirs: number;
  unlisted: number;
  outcome: string;
  message: string | null;
}
interface Summary {
  name: string;
  storage: string;
  status: string;
  mode: string;
  haltRequested: boolean;
  lastRun: Run | null;
  maxMissing: number;
  maxOrphans: number;
}
interface Report extends Summary {
  runs: Run[];
  unlistedDirectories: { path: string; reason: string }[];
}
interface EntryList {
  site: string;
  kind: string;
  runId: number | null;
  forAction: boolean;
  reason: string | null;
  actedAt: string | null;
  entries: { path: string; firstSeen: string; lastSeen: string; actedAt: string | null }[];
}
interface ErrorBody {
  error: { code: string; message: string };
}

function json<T>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`not one JSON document (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}

/** Exit code and error code of a failed --json command (the one error wire format). */
function failure(result: CliResult): [number | null, string] {
  const body = json<ErrorBody>(result);
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message']);
  assert.ok(body.error.message.length > 0);
  return [result.code, body.error.code];
}

function counts(run: Run) {
  return {
    files: run.files,
    missing: run.missing,
    missingBytes: run.missingBytes,
    orphans: run.orphans,
    orphanBytes: run.orphanBytes,
    sizeMismatches: run.sizeMismatches,
    emptyDirs: run.emptyDirs,
    unlisted: run.unlisted,
  };
}

const KNOWN = {
  files: 6,
  missing: 1,
  missingBytes: 30,
  orphans: 1,
  orphanBytes: 50,
  sizeMismatches: 1,
  emptyDirs: 2,
  unlisted: 0,
};

function writeFile(store: string, rel: string, size: number, mtime = OLD): void {
  const file = path.join(store, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, Buffer.alloc(size, 1));
  fs.utimesSync(file, mtime, mtime);
}

/** Directories as old as the files: a young directory counts as still being written. */
function age(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }))
    if (entry.isDirectory()) age(path.join(dir, entry.name));
  fs.utimesSync(dir, OLD, OLD);
}

/**
 * The known-answer site of the service test, on the real clock: one missing file (30 B), one
 * orphan (50 B), one size mismatch, nested empty directories, a young file on each side, an
 * orphan under the ignored pattern.
 */
function knownSite(root: string): { store: string; inventory: string } {
  const store = path.join(root, 'store');
  writeFile(store, 'mc/a/good.root', 100);
  writeFile(store, 'mc/a/name with spaces.root', 7);
  writeFile(store, 'mc/b/orphan.root', 50);
  writeFile(store, 'mc/b/size.root', 20);
  writeFile(store, 'mc/b/young-orphan.root', 5, YOUNG);
  writeFile(store, 'mc/unmerged/ignored-orphan.root', 9);
  fs.mkdirSync(path.join(store, 'mc/empty1/empty2'), { recursive: true });
  age(store);
  const inventory = path.join(root, 'inventory.tsv');
  fs.writeFileSync(
    inventory,
    [
      `/store/mc/a/good.root\t100\t${OLD}`,
      `/store/mc/a/name with spaces.root\t7\t${OLD}`,
      `/store/mc/a/lost.root\t30\t${OLD}`,
      `/store/mc/a/young-missing.root\t3\t${YOUNG}`,
      `/store/mc/b/size.root\t10\t${OLD}`,
      '',
    ].join('\n'),
  );
  return { store, inventory };
}

function auditYaml(store: string, options: { maxOrphans?: number } = {}): string {
  return [
    'database: sqlite:./custodian.db',
    'logging: { level: warn }',
    'audit:',
    '  ignoreAgeDays: 5',
    '  ignorePatterns: [/store/mc/unmerged/]',
    '  maxMissing: 10',
    `  maxOrphans: ${options.maxOrphans ?? 10}`,
    '  reportsDir: ./reports',
    '  intervalSeconds: 1',
    '  killFile: ./stop-audit',
    '  sites:',
    `    - name: ${SITE}`,
    `      storage: file://${store}`,
    '      directories: [mc]',
    '      concurrency: 4',
    '      retries: 1',
    '      timeoutSeconds: 30',
    '      inventory: ./inventory.tsv',
    '',
  ].join('\n');
}

describe('custodian audit (CLI)', () => {
  const dir = tempDir('custodian-audit-cli-');
  const cli = (...args: string[]) => runCli(args, { cwd: dir });
  let store = '';

  before(() => {
    store = knownSite(dir).store;
    writeConfig(dir, auditYaml(store));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('sites --json: every configured site, ready and dry, never audited; lists say so', async () => {
    const result = await cli('audit', 'sites', '--json');
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(json<Summary[]>(result), [
      {
        name: SITE,
        storage: `file://${store}`,
        status: 'ready',
        mode: 'dry',
        haltRequested: false,
        lastRun: null,
        maxMissing: 10,
        maxOrphans: 10,
      },
    ]);
    const orphans = await cli('audit', 'orphans', SITE, '--json');
    assert.equal(orphans.code, 0, orphans.stderr);
    const list = json<EntryList>(orphans);
    assert.deepEqual([list.runId, list.entries, list.forAction], [null, [], false]);
    assert.match(list.reason ?? '', /not been audited/);

    const human = await cli('audit', 'sites');
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`^${SITE} +ready +dry +-`, 'm'));
  });

  it('run --json audits the site: known answers, report files, exit 1 since differences were found', async () => {
    const result = await cli('audit', 'run', '--json');
    // Outcome ok (within the thresholds), but a missing file and an orphan were found: exit 1.
    assert.equal(result.code, 1, result.stderr);
    const run = json<Run>(result);
    assert.equal(run.site, SITE);
    assert.equal(run.outcome, 'ok', run.message ?? '');
    assert.equal(run.message, null);
    assert.deepEqual(counts(run), KNOWN);
    assert.ok(run.finishedAt !== null && run.finishedAt >= run.startedAt);

    const runDir = path.join(dir, 'reports', SITE, String(run.id));
    const read = (suffix: string) => fs.readFileSync(path.join(runDir, `${SITE}_${suffix}.txt`), 'utf8');
    assert.equal(read('missing'), '/store/mc/a/lost.root\n');
    assert.equal(read('orphan'), '/store/mc/b/orphan.root\n');
    assert.equal(read('size_mismatch'), '/store/mc/b/size.root\n');
    assert.equal(read('empty'), '/store/mc/empty1/empty2/\n/store/mc/empty1/\n');
    assert.equal(read('unlisted'), '');

    const report = await cli('audit', 'report', SITE, '--json');
    assert.equal(report.code, 0, report.stderr);
    const body = json<Report>(report);
    assert.deepEqual(
      body.runs.map((r) => r.id),
      [run.id],
    );
    assert.deepEqual(body.lastRun, run);
    assert.deepEqual(body.unlistedDirectories, []);
    assert.deepEqual([body.status, body.mode], ['ready', 'dry']);

    const human = await cli('audit', 'report', SITE);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`run ${run.id} of ${SITE}: ok`));
    assert.match(human.stdout, /missing 1 \(30 B\), orphans 1 \(50 B\), size mismatches 1/);
  });

  it('missing after one run: empty by rule, the reason says a second run confirms; --acting refused', async () => {
    const result = await cli('audit', 'missing', SITE, '--json');
    assert.equal(result.code, 0, result.stderr);
    const list = json<EntryList>(result);
    assert.equal(list.kind, 'missing');
    assert.deepEqual(list.entries, []);
    assert.equal(list.forAction, false);
    assert.match(list.reason ?? '', /second run/);

    const acting = await cli('audit', 'missing', SITE, '--acting', '--json');
    assert.deepEqual(failure(acting), [2, 'AUDIT_NOT_FOR_ACTION']);
  });

  it('missing after two runs: the confirmed entry, still not for action in dry mode', async () => {
    const second = await cli('audit', 'run', '--json');
    assert.equal(second.code, 1, second.stderr);
    const run = json<Run>(second);
    assert.deepEqual(counts(run), KNOWN);

    const result = await cli('audit', 'missing', SITE, '--json');
    assert.equal(result.code, 0, result.stderr);
    const list = json<EntryList>(result);
    assert.equal(list.runId, run.id);
    assert.deepEqual(
      list.entries.map((e) => [e.path, e.actedAt]),
      [['/store/mc/a/lost.root', null]],
    );
    const [entry] = list.entries;
    assert.ok(entry && entry.firstSeen < entry.lastSeen, 'first seen in run 1, last seen in run 2');
    assert.equal(list.forAction, false);
    assert.match(list.reason ?? '', /dry mode/);

    const report = json<Report>(await cli('audit', 'report', SITE, '--json'));
    assert.equal(report.runs.length, 2);
    assert.ok(report.runs[0] && report.runs[1] && report.runs[0].id > report.runs[1].id, 'newest first');
  });

  it('orphans --acting is refused in dry mode (exit 2, ConflictError) and records nothing', async () => {
    const refused = await cli('audit', 'orphans', SITE, '--acting', '--json');
    assert.deepEqual(failure(refused), [2, 'AUDIT_NOT_FOR_ACTION']);
    assert.match(json<ErrorBody>(refused).error.message, /dry mode/);
    assert.match(refused.stderr, /not for action/);

    const list = json<EntryList>(await cli('audit', 'orphans', SITE, '--json'));
    assert.deepEqual(
      list.entries.map((e) => [e.path, e.actedAt]),
      [['/store/mc/b/orphan.root', null]],
    );
  });

  it('set-status act, then orphans and missing --acting record the acted-at time', async () => {
    const act = await cli('audit', 'set-status', SITE, 'act', '--json');
    assert.equal(act.code, 0, act.stderr);
    const summary = json<Summary>(act);
    assert.deepEqual([summary.name, summary.status, summary.mode], [SITE, 'ready', 'act']);

    const before = Date.now();
    const acting = await cli('audit', 'orphans', SITE, '--acting', '--json');
    assert.equal(acting.code, 0, acting.stderr);
    const list = json<EntryList>(acting);
    assert.equal(list.forAction, true);
    assert.equal(list.reason, null);
    assert.ok(list.actedAt !== null && Date.parse(list.actedAt) >= before - 1000, String(list.actedAt));
    assert.deepEqual(
      list.entries.map((e) => [e.path, e.actedAt]),
      [['/store/mc/b/orphan.root', list.actedAt]],
    );
    const again = json<EntryList>(await cli('audit', 'orphans', SITE, '--json'));
    assert.equal(again.actedAt, null, 'a plain read records nothing');
    assert.equal(again.entries[0]?.actedAt, list.actedAt, 'the acted-at time is kept in the history');

    const missing = await cli('audit', 'missing', SITE, '--acting', '--json');
    assert.equal(missing.code, 0, missing.stderr);
    const missingList = json<EntryList>(missing);
    assert.equal(missingList.forAction, true);
    assert.deepEqual(
      missingList.entries.map((e) => [e.path, e.actedAt !== null]),
      [['/store/mc/a/lost.root', true]],
    );
  });

  it('empty-dirs --json lists the empty directories deepest first', async () => {
    const result = await cli('audit', 'empty-dirs', SITE, '--json');
    assert.equal(result.code, 0, result.stderr);
    const list = json<EntryList>(result);
    assert.equal(list.kind, 'empty');
    assert.deepEqual(
      list.entries.map((e) => e.path),
      ['/store/mc/empty1/empty2/', '/store/mc/empty1/'],
    );
    const human = await cli('audit', 'empty-dirs', SITE);
    assert.equal(human.code, 0, human.stderr);
    assert.deepEqual(human.stdout.split('\n').slice(1), [
      '/store/mc/empty1/empty2/',
      '/store/mc/empty1/',
      '',
    ]);
  });

  it('set-status: a bogus action is exit 2, an unknown site exit 3; halt, dry and ready change the site', async () => {
    const bogus = await cli('audit', 'set-status', SITE, 'bogus');
    assert.equal(bogus.code, 2, bogus.stderr);
    assert.equal(bogus.stdout, '');
    assert.match(bogus.stderr, /"bogus" is not a status action: use ready, halt, disable, act or dry/);
    assert.deepEqual(failure(await cli('audit', 'set-status', SITE, 'bogus', '--json')), [
      2,
      'AUDIT_BAD_ARGUMENT',
    ]);
    assert.deepEqual(failure(await cli('audit', 'set-status', 'NOPE', 'ready', '--json')), [
      3,
      'AUDIT_UNKNOWN_SITE',
    ]);

    const halted = json<Summary>(await cli('audit', 'set-status', SITE, 'halt', '--json'));
    assert.equal(halted.status, 'halted');
    // Nothing is ready: run does nothing and says so (null), without an error.
    const none = await cli('audit', 'run', '--json');
    assert.equal(none.code, 0, none.stderr);
    assert.equal(json<null>(none), null);
    assert.equal(json<Report>(await cli('audit', 'report', SITE, '--json')).runs.length, 2);

    const dry = json<Summary>(await cli('audit', 'set-status', SITE, 'dry', '--json'));
    assert.deepEqual([dry.status, dry.mode], ['halted', 'dry']);
    const ready = json<Summary>(await cli('audit', 'set-status', SITE, 'ready', '--json'));
    assert.deepEqual([ready.status, ready.mode], ['ready', 'dry']);
  });

  it('list prints the dump to stdout; --out writes it to a file instead', async () => {
    const result = await cli('audit', 'list', SITE);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split('\n').filter((l) => l !== '');
    const rows = lines.map((l) => l.split('\t'));
    assert.ok(
      rows.every((r) => r.length === 3 && /^\d+$/.test(r[1] ?? '') && /^\d+$/.test(r[2] ?? '')),
      result.stdout,
    );
    const files = rows.filter((r) => !(r[0] ?? '').endsWith('/')).map((r) => [r[0], Number(r[1])]);
    assert.deepEqual(
      files.sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      [
        ['/store/mc/a/good.root', 100],
        ['/store/mc/a/name with spaces.root', 7],
        ['/store/mc/b/orphan.root', 50],
        ['/store/mc/b/size.root', 20],
        ['/store/mc/b/young-orphan.root', 5],
        ['/store/mc/unmerged/ignored-orphan.root', 9],
      ],
    );
    const youngRow = rows.find((r) => r[0] === '/store/mc/b/young-orphan.root');
    assert.equal(Number(youngRow?.[2]), YOUNG, 'mtime in unix seconds');
    assert.ok(lines.includes(`/store/mc/empty1/empty2/\t0\t${OLD}`), 'directories end in /');
    assert.match(result.stderr, new RegExp(`${SITE}: 6 files, \\d+ directories, 0 unlisted`));

    const out = path.join(dir, 'listing-out.tsv');
    const toFile = await cli('audit', 'list', SITE, '--out', out);
    assert.equal(toFile.code, 0, toFile.stderr);
    assert.equal(toFile.stdout, '');
    const written = fs
      .readFileSync(out, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    assert.deepEqual([...written].sort(), [...lines].sort());
  });

  it('unknown sites are exit 3 (AUDIT_UNKNOWN_SITE); a bad --site pattern exit 2', async () => {
    for (const args of [
      ['report', 'NOPE', '--json'],
      ['missing', 'NOPE', '--json'],
      ['orphans', 'NOPE', '--json'],
      ['empty-dirs', 'NOPE', '--acting', '--json'],
    ]) {
      assert.deepEqual(failure(await cli('audit', ...args)), [3, 'AUDIT_UNKNOWN_SITE'], args.join(' '));
    }
    const list = await cli('audit', 'list', 'NOPE');
    assert.equal(list.code, 3, list.stderr);
    assert.match(list.stderr, /no site "NOPE" in the audit configuration \(sites: T2_TEST\)/);
    assert.deepEqual(failure(await cli('audit', 'run', '--site', '(', '--json')), [
      2,
      'AUDIT_BAD_SITE_PATTERN',
    ]);
  });

  it('run exits 1 when the outcome is not ok (over the orphans threshold)', async () => {
    const strict = tempDir('custodian-audit-cli-strict-');
    try {
      const site = knownSite(strict);
      writeConfig(strict, auditYaml(site.store, { maxOrphans: 0 }));
      const result = await runCli(['audit', 'run', '--json'], { cwd: strict });
      assert.equal(result.code, 1, result.stderr);
      const run = json<Run>(result);
      assert.equal(run.outcome, 'over-threshold');
      assert.match(run.message ?? '', /1 orphans \(max 0\)/);
      assert.deepEqual(counts(run), KNOWN);
      const orphans = json<EntryList>(await runCli(['audit', 'orphans', SITE, '--json'], { cwd: strict }));
      assert.deepEqual(
        orphans.entries.map((e) => e.path),
        ['/store/mc/b/orphan.root'],
        'still reported',
      );
      assert.equal(orphans.forAction, false);
    } finally {
      fs.rmSync(strict, { recursive: true, force: true });
    }
  });

  it('compare works without any config, with the defaults (ignoreAgeDays 5, no ignore patterns)', async () => {
    const bare = tempDir('custodian-audit-cli-bare-');
    try {
      const listing = path.join(bare, 'listing.tsv');
      fs.writeFileSync(
        listing,
        [
          `/store/mc/a/good.root\t100\t${OLD}`,
          `/store/mc/a/name with spaces.root\t7\t${OLD}`,
          `/store/mc/b/size.root\t20\t${OLD}`,
          `/store/mc/b/young-orphan.root\t5\t${YOUNG}`,
          `/store/mc/unmerged/ignored-orphan.root\t9\t${OLD}`,
          '',
        ].join('\n'),
      );
      const inventory = path.join(dir, 'inventory.tsv');
      const env = { CUSTODIAN_CONFIG: undefined };
      const args = ['audit', 'compare', '--inventory', inventory, '--listing', listing];
      const result = await runCli([...args, '--json'], { cwd: bare, env });
      assert.equal(result.code, 1, result.stderr);
      // Without the config's ignore pattern the unmerged orphan is reported; the young ones are not.
      assert.deepEqual(JSON.parse(result.stdout), {
        missing: 1,
        orphans: 1,
        sizeMismatches: 1,
        emptyDirs: 0,
        missingBytes: 30,
        orphanBytes: 9,
      });
      const same = await runCli(
        ['audit', 'compare', '--inventory', listing, '--listing', listing, '--json'],
        {
          cwd: bare,
          env,
        },
      );
      assert.equal(same.code, 0, same.stderr);
      assert.equal(json<{ missing: number }>(same).missing, 0);
      assert.deepEqual(fs.readdirSync(bare), ['listing.tsv'], 'no database or config was created');

      // In the workspace, the config's ignore pattern applies.
      const configured = await cli(...args, '--json');
      assert.equal(configured.code, 1, configured.stderr);
      assert.equal(json<{ orphans: number }>(configured).orphans, 0);
    } finally {
      fs.rmSync(bare, { recursive: true, force: true });
    }
  });

  it('a config without an audit section: exit 2 AUDIT_NOT_CONFIGURED; compare still works', async () => {
    const plain = tempDir('custodian-audit-cli-plain-');
    try {
      writeConfig(plain, 'database: sqlite:./custodian.db\nlogging: { level: warn }\n');
      const run = (...args: string[]) => runCli(args, { cwd: plain });
      for (const args of [
        ['audit', 'sites', '--json'],
        ['audit', 'run', '--json'],
        ['audit', 'report', SITE, '--json'],
        ['audit', 'set-status', SITE, 'act', '--json'],
      ]) {
        const result = await run(...args);
        assert.deepEqual(failure(result), [2, 'AUDIT_NOT_CONFIGURED'], args.join(' '));
        assert.match(json<ErrorBody>(result).error.message, /no audit: section/);
      }
      const inventory = path.join(dir, 'inventory.tsv');
      const compare = await run(
        'audit',
        'compare',
        '--inventory',
        inventory,
        '--listing',
        inventory,
        '--json',
      );
      assert.equal(compare.code, 0, compare.stderr);
    } finally {
      fs.rmSync(plain, { recursive: true, force: true });
    }
  });

  it('watch audits the site on its schedule and stops at the kill file (exit 0)', async () => {
    const killFile = path.join(dir, 'stop-audit');
    const runsBefore = json<Report>(await cli('audit', 'report', SITE, '--json')).runs.length;
    const watch = startCli(['audit', 'watch', '--log-level', 'info'], {
      cwd: dir,
      readyWhen: new RegExp(`audit of ${SITE} done`),
    });
    try {
      await watch.ready;
    } finally {
      fs.writeFileSync(killFile, '');
    }
    const result = await watch.exited;
    fs.rmSync(killFile);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /kill file .*stop-audit exists: stopping audit:watch/);
    assert.match(result.stderr, /"stoppedBy":"kill-file"/);

    const report = json<Report>(await cli('audit', 'report', SITE, '--json'));
    assert.ok(
      report.runs.length > runsBefore,
      `${report.runs.length} runs after watch, ${runsBefore} before`,
    );
    assert.equal(report.status, 'ready');
    // The audits the watch logged as done (a pass queued just before the kill file may have been
    // cut short: see the next test).
    const done = result.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg?: string; run?: number })
      .filter((entry) => entry.msg === `audit of ${SITE} done`)
      .map((entry) => entry.run);
    assert.ok(done.length >= 1, result.stderr);
    for (const id of done) {
      const run = report.runs.find((r) => r.id === id);
      assert.ok(run, `run ${id} in the report`);
      assert.equal(run.outcome, 'ok', JSON.stringify(run));
      assert.deepEqual(counts(run), KNOWN);
    }

    // With the kill file in place, watch stops before its first pass.
    fs.writeFileSync(killFile, '');
    const stopped = await runCli(['audit', 'watch', '--log-level', 'info'], { cwd: dir });
    fs.rmSync(killFile);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stderr, /"passes":0/);
    assert.equal(json<Report>(await cli('audit', 'report', SITE, '--json')).runs.length, report.runs.length);
  });

  // The kill file stops the scheduler and the workers; the audit in flight sees the abort and
  // stops between directories. A deliberate stop is not a failure: the run is recorded as
  // interrupted, the site stays ready for the next audit, and no alert is raised.
  it('watch stopped by the kill file interrupts the audit in flight without a failure', async () => {
    const slow = tempDir('custodian-audit-cli-slow-');
    try {
      // Enough directories, listed one at a time, that the audit outlasts the 1 s interval.
      const store = path.join(slow, 'store');
      for (let i = 0; i < 150; i++) {
        for (let j = 0; j < 100; j++) {
          fs.mkdirSync(path.join(store, 'mc', `d${i}`, `e${j}`), { recursive: true });
        }
      }
      fs.writeFileSync(path.join(slow, 'inventory.tsv'), '');
      writeConfig(
        slow,
        [
          'database: sqlite:./custodian.db',
          'logging: { level: warn }',
          'audit:',
          '  reportsDir: ./reports',
          '  intervalSeconds: 1',
          '  killFile: ./stop-audit',
          '  sites:',
          `    - { name: SLOW, storage: "file://${store}", directories: [mc], concurrency: 1, inventory: ./inventory.tsv }`,
          '',
        ].join('\n'),
      );
      const watch = startCli(['audit', 'watch', '--log-level', 'info'], {
        cwd: slow,
        readyWhen: /audit of SLOW: listing/,
      });
      try {
        await watch.ready;
      } finally {
        fs.writeFileSync(path.join(slow, 'stop-audit'), '');
      }
      const result = await watch.exited;
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /"stoppedBy":"kill-file"/);
      const report = json<Report>(await runCli(['audit', 'report', 'SLOW', '--json'], { cwd: slow }));
      assert.equal(report.status, 'ready');
      assert.equal(report.runs.length, 1);
      const [run] = report.runs;
      assert.ok(
        run?.outcome === 'ok' || (run?.outcome === 'halted' && /interrupted/.test(run.message ?? '')),
        `finished or interrupted, never failed: ${JSON.stringify(run)}`,
      );
      assert.doesNotMatch(result.stderr, /AUDIT_RUN_FAILED/);
    } finally {
      fs.rmSync(slow, { recursive: true, force: true });
    }
  });
});
