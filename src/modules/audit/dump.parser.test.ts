import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { InputError } from '../../core/errors.js';
import type { DumpEntry } from './audit.types.js';
import {
  MAX_LINE_BYTES,
  formatDumpLine,
  parseDumpLine,
  readDumpEntries,
  validateDump,
  type DumpLineResult,
} from './dump.parser.js';

function entryOf(result: DumpLineResult): DumpEntry {
  assert.ok(result.ok, result.ok ? '' : result.problem);
  return result.entry;
}

function problemOf(line: string): string {
  const result = parseDumpLine(line);
  assert.ok(!result.ok, `expected a problem for ${JSON.stringify(line)}`);
  return result.problem;
}

/** A path character: anything but TAB, LF, CR and NUL (lone surrogates are not UTF-8). */
const pathChar = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 1 })
  .filter((c) => !/[\t\n\r\0]/.test(c));
const pathArb = fc
  .array(pathChar, { maxLength: 40 })
  .map((chars) => `/${chars.join('')}`)
  .filter((p) => p !== '');
const mtimeArb = fc.oneof(
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc
    .tuple(fc.integer({ min: 0, max: 4_000_000_000 }), fc.stringMatching(/^[0-9]{1,9}$/))
    .map(([s, f]) => Number(`${s}.${f}`)),
);
const entryArb: fc.Arbitrary<DumpEntry> = fc
  .record(
    { path: pathArb, size: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), mtime: fc.option(mtimeArb) },
    { requiredKeys: ['path', 'size', 'mtime'] },
  )
  .map(({ path: p, size, mtime }) => ({
    path: p,
    size,
    directory: p.endsWith('/'),
    ...(mtime === null ? {} : { mtime }),
  }));

describe('parseDumpLine', () => {
  it('reads files and directories, with and without mtime, paths with spaces and quotes', () => {
    assert.deepEqual(entryOf(parseDumpLine('/store/mc/a b/"x" \\y.root\t1234\t1600000000')), {
      path: '/store/mc/a b/"x" \\y.root',
      size: 1234,
      mtime: 1600000000,
      directory: false,
    });
    assert.deepEqual(entryOf(parseDumpLine('/store/mc/\t4096')), {
      path: '/store/mc/',
      size: 4096,
      directory: true,
    });
    assert.equal(entryOf(parseDumpLine('/a\t0\t1600000000.25')).mtime, 1600000000.25);
    assert.equal(entryOf(parseDumpLine('/a\t007')).size, 7);
    assert.equal(entryOf(parseDumpLine('/ctl\u0001\u007f\t1')).path, '/ctl\u0001\u007f');
  });

  it('takes an empty mtime field as no mtime, and ignores tabs at the end of the line', () => {
    assert.deepEqual(entryOf(parseDumpLine('/a\t5\t')), { path: '/a', size: 5, directory: false });
    assert.deepEqual(entryOf(parseDumpLine('/a\t5\t\t\t')), { path: '/a', size: 5, directory: false });
    assert.equal(entryOf(parseDumpLine('/a\t5\t9\t\t')).mtime, 9);
    assert.match(problemOf('/a\t5\t\t9'), /4 tab-separated fields/);
  });

  it('names what is wrong', () => {
    assert.match(problemOf('relative/path\t1'), /not absolute/);
    assert.match(problemOf('/a'), /no size field/);
    assert.match(problemOf('/a\t'), /empty size/);
    assert.match(problemOf('\t1'), /empty path/);
    assert.match(problemOf('/a\tabc'), /size "abc" is not a non-negative integer/);
    assert.match(problemOf('/a\t-1'), /size "-1"/);
    assert.match(problemOf('/a\t1.5'), /size "1.5"/);
    assert.match(problemOf('/a\t 1'), /size " 1"/);
    assert.match(problemOf('/a\t1e3'), /size "1e3"/);
    assert.match(problemOf('/a\t9007199254740992'), /size/);
    assert.match(problemOf('/a\t12345678901234567'), /size/);
    assert.match(problemOf('/a\t1\tyesterday'), /mtime "yesterday"/);
    assert.match(problemOf('/a\t1\t1.1234567891'), /mtime/);
    assert.match(problemOf('/a\t1\t-5'), /mtime/);
    assert.match(problemOf('/a\t1\t2\t3'), /4 tab-separated fields/);
    assert.match(problemOf('/a\t1\r'), /CRLF/);
    assert.match(problemOf('/a\rb\t1'), /carriage return/);
    assert.match(problemOf('/a\0b\t1'), /NUL/);
    assert.match(problemOf(''), /empty line/);
    assert.match(problemOf(`/${'x'.repeat(70_000)}\t1`), /longer than/);
  });

  it('never throws, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (line) => {
        const result = parseDumpLine(line);
        if (result.ok) assert.ok(result.entry.path.startsWith('/'));
        else assert.equal(typeof result.problem, 'string');
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips every valid entry through formatDumpLine', () => {
    fc.assert(
      fc.property(entryArb, (entry) => {
        assert.deepEqual(entryOf(parseDumpLine(formatDumpLine(entry))), entry);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives back exactly what it accepted', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (line) => {
        const result = parseDumpLine(line);
        if (result.ok) assert.deepEqual(entryOf(parseDumpLine(formatDumpLine(result.entry))), result.entry);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('validateDump', () => {
  let dir = '';
  let n = 0;
  const write = (content: string | Buffer): string => {
    const file = path.join(dir, `dump-${n++}.tsv`);
    fs.writeFileSync(file, content);
    return file;
  };
  const rejects = async (file: string, code: string, pattern: RegExp) => {
    await assert.rejects(validateDump(file), (error: unknown) => {
      assert.ok(error instanceof InputError, String(error));
      assert.equal(error.code, code);
      assert.match(error.message, pattern);
      assert.ok(error.message.includes(file), error.message);
      return true;
    });
  };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-dump-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('counts files and directories, skipping empty lines and a byte order mark', async () => {
    const file = write('\ufeff/a/\t0\n/a/b c\t5\t100\n\n/a/d\t7\n\n');
    assert.deepEqual(await validateDump(file), { entries: 3, files: 2, directories: 1 });
    const lines = [];
    for await (const l of readDumpEntries(file)) lines.push(l.line);
    assert.deepEqual(lines, [1, 2, 4]);
    assert.deepEqual(await validateDump(write('')), { entries: 0, files: 0, directories: 0 });
    assert.deepEqual(await validateDump(write('/x\t1')), { entries: 1, files: 1, directories: 0 });
  });

  it('names the file and the 1-based line of the first bad line', async () => {
    await rejects(write('/a\t1\n/b\tbig\n/c\tx\n'), 'AUDIT_BAD_DUMP', /line 2: size "big"/);
    await rejects(
      write('/a\t1\n\nstore/b\t1\n'),
      'AUDIT_BAD_DUMP',
      /line 3: path "store\/b" is not absolute/,
    );
    await rejects(write('/a\t1\r\n/b\t2\r\n'), 'AUDIT_BAD_DUMP', /line 1: .*CRLF/);
    await rejects(write('/a\n'), 'AUDIT_BAD_DUMP', /line 1: no size field/);
    await rejects(
      write(
        Buffer.concat([Buffer.from('/ok\t1\n/a'), Buffer.from([0xff, 0xfe, 0x00]), Buffer.from('\t1\n')]),
      ),
      'AUDIT_BAD_DUMP',
      /line 2: not valid UTF-8/,
    );
  });

  it('bounds line length, across read chunks too', async () => {
    await rejects(write(`/a\t1\n/${'x'.repeat(3 << 20)}`), 'AUDIT_BAD_DUMP', /line 2: line is longer than/);
    const long = `/${'y'.repeat(MAX_LINE_BYTES + 10)}\t1\n`;
    await rejects(write(`/a\t1\n${long}`), 'AUDIT_BAD_DUMP', /line 2: line is longer than/);
  });

  it('reads lines split across chunks', async () => {
    const lines = Array.from({ length: 30_000 }, (_, i) => `/store/dir ${i % 7}/file-${i}.root\t${i}\t${i}`);
    const file = write(`${lines.join('\n')}\n`);
    let count = 0;
    for await (const { line, entry } of readDumpEntries(file)) {
      count++;
      assert.equal(formatDumpLine(entry), lines[line - 1]);
    }
    assert.equal(count, lines.length);
  });

  it('refuses a missing file or a directory as unreadable', async () => {
    await rejects(path.join(dir, 'nope.tsv'), 'AUDIT_DUMP_UNREADABLE', /no such file/);
    await rejects(dir, 'AUDIT_DUMP_UNREADABLE', /not a regular file/);
  });

  it('stops when aborted', async () => {
    const file = write('/a\t1\n');
    await assert.rejects(validateDump(file, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  });

  it('finds the inserted bad line, and only throws InputError on garbage', async () => {
    const badLine = fc.string({ unit: 'binary', maxLength: 30 }).filter((l) => {
      const r = parseDumpLine(l);
      return !r.ok && l !== '' && !l.includes('\n') && !l.startsWith('\ufeff');
    });
    await fc.assert(
      fc.asyncProperty(fc.array(entryArb, { maxLength: 20 }), badLine, fc.nat(), async (entries, bad, at) => {
        const lines = entries.map(formatDumpLine);
        const index = at % (lines.length + 1);
        lines.splice(index, 0, bad);
        await rejects(write(`${lines.join('\n')}\n`), 'AUDIT_BAD_DUMP', new RegExp(`line ${index + 1}: `));
      }),
      { numRuns: 200 },
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        try {
          await validateDump(write(Buffer.from(bytes)));
        } catch (error) {
          assert.ok(error instanceof InputError && error.code === 'AUDIT_BAD_DUMP', String(error));
        }
      }),
      { numRuns: 300 },
    );
  });
});
