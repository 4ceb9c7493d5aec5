import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runCli, tempDir } from '../../helpers/cli.js';

// `custodian audit compare --inventory FILE --listing FILE [--out PREFIX] [--now UNIX] --json`:
// exit 0 no differences, 1 differences, 2 unreadable or malformed input (naming file and line).
// No configuration: ignoreAgeDays 5, no ignore patterns.
const dir = tempDir('custodian-audit-compare-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const NOW = 1_700_000_000;
const OLD = NOW - 30 * 86_400;
const YOUNG = NOW - 3_600;

function write(name: string, lines: string[]): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
  return file;
}

const inventory = write('inventory.tsv', [
  `/store/mc/a/kept file.root\t100\t${OLD}`,
  `/store/mc/a/lost.root\t200\t${OLD}`,
  `/store/mc/a/resized.root\t300\t${OLD}`,
  `/store/mc/a/just registered.root\t400\t${YOUNG}`,
]);
const listing = write('listing.tsv', [
  `/store/mc/\t0\t${OLD}`,
  `/store/mc/a/\t0\t${OLD}`,
  `/store/mc/a/kept file.root\t100\t${OLD}`,
  `/store/mc/a/resized.root\t301\t${OLD}`,
  `/store/mc/a/dark "data".root\t50\t${OLD}`,
  `/store/mc/a/new.root\t60\t${YOUNG}`,
  `/store/mc/gone/\t0\t${OLD}`,
  `/store/mc/gone/deeper/\t0\t${OLD}`,
]);

test('differences: counts as JSON, sorted reports with --out (exit 1)', async () => {
  const prefix = path.join(dir, 'T2_TEST');
  const args = ['audit', 'compare', '--inventory', inventory, '--listing', listing];
  const result = await runCli([...args, '--out', prefix, '--now', String(NOW), '--json']);
  assert.equal(result.code, 1, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), {
    missing: 1,
    orphans: 1,
    sizeMismatches: 1,
    emptyDirs: 2,
    missingBytes: 200,
    orphanBytes: 50,
  });
  const read = (suffix: string) => fs.readFileSync(`${prefix}_${suffix}.txt`, 'utf8');
  assert.equal(read('missing'), '/store/mc/a/lost.root\n');
  assert.equal(read('orphan'), '/store/mc/a/dark "data".root\n');
  assert.equal(read('size_mismatch'), '/store/mc/a/resized.root\n');
  assert.equal(read('empty'), '/store/mc/gone/deeper/\n/store/mc/gone/\n');

  const human = await runCli([...args, '--now', String(NOW)]);
  assert.equal(human.code, 1, human.stderr);
  assert.match(human.stdout, /missing: +1 \(200 B\)/);
});

test('the age rule follows --now: a month later the young entries are reported too', async () => {
  const later = await runCli([
    'audit',
    'compare',
    '--inventory',
    inventory,
    '--listing',
    listing,
    '--now',
    String(NOW + 30 * 86_400),
    '--json',
  ]);
  assert.equal(later.code, 1, later.stderr);
  const counts = JSON.parse(later.stdout) as { missing: number; orphans: number };
  assert.deepEqual([counts.missing, counts.orphans], [2, 2]);
});

test('identical dumps (exit 0)', async () => {
  const result = await runCli([
    'audit',
    'compare',
    '--inventory',
    inventory,
    '--listing',
    inventory,
    '--json',
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), {
    missing: 0,
    orphans: 0,
    sizeMismatches: 0,
    emptyDirs: 0,
    missingBytes: 0,
    orphanBytes: 0,
  });
});

test('malformed or unreadable input names the file and line (exit 2)', async () => {
  const bad = write('bad.tsv', [`/store/a\t1\t${OLD}`, `/store/b\tten\t${OLD}`]);
  const malformed = await runCli(['audit', 'compare', '--inventory', inventory, '--listing', bad, '--json']);
  assert.equal(malformed.code, 2, malformed.stderr);
  const error = (JSON.parse(malformed.stdout) as { error: { code: string; message: string } }).error;
  assert.equal(error.code, 'AUDIT_BAD_DUMP');
  assert.equal(error.message.startsWith(`dump ${bad}, line 2: size "ten"`), true, error.message);
  assert.ok(malformed.stderr.includes(`${bad}, line 2`), malformed.stderr);

  const absent = path.join(dir, 'absent.tsv');
  const unreadable = await runCli(['audit', 'compare', '--inventory', absent, '--listing', listing]);
  assert.equal(unreadable.code, 2, unreadable.stderr);
  assert.equal(unreadable.stdout, '');
  assert.match(unreadable.stderr, new RegExp(`cannot read dump ${absent}: no such file`));

  const badNow = await runCli([
    'audit',
    'compare',
    '--inventory',
    inventory,
    '--listing',
    listing,
    '--now',
    'yesterday',
  ]);
  assert.equal(badNow.code, 2, badNow.stderr);
  assert.match(badNow.stderr, /--now "yesterday"/);
});
