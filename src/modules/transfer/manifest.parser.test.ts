import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatManifestLine, normalizeManifestPath, parseManifest } from './manifest.parser.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('parseManifest', () => {
  it('reads text and binary mode lines, spaces and subdirectories, with or without a final newline', () => {
    const text = `${A}  plain.fits\n${B} *dir/sub/with space .fits\n${A.toUpperCase()}   leading space`;
    assert.deepEqual(parseManifest(text), {
      entries: [
        { path: 'plain.fits', sha256: A, line: 1 },
        { path: 'dir/sub/with space .fits', sha256: B, line: 2 },
        { path: ' leading space', sha256: A, line: 3 },
      ],
      malformed: [],
    });
    assert.deepEqual(parseManifest(`${text}\n`), parseManifest(text));
  });

  it('tolerates CRLF line endings', () => {
    assert.deepEqual(parseManifest(`${A}  x\r\n${B}  y\r\n`).entries, [
      { path: 'x', sha256: A, line: 1 },
      { path: 'y', sha256: B, line: 2 },
    ]);
  });

  it('decodes GNU-escaped names', () => {
    assert.deepEqual(parseManifest(`\\${A}  back\\\\slash\\nnew`).entries, [
      { path: 'back\\slash\nnew', sha256: A, line: 1 },
    ]);
    assert.equal(parseManifest(`\\${A}  bad\\escape`).malformed.length, 1);
  });

  it('reports malformed lines with their numbers and text', () => {
    const text = [
      `${A}  ok`,
      'garbage',
      `${A.slice(1)}  short-hash`,
      `${A} one-space`,
      `${A}  /etc/passwd`,
      `${A}  ../escape`,
      `${A}  a/../b`,
      `${A}  dir//double`,
      `${A}  dir/`,
      `${A}  ok`,
      '',
      `${'g'.repeat(64)}  not-hex`,
      `${A}  `,
    ].join('\n');
    const parsed = parseManifest(text);
    assert.deepEqual(parsed.entries, [{ path: 'ok', sha256: A, line: 1 }]);
    assert.deepEqual(
      parsed.malformed.map((m) => m.line),
      [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
    );
    assert.deepEqual(parsed.malformed[1], { line: 3, text: `${A.slice(1)}  short-hash` });
  });

  it('treats ./ as the same file, so ./x after x is a duplicate', () => {
    const parsed = parseManifest(`${A}  x\n${B}  ./x\n`);
    assert.deepEqual(parsed.entries, [{ path: 'x', sha256: A, line: 1 }]);
    assert.deepEqual(parsed.malformed, [{ line: 2, text: `${B}  ./x` }]);
  });

  it('gives nothing for empty text', () => {
    assert.deepEqual(parseManifest(''), { entries: [], malformed: [] });
    assert.deepEqual(parseManifest('\n'), { entries: [], malformed: [{ line: 1, text: '' }] });
  });

  it('normalizeManifestPath refuses anything that leaves the directory', () => {
    assert.equal(normalizeManifestPath('./a/./b'), 'a/b');
    for (const bad of ['', '.', '/a', '..', 'a/..', 'a//b', 'a/', 'a\0b']) {
      assert.equal(normalizeManifestPath(bad), undefined, bad);
    }
  });
});

describe('parseManifest properties', () => {
  it('never throws, and every line is exactly one entry or one malformed line', () => {
    const lineArb = fc.oneof(
      fc.string({ unit: 'binary' }),
      fc
        .tuple(
          fc.stringMatching(/^[0-9a-fA-F]{60,66}$/),
          fc.constantFrom('  ', ' *', ' ', '\t'),
          fc.string({ unit: 'grapheme-ascii' }),
        )
        .map(([h, sep, p]) => `${h}${sep}${p}`),
    );
    fc.assert(
      fc.property(fc.array(lineArb, { maxLength: 20 }), fc.boolean(), (lines, crlf) => {
        const text = lines.join(crlf ? '\r\n' : '\n');
        const parsed = parseManifest(text);
        const numbers = [...parsed.entries.map((e) => e.line), ...parsed.malformed.map((m) => m.line)].sort(
          (a, b) => a - b,
        );
        const count = text === '' ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
        assert.deepEqual(
          numbers,
          Array.from({ length: count }, (_, i) => i + 1),
        );
        for (const entry of parsed.entries) {
          assert.match(entry.sha256, /^[0-9a-f]{64}$/);
          assert.ok(!entry.path.startsWith('/') && !entry.path.split('/').includes('..'));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips generated manifests, whatever the names hold', () => {
    const segment = fc
      .string({ unit: 'binary', minLength: 1, maxLength: 12 })
      .filter((s) => !s.includes('/') && !s.includes('\0') && s !== '.' && s !== '..');
    const entryArb = fc.record({
      path: fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/')),
      sha256: fc.stringMatching(/^[0-9a-f]{64}$/),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(entryArb, { selector: (e) => e.path, maxLength: 15 }),
        fc.boolean(),
        (entries, finalNewline) => {
          const text = entries.map((e) => formatManifestLine(e.sha256, e.path)).join('\n');
          const parsed = parseManifest(finalNewline && text !== '' ? `${text}\n` : text);
          assert.deepEqual(parsed.malformed, []);
          assert.deepEqual(
            parsed.entries,
            entries.map((e, i) => ({ ...e, line: i + 1 })),
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});
