// The DuckDB compare engine on real dump files: a site with known answers, a cross-check against
// a plain in-memory implementation on a random site of ~20,000 entries, and malformed dumps
// (the engine's SQL line checks must agree with dump.parser.ts, line for line).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { InputError } from '../../../src/core/errors.js';
import type { CompareOptions, CompareResult, DumpEntry } from '../../../src/modules/audit/audit.types.js';
import { DuckDbCompareEngine } from '../../../src/modules/audit/compare.engine.js';
import { formatDumpLine, parseDumpLine, validateDump } from '../../../src/modules/audit/dump.parser.js';

const NOW = 1_700_000_000;
const AGE_DAYS = 5;
const OLD = NOW - 30 * 86_400;
const YOUNG = NOW - 3_600;

type Line = [path: string, size: number, mtime?: number];

function dump(lines: readonly Line[]): string {
  return lines
    .map(([p, size, mtime]) => (mtime === undefined ? `${p}\t${size}` : `${p}\t${size}\t${mtime}`))
    .join('\n');
}

const readLines = (file: string): string[] => {
  const text = fs.readFileSync(file, 'utf8');
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
};

describe('DuckDbCompareEngine', () => {
  let dir = '';
  let n = 0;
  const engine = new DuckDbCompareEngine({ memoryLimit: '512MB' });
  const write = (content: string | Buffer): string => {
    const file = path.join(dir, `dump-${n++}.tsv`);
    fs.writeFileSync(file, content);
    return file;
  };
  const compare = (options: Partial<CompareOptions> & Pick<CompareOptions, 'inventory' | 'listing'>) =>
    engine.compare({ now: NOW, ignoreAgeDays: AGE_DAYS, ignorePatterns: [], workDir: dir, ...options });

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-compare-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('gives the known answers on a small site', async () => {
    const inventory = write(
      dump([
        ['/store/mc/a/ok1.root', 100, OLD],
        ['/store/mc/a/lost.root', 200, OLD],
        ['/store/mc/a/resized.root', 300, OLD],
        ['/store/mc/a/fresh in inventory.root', 400, YOUNG],
        ['/store/mc/with space/file one.root', 500, OLD],
        ['/store/mc/with space/gone file.root', 600],
        ['/store/mc/broken/x.root', 700, OLD],
        ['/store/mc/writing/part0.root', 50, YOUNG],
        ['/store/mc/writing/part1.root', 800, OLD],
        ['/store/unmerged/inv-only.root', 900, OLD],
        ['/store/mc/', 0, OLD],
      ]),
    );
    const listing = write(
      `${dump([
        ['/store/', 0, OLD],
        ['/store/mc/', 0, OLD],
        ['/store/mc/a/', 0, OLD],
        ['/store/mc/a/ok1.root', 100, OLD],
        ['/store/mc/a/resized.root', 301, OLD],
        ['/store/mc/a/dark.root', 42, OLD],
        ['/store/mc/a/it\'s "q" \\x.root', 44],
        ['/store/mc/a/new upload.root', 43, YOUNG],
        ['/store/mc/with space/', 0, OLD],
        ['/store/mc/with space/file one.root', 500, OLD],
        ['/store/mc/empty1/', 0, OLD],
        ['/store/mc/empty1/empty2/', 0, OLD],
        ['/store/mc/empty1/empty2/empty3/', 0, OLD],
        ['/store/mc/empty1/sibling/', 0],
        ['/store/mc/holder/', 0, OLD],
        ['/store/mc/holder/justmade/', 0, YOUNG],
        ['/store/mc/broken/', 0, OLD],
        ['/store/mc/broken/partial.root', 1, OLD],
        ['/store/mc/above-unlisted/', 0, OLD],
        ['/store/mc/writing/', 0, OLD],
        ['/store/mc/writing/part0.root', 51, YOUNG],
        ['/store/mc/writing/sub/', 0, OLD],
        ['/store/unmerged/', 0, OLD],
        ['/store/unmerged/tmp.root', 5, OLD],
        ['/store/unmerged/emptyign/', 0, OLD],
      ])}\n`,
    );
    const out = path.join(dir, 'T2_TEST');
    const result = await compare({
      inventory,
      listing,
      out,
      ignorePatterns: ['/store/unmerged/'],
      unlisted: ['/store/mc/broken', '/store/mc/above-unlisted/child/'],
    });
    assert.deepEqual(result, {
      missing: 3,
      orphans: 2,
      sizeMismatches: 1,
      emptyDirs: 4,
      missingBytes: 200 + 600 + 900,
      orphanBytes: 42 + 44,
      reports: {
        missing: `${out}_missing.txt`,
        orphan: `${out}_orphan.txt`,
        sizeMismatch: `${out}_size_mismatch.txt`,
        empty: `${out}_empty.txt`,
      },
    } satisfies CompareResult);
    assert.deepEqual(readLines(`${out}_missing.txt`), [
      '/store/mc/a/lost.root',
      '/store/mc/with space/gone file.root',
      '/store/unmerged/inv-only.root',
    ]);
    assert.deepEqual(readLines(`${out}_orphan.txt`), [
      '/store/mc/a/dark.root',
      '/store/mc/a/it\'s "q" \\x.root',
    ]);
    assert.deepEqual(readLines(`${out}_size_mismatch.txt`), ['/store/mc/a/resized.root']);
    assert.deepEqual(readLines(`${out}_empty.txt`), [
      '/store/mc/empty1/empty2/empty3/',
      '/store/mc/empty1/empty2/',
      '/store/mc/empty1/sibling/',
      '/store/mc/empty1/',
    ]);
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.startsWith('T2_TEST')),
      ['T2_TEST_empty.txt', 'T2_TEST_missing.txt', 'T2_TEST_orphan.txt', 'T2_TEST_size_mismatch.txt'],
      'no temporary report files are left',
    );
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.startsWith('custodian-audit-')),
      [],
      'the scratch directory is removed',
    );
  });

  it('reports nothing for identical dumps and hides everything when every listed file is young', async () => {
    const lines: Line[] = [
      ['/s/a', 1, OLD],
      ['/s/b', 2, YOUNG],
    ];
    const same = await compare({ inventory: write(dump(lines)), listing: write(dump(lines)) });
    assert.deepEqual(same, {
      missing: 0,
      orphans: 0,
      sizeMismatches: 0,
      emptyDirs: 0,
      missingBytes: 0,
      orphanBytes: 0,
    });
    const allYoung = await compare({
      inventory: write(dump([['/s/gone', 1, OLD]])),
      listing: write(dump([['/s/new', 1, YOUNG]])),
    });
    assert.equal(allYoung.missing, 0);
    const noMtime = await compare({
      inventory: write(dump([['/s/gone', 1]])),
      listing: write(dump([['/s/new', 1]])),
    });
    assert.deepEqual([noMtime.missing, noMtime.orphans], [1, 1]);
  });

  it('counts a path listed twice once, and any differing pair of old entries as a size mismatch', async () => {
    const result = await compare({
      inventory: write(
        dump([
          ['/d/x', 5, OLD],
          ['/d/x', 5, OLD],
          ['/d/m', 7, OLD],
          ['/d/m', 9, OLD],
          ['/d/two sizes', 5, OLD],
          ['/d/two sizes', 7, OLD],
          ['/d/young twin', 5, YOUNG],
          ['/d/young twin', 7, OLD],
        ]),
      ),
      listing: write(
        dump([
          ['/d/x', 5, OLD],
          ['/d/o', 3, OLD],
          ['/d/o', 4, OLD],
          ['/d/y', 3, OLD],
          ['/d/y', 4, YOUNG],
          ['/d/two sizes', 7, OLD],
          ['/d/young twin', 7, OLD],
        ]),
      ),
    });
    assert.deepEqual(result, {
      missing: 1,
      orphans: 1,
      sizeMismatches: 1,
      emptyDirs: 0,
      missingBytes: 9,
      orphanBytes: 4,
    });
  });

  for (const [title, keyBits, size] of [
    ['on a random site of ~20,000 entries', 64, 20_000],
    ['when most paths share a hash key (2 bits)', 2, 3_000],
    ['when some paths share a hash key (12 bits)', 12, 3_000],
  ] as const)
    it(`agrees with an in-memory reference ${title}`, async () => {
      const site = randomSite(size, 42 + keyBits);
      const inventory = write(site.inventory.map((e) => `${formatDumpLine(e)}\n`).join(''));
      const listing = write(site.listing.map((e) => `${formatDumpLine(e)}\n`).join(''));
      const out = path.join(dir, `random-${keyBits}`);
      const options = { ignorePatterns: site.ignorePatterns, unlisted: site.unlisted };
      const result = await new DuckDbCompareEngine({ keyBits }).compare({
        now: NOW,
        ignoreAgeDays: AGE_DAYS,
        workDir: dir,
        inventory,
        listing,
        out,
        ...options,
      });
      const expected = reference(site.inventory, site.listing, {
        now: NOW,
        ignoreAgeDays: AGE_DAYS,
        ...options,
      });
      assert.ok(expected.missing.length > 20 && expected.orphan.length > 20, 'the site has differences');
      assert.ok(expected.mismatch.length > 5 && expected.empty.length > 5, 'and mismatches and empty dirs');
      assert.deepEqual(readLines(`${out}_missing.txt`), expected.missing);
      assert.deepEqual(readLines(`${out}_orphan.txt`), expected.orphan);
      assert.deepEqual(readLines(`${out}_size_mismatch.txt`), expected.mismatch);
      assert.deepEqual(readLines(`${out}_empty.txt`), expected.empty);
      assert.deepEqual(
        { ...result, reports: undefined },
        {
          missing: expected.missing.length,
          orphans: expected.orphan.length,
          sizeMismatches: expected.mismatch.length,
          emptyDirs: expected.empty.length,
          missingBytes: expected.missingBytes,
          orphanBytes: expected.orphanBytes,
          reports: undefined,
        },
      );
    });

  it('refuses malformed dumps, naming the file and line', async () => {
    const good = write(dump([['/s/a', 1, OLD]]));
    const cases: [content: string | Buffer, line: number, pattern: RegExp][] = [
      ['/s/a\t1\n/s/b\tlarge\n', 2, /size "large"/],
      ['/s/a\t1\n/s/b\n', 2, /no size field/],
      ['/s/a\t1\n\ns/relative\t1\n', 3, /not absolute/],
      ['/s/a\t1\t2\t3\n', 1, /4 tab-separated fields/],
      ['/s/a\t1\r\n', 1, /CRLF/],
      ['/s/a\t1\n/s/b\t1\tnoon\n', 2, /mtime "noon"/],
      ['/s/\0\t1\n', 1, /NUL/],
      [`/s/a\t1\n/${'p'.repeat(65_549)}\t1\n`, 2, /path is longer than 65536 bytes/],
      [`/s/a\t1\n/s/b\t2\n/${'q'.repeat(2_000_000)}\t1\n`, 3, /line is longer than/],
      [
        Buffer.concat([
          Buffer.from('/s/a\t1\n/s/'),
          Buffer.from([0xc3, 0x28, 0xff, 0, 7]),
          Buffer.from('\t1\n'),
        ]),
        2,
        /UTF-8/,
      ],
    ];
    for (const [content, line, pattern] of cases) {
      const bad = write(content);
      for (const [inventory, listing] of [
        [bad, good],
        [good, bad],
      ] as const) {
        await assert.rejects(compare({ inventory, listing }), (error: unknown) => {
          assert.ok(error instanceof InputError, String(error));
          assert.equal(error.code, 'AUDIT_BAD_DUMP');
          assert.match(error.message, pattern);
          assert.ok(error.message.includes(`dump ${bad}, line ${line}:`), error.message);
          return true;
        });
      }
    }
    await assert.rejects(compare({ inventory: path.join(dir, 'absent.tsv'), listing: good }), {
      code: 'AUDIT_DUMP_UNREADABLE',
      message: new RegExp(`absent\\.tsv`),
    });
  });

  it('accepts exactly the lines dump.parser.ts accepts', async () => {
    const field = (values: string[]) => fc.constantFrom(...values);
    const sizes = [
      '1',
      '007',
      '',
      ' 1',
      '+1',
      '1.5',
      '1e3',
      '0x10',
      '-1',
      '١',
      '9007199254740991',
      '9007199254740992',
      '12345678901234567',
      '00000000000000001',
      '1_0',
      'x',
    ];
    const mtimes = [...sizes, '1.5', '1.', '.5', '1.123456789', '1.1234567891', '0.0', 'inf', 'NaN'];
    const paths = [
      '/a',
      'a',
      '',
      ' /a',
      '/a b',
      '/a\u0000b',
      '/é/ü',
      '/d/',
      '/"q"\\',
      '\ufeff/a',
      '//x',
      '/\u0001',
    ];
    const valid = fc
      .tuple(
        field(['/a', '/a b', '/é/ü', '/d/', '/"q"\\', '//x', '/\u0001']),
        field(['0', '1', '007', '9007199254740991']),
      )
      .chain(([p, s]) => field([`${p}\t${s}`, `${p}\t${s}\t1`, `${p}\t${s}\t1.5`, `${p}\t${s}\t`]));
    const raw = fc.oneof(
      { arbitrary: valid, weight: 20 },
      fc.tuple(field(paths), field(sizes)).map(([p, s]) => `${p}\t${s}`),
      fc.tuple(field(paths), field(sizes), field(mtimes)).map(([p, s, m]) => `${p}\t${s}\t${m}`),
      fc.tuple(field(paths), field(sizes), field(mtimes), field(['', 'x'])).map((f) => f.join('\t')),
      field([
        '',
        '\t',
        '/a',
        '/a\t1\r',
        '/a\r\t1',
        '\t\t',
        '/a\t\t1',
        '/a\t1\t1\t',
        '/a\t1\t\t\t',
        '/a\t1\t\t\t5',
      ]),
    );
    const content = fc
      .tuple(
        fc.array(raw, { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        fc.constantFrom<Buffer[]>([], [], [], [], [Buffer.from([0xff])], [Buffer.from([0xed, 0xa0, 0x80])]),
      )
      .map(([lines, finalNewline, garbage]) =>
        Buffer.concat([Buffer.from(lines.join('\n') + (finalNewline ? '\n' : '')), ...garbage]),
      );
    const good = write(dump([['/s/a', 1, OLD]]));
    await fc.assert(
      fc.asyncProperty(content, fc.boolean(), async (bytes, asListing) => {
        const file = write(bytes);
        const expected = await validateDump(file).then(
          () => undefined,
          (error: unknown) => error,
        );
        const actual = await compare(
          asListing ? { inventory: good, listing: file } : { inventory: file, listing: good },
        ).then(
          () => undefined,
          (error: unknown) => error,
        );
        if (expected === undefined)
          assert.equal(
            actual,
            undefined,
            `engine refused ${JSON.stringify(bytes.toString())}: ${String(actual)}`,
          );
        else {
          assert.ok(actual instanceof InputError, `engine accepted ${JSON.stringify(bytes.toString())}`);
          assert.equal(actual.message, (expected as Error).message);
        }
      }),
      { numRuns: 80 },
    );
  });

  it('stops when aborted and leaves no scratch directory', async () => {
    const file = write(dump([['/s/a', 1, OLD]]));
    await assert.rejects(compare({ inventory: file, listing: file, signal: AbortSignal.abort() }), {
      name: 'AbortError',
    });
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.startsWith('custodian-audit-')),
      [],
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The reference: the rules of compare.engine.ts written plainly, with every path in memory.

interface ReferenceOptions {
  now: number;
  ignoreAgeDays: number;
  ignorePatterns: readonly string[];
  unlisted: readonly string[];
}

interface ReferenceResult {
  missing: string[];
  orphan: string[];
  mismatch: string[];
  empty: string[];
  missingBytes: number;
  orphanBytes: number;
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const parentOf = (p: string) => p.slice(0, p.lastIndexOf('/') + 1);
function ancestors(dirPath: string): string[] {
  const out: string[] = [];
  for (let i = dirPath.indexOf('/'); i !== -1; i = dirPath.indexOf('/', i + 1))
    out.push(dirPath.slice(0, i + 1));
  return out;
}

function merge(
  entries: readonly DumpEntry[],
  directories: boolean,
): Map<string, { size: number; mtime?: number }> {
  const map = new Map<string, { size: number; mtime?: number }>();
  for (const e of entries) {
    if (e.directory !== directories) continue;
    const seen = map.get(e.path);
    const mtime =
      seen?.mtime === undefined
        ? e.mtime
        : e.mtime === undefined
          ? seen.mtime
          : Math.max(seen.mtime, e.mtime);
    map.set(e.path, { size: Math.max(seen?.size ?? 0, e.size), ...(mtime === undefined ? {} : { mtime }) });
  }
  return map;
}

function reference(
  inventory: readonly DumpEntry[],
  listing: readonly DumpEntry[],
  o: ReferenceOptions,
): ReferenceResult {
  const cutoff = o.now - o.ignoreAgeDays * 86_400;
  const young = (m?: number) => m !== undefined && m > cutoff;
  const ignored = (p: string) => o.ignorePatterns.some((pattern) => p.includes(pattern));
  const inv = merge(inventory, false);
  const files = merge(listing, false);
  const dirs = merge(listing, true);
  const unlisted = new Set(o.unlisted.map((u) => (u.endsWith('/') ? u : `${u}/`)));
  const subtreeFiles = new Map<string, { count: number; min: number }>();
  for (const [p, f] of files)
    for (const a of ancestors(parentOf(p))) {
      const s = subtreeFiles.get(a) ?? { count: 0, min: Infinity };
      subtreeFiles.set(a, { count: s.count + 1, min: Math.min(s.min, f.mtime ?? -Infinity) });
    }
  const writing = new Set([...subtreeFiles].filter(([, s]) => s.count > 0 && s.min > cutoff).map(([a]) => a));
  const hiddenDir = (d: string) => ancestors(d).some((a) => writing.has(a) || unlisted.has(a));
  const r: ReferenceResult = {
    missing: [],
    orphan: [],
    mismatch: [],
    empty: [],
    missingBytes: 0,
    orphanBytes: 0,
  };
  for (const [p, i] of inv)
    if (!files.has(p) && !young(i.mtime) && !hiddenDir(parentOf(p))) {
      r.missing.push(p);
      r.missingBytes += i.size;
    }
  const oldSizes = (entries: readonly DumpEntry[]) => {
    const map = new Map<string, number[]>();
    for (const e of entries)
      if (!e.directory && !young(e.mtime)) map.set(e.path, [...(map.get(e.path) ?? []), e.size]);
    return map;
  };
  const inventorySizes = oldSizes(inventory);
  for (const [p, listed] of oldSizes(listing)) {
    const held = inventorySizes.get(p);
    if (held && !hiddenDir(parentOf(p)) && held.some((a) => listed.some((b) => a !== b))) r.mismatch.push(p);
  }
  for (const [p, l] of files)
    if (!inv.has(p) && !young(l.mtime) && !ignored(p) && !hiddenDir(parentOf(p))) {
      r.orphan.push(p);
      r.orphanBytes += l.size;
    }
  for (const [d] of dirs) {
    if (subtreeFiles.has(d) || hiddenDir(d)) continue;
    const blocked = [...dirs].some(([e, m]) => e.startsWith(d) && (young(m.mtime) || ignored(e)));
    if (blocked || [...unlisted].some((u) => u.startsWith(d))) continue;
    r.empty.push(d);
  }
  r.missing.sort(byteOrder);
  r.orphan.sort(byteOrder);
  r.mismatch.sort(byteOrder);
  const depth = (d: string) => d.split('/').length;
  r.empty.sort((a, b) => depth(b) - depth(a) || byteOrder(a, b));
  return r;
}

/** A deterministic random site: a directory tree with odd names, an inventory and a listing that differ. */
function randomSite(size: number, seed: number) {
  let state = seed >>> 0;
  const rand = () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
  const names = [
    'mc',
    'data',
    'run 1',
    "it's",
    '"q"',
    'back\\slash',
    'é',
    '日本',
    '%20',
    'a,b',
    'tmp',
    'RunII',
  ];
  const dirs: string[] = ['/store/'];
  while (dirs.length < 300) {
    const parent = pick(dirs);
    if (parent.split('/').length > 6) continue;
    const child = `${parent}${pick(names)}${dirs.length}/`;
    dirs.push(child);
  }
  const writingDirs = new Set(dirs.filter(() => rand() < 0.03));
  const mtime = (d: string): number | undefined => {
    if ([...writingDirs].some((w) => d.startsWith(w))) return YOUNG - Math.floor(rand() * 1000);
    const r = rand();
    return r < 0.05 ? undefined : r < 0.12 ? YOUNG : OLD + Math.floor(rand() * 1000);
  };
  const inventory: DumpEntry[] = [];
  const listing: DumpEntry[] = [];
  for (let i = 0; listing.length + inventory.length < size * 2; i++) {
    const d = pick(dirs);
    const p = `${d}${pick(names)} file ${i}.root`;
    const s = Math.floor(rand() * 1e9);
    const r = rand();
    const file = (sz: number, m: number | undefined): DumpEntry => ({
      path: p,
      size: sz,
      directory: false,
      ...(m === undefined ? {} : { mtime: m }),
    });
    if (r < 0.9) {
      inventory.push(file(s, mtime(d)));
      listing.push(file(rand() < 0.03 ? s + 1 : s, mtime(d)));
    } else if (r < 0.95) inventory.push(file(s, mtime(d)));
    else listing.push(file(s, mtime(d)));
    if (rand() < 0.005) listing.push(file(s, mtime(d)));
  }
  for (const d of dirs) {
    if (rand() < 0.8)
      listing.push({
        path: d,
        size: 4096,
        directory: true,
        ...(rand() < 0.1 ? { mtime: YOUNG } : { mtime: OLD }),
      });
    if (rand() < 0.2)
      for (const e of ['empty/', 'empty/deeper/', 'other/'])
        listing.push({ path: `${d}${e}`, size: 0, directory: true, mtime: OLD });
    if (rand() < 0.05) inventory.push({ path: d, size: 0, directory: true });
  }
  // Shuffle, so neither dump is in any order.
  for (const list of [inventory, listing])
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [list[i], list[j]] = [list[j] as DumpEntry, list[i] as DumpEntry];
    }
  for (const e of [...inventory, ...listing]) assert.ok(parseDumpLine(formatDumpLine(e)).ok, e.path);
  return {
    inventory,
    listing,
    ignorePatterns: ['/tmp', "it's1"],
    unlisted: [pick(dirs), pick(dirs).slice(0, -1)],
  };
}
