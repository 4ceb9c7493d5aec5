import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { InputError } from '../../core/errors.js';
import {
  BLOCK,
  EMPTY_SHA256,
  INDEX_HEADER,
  MAX_OCTAL_11,
  RECORD,
  TarParser,
  decodeHeader,
  encodeHeader,
  encodePax,
  formatIndex,
  memberPathProblem,
  paddingAfter,
  parseIndex,
  parsePax,
  trailerLength,
  type TarEntry,
  type TarEvent,
} from './tar.format.js';
import type { ArchiveMember } from './transfer.types.js';

const segment = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 30 })
  .filter((s) => !s.includes('/') && !s.includes('\0') && s !== '.' && s !== '..');
/** Relative paths of 1–10 segments: spaces, unicode, and often too long for ustar. */
const filePath = fc.array(segment, { minLength: 1, maxLength: 10 }).map((parts) => parts.join('/'));
const entryArb: fc.Arbitrary<TarEntry> = fc
  .record({
    path: filePath,
    directory: fc.boolean(),
    size: fc.oneof(fc.nat(10_000), fc.constant(MAX_OCTAL_11), fc.constant(MAX_OCTAL_11 + 1), fc.maxSafeNat()),
    mode: fc.nat(0o7777),
    mtime: fc.oneof(fc.nat(2 ** 34), fc.integer({ min: -(2 ** 40), max: 2 ** 40 })),
    uid: fc.oneof(fc.nat(70_000), fc.nat(2 ** 31)),
    gid: fc.oneof(fc.nat(70_000), fc.nat(2 ** 31)),
    uname: fc.string({ maxLength: 40 }).filter((s) => !s.includes('\0')),
    gname: fc.string({ unit: 'grapheme', maxLength: 20 }).filter((s) => !s.includes('\0')),
  })
  .map(({ directory, path, size, ...rest }) => ({
    ...rest,
    type: directory ? ('directory' as const) : ('file' as const),
    path: directory ? `${path}/` : path,
    size: directory ? 0 : size,
  }));

/** Feeds `bytes` to a parser in chunks of `chunk` bytes and collects events (data copied). */
function parseAll(bytes: Uint8Array, chunk = bytes.length || 1): TarEvent[] {
  const parser = new TarParser();
  const events: TarEvent[] = [];
  for (let at = 0; at < bytes.length; at += chunk) {
    for (const event of parser.push(bytes.subarray(at, at + chunk))) {
      events.push(event.type === 'data' ? { type: 'data', bytes: Uint8Array.from(event.bytes) } : event);
    }
  }
  events.push(...parser.finish());
  return events;
}

function archive(members: ReadonlyArray<{ entry: TarEntry; data: Uint8Array }>): {
  bytes: Uint8Array;
  index: ArchiveMember[];
} {
  const parts: Uint8Array[] = [];
  const index: ArchiveMember[] = [];
  let offset = 0;
  for (const { entry, data } of members) {
    const header = encodeHeader(entry);
    index.push({
      path: entry.path,
      headerOffset: offset,
      dataOffset: offset + header.length,
      size: data.length,
      sha256: createHash('sha256').update(data).digest('hex'),
    });
    parts.push(header, data, new Uint8Array(paddingAfter(data.length)));
    offset += header.length + data.length + paddingAfter(data.length);
  }
  parts.push(new Uint8Array(trailerLength(offset)));
  return { bytes: Buffer.concat(parts), index };
}

describe('tar headers', () => {
  it('round-trips any member header through encode and parse (pax when ustar cannot hold it)', () => {
    fc.assert(
      fc.property(entryArb, (entry) => {
        const bytes = encodeHeader(entry);
        assert.equal(bytes.length % BLOCK, 0);
        const needsPax =
          Buffer.byteLength(entry.path) > 100 ||
          entry.size > MAX_OCTAL_11 ||
          entry.mtime < 0 ||
          entry.mtime > MAX_OCTAL_11 ||
          entry.uid > 0o7777777 ||
          entry.gid > 0o7777777 ||
          Buffer.byteLength(entry.uname) > 31 ||
          Buffer.byteLength(entry.gname) > 31;
        if (!needsPax) assert.equal(bytes.length, BLOCK);
        if (bytes.length > BLOCK) {
          const first = decodeHeader(bytes.subarray(0, BLOCK));
          assert.ok(first?.ok && first.header.typeflag === 'x', 'a pax header comes first');
        }
        const events = parseAll(bytes);
        const member = events.find((e) => e.type === 'member');
        assert.ok(member?.type === 'member', 'a member event');
        assert.equal(member.headerOffset, 0);
        assert.equal(member.dataOffset, bytes.length);
        assert.deepEqual(
          {
            path: member.header.path,
            typeflag: member.header.typeflag,
            size: member.header.size,
            mode: member.header.mode,
            mtime: member.header.mtime,
            uid: member.header.uid,
            gid: member.header.gid,
            uname: member.header.uname,
            gname: member.header.gname,
          },
          {
            path: entry.path,
            typeflag: entry.type === 'directory' ? '5' : '0',
            size: entry.size,
            mode: entry.mode,
            mtime: entry.mtime,
            uid: entry.uid,
            gid: entry.gid,
            uname: entry.uname,
            gname: entry.gname,
          },
        );
      }),
      { numRuns: 300 },
    );
  });

  it('writes plain ustar (magic, version, octal fields, checksum) for a short path', () => {
    const block = encodeHeader({
      path: '20261121/00001234/a b.fits',
      type: 'file',
      size: 1234,
      mode: 0o640,
      mtime: 1_700_000_000,
      uid: 1000,
      gid: 100,
      uname: 'obs',
      gname: 'users',
    });
    assert.equal(block.length, BLOCK);
    const text = (from: number, length: number) =>
      Buffer.from(block.subarray(from, from + length)).toString('latin1');
    assert.equal(text(0, 27), '20261121/00001234/a b.fits\0');
    assert.equal(text(100, 8), '0000640\0');
    assert.equal(text(124, 12), '00000002322\0');
    assert.equal(text(156, 1), '0');
    assert.equal(text(257, 8), 'ustar\x0000');
    assert.equal(text(265, 4), 'obs\0');
    const sum = block.reduce((n, b, i) => n + (i >= 148 && i < 156 ? 32 : b), 0);
    assert.equal(text(148, 8), `${sum.toString(8).padStart(6, '0')}\0 `);
  });

  it('splits a long path into prefix and name before resorting to pax', () => {
    const path = `${'p'.repeat(120)}/${'n'.repeat(90)}`;
    const bytes = encodeHeader({
      path,
      type: 'file',
      size: 0,
      mode: 0o644,
      mtime: 0,
      uid: 0,
      gid: 0,
      uname: '',
      gname: '',
    });
    assert.equal(bytes.length, BLOCK);
    const decoded = decodeHeader(bytes);
    assert.ok(decoded?.ok);
    assert.equal(decoded.header.path, path);
  });

  it('detects any changed byte of a header outside the checksum field', () => {
    const block = encodeHeader({
      path: 'night/exp/file.fits',
      type: 'file',
      size: 99,
      mode: 0o644,
      mtime: 5,
      uid: 1,
      gid: 2,
      uname: 'u',
      gname: 'g',
    });
    fc.assert(
      fc.property(
        fc.nat(BLOCK - 1).filter((i) => i < 148 || i >= 156),
        fc.integer({ min: 1, max: 255 }),
        (index, delta) => {
          const damaged = Uint8Array.from(block);
          damaged[index] = ((damaged[index] ?? 0) + delta) % 256;
          const decoded = decodeHeader(damaged);
          assert.ok(decoded !== undefined && !decoded.ok, `byte ${index} changed by ${delta} went unnoticed`);
        },
      ),
    );
  });

  it('reads an all-zero block as the end of the archive', () => {
    assert.equal(decodeHeader(new Uint8Array(BLOCK)), undefined);
  });

  it('refuses paths that cannot be members', () => {
    for (const path of ['', '/abs', 'a/../b', 'a//b', './a', 'nul\0x', 'lone\uD800']) {
      assert.ok(memberPathProblem(path) !== undefined, path);
      assert.throws(
        () =>
          encodeHeader({
            path,
            type: 'file',
            size: 0,
            mode: 0,
            mtime: 0,
            uid: 0,
            gid: 0,
            uname: '',
            gname: '',
          }),
        InputError,
      );
    }
    assert.throws(
      () =>
        encodeHeader({
          path: 'dir',
          type: 'directory',
          size: 0,
          mode: 0,
          mtime: 0,
          uid: 0,
          gid: 0,
          uname: '',
          gname: '',
        }),
      InputError,
    );
  });
});

describe('pax records', () => {
  it('round-trips records whose length prefix crosses a digit boundary', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.tuple(
            fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !k.includes('=') && !k.includes('\0')),
            fc.string({ unit: 'grapheme', maxLength: 300 }),
          ),
          { selector: ([key]) => key, maxLength: 6 },
        ),
        (records) => {
          const parsed = parsePax(encodePax(records));
          assert.equal(parsed.problem, undefined);
          assert.deepEqual([...parsed.records], records);
        },
      ),
    );
    // ` path=` + value + `\n` is 97 bytes for 90 x's: 99 with "99"; one more x needs "101".
    assert.ok(new TextDecoder().decode(encodePax([['path', 'x'.repeat(90)]])).startsWith('99 path='));
    assert.ok(new TextDecoder().decode(encodePax([['path', 'x'.repeat(91)]])).startsWith('101 path='));
  });

  it('reports malformed records instead of throwing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const parsed = parsePax(bytes);
        assert.ok(parsed.records instanceof Map);
      }),
    );
    assert.match(parsePax(new TextEncoder().encode('13 path=abc\n')).problem ?? '', /length/);
  });
});

describe('TarParser', () => {
  const members = fc.array(
    fc.tuple(entryArb, fc.uint8Array({ maxLength: 1500 })).map(([entry, data]) => ({
      entry: { ...entry, size: entry.type === 'directory' ? 0 : data.length },
      data: entry.type === 'directory' ? new Uint8Array(0) : data,
    })),
    { maxLength: 6 },
  );

  it('finds every member at its offsets with its data, whatever the chunking', () => {
    fc.assert(
      fc.property(members, fc.integer({ min: 1, max: 2000 }), (list, chunk) => {
        const { bytes, index } = archive(list);
        assert.equal(bytes.length % RECORD, 0);
        const events = parseAll(bytes, chunk);
        assert.ok(
          !events.some((e) => e.type === 'problem'),
          JSON.stringify(events.filter((e) => e.type === 'problem')),
        );
        const found: ArchiveMember[] = [];
        let hash = createHash('sha256');
        let current: Omit<ArchiveMember, 'sha256'> | undefined;
        for (const event of events) {
          if (event.type === 'member') {
            current = {
              path: event.header.path,
              headerOffset: event.headerOffset,
              dataOffset: event.dataOffset,
              size: event.header.size,
            };
            hash = createHash('sha256');
          } else if (event.type === 'data') hash.update(event.bytes);
          else if (event.type === 'memberEnd' && current)
            found.push({ ...current, sha256: hash.digest('hex') });
        }
        assert.deepEqual(found, index);
        assert.equal(events.at(-1)?.type, 'end');
      }),
      { numRuns: 200 },
    );
  });

  it('reports truncation anywhere before the end blocks', () => {
    const { bytes } = archive([
      {
        entry: {
          path: 'n/',
          type: 'directory',
          size: 0,
          mode: 0o755,
          mtime: 0,
          uid: 0,
          gid: 0,
          uname: '',
          gname: '',
        },
        data: new Uint8Array(0),
      },
      {
        entry: {
          path: `n/${'x'.repeat(150)}`,
          type: 'file',
          size: 700,
          mode: 0o644,
          mtime: 0,
          uid: 0,
          gid: 0,
          uname: '',
          gname: '',
        },
        data: new Uint8Array(700).fill(1),
      },
    ]);
    const endBlocks = 512 + 1536 + 1024 + 1024; // dir header, pax + ustar headers, padded data, two zero blocks
    fc.assert(
      fc.property(fc.nat(endBlocks - 1), (length) => {
        const events = parseAll(bytes.subarray(0, length), 97);
        const problems = events.filter((e) => e.type === 'problem');
        assert.equal(problems.length, 1);
        assert.match(problems[0]?.type === 'problem' ? problems[0].problem : '', /^truncated/);
      }),
    );
    assert.ok(!parseAll(bytes.subarray(0, endBlocks)).some((e) => e.type === 'problem'));
  });

  it('stops at a damaged header and resumes where it is told', () => {
    const entry = (path: string): TarEntry => ({
      path,
      type: 'file',
      size: 3,
      mode: 0o644,
      mtime: 0,
      uid: 0,
      gid: 0,
      uname: '',
      gname: '',
    });
    const data = new Uint8Array([1, 2, 3]);
    const { bytes, index } = archive([
      { entry: entry('a'), data },
      { entry: entry('b'), data },
      { entry: entry('c'), data },
    ]);
    const damaged = Uint8Array.from(bytes);
    const at = (index[1]?.headerOffset ?? 0) + 10;
    damaged[at] = (damaged[at] ?? 0) ^ 0xff;
    const parser = new TarParser();
    const seen: string[] = [];
    for (const event of parser.push(damaged)) {
      if (event.type === 'member') seen.push(event.header.path);
      if (event.type === 'problem') {
        seen.push(`problem@${event.offset}`);
        assert.ok(parser.resyncAt(index[2]?.headerOffset ?? 0));
      }
    }
    assert.deepEqual(parser.finish(), []);
    assert.deepEqual(seen, ['a', `problem@${index[1]?.headerOffset}`, 'c']);
  });

  it('reports bytes after the end blocks and a lone zero block', () => {
    const { bytes } = archive([]);
    const tail = Uint8Array.from(bytes);
    tail[tail.length - 1] = 7;
    assert.match(JSON.stringify(parseAll(tail)), /non-zero bytes after the end/);
    const file = encodeHeader({
      path: 'f',
      type: 'file',
      size: 0,
      mode: 0o644,
      mtime: 0,
      uid: 0,
      gid: 0,
      uname: '',
      gname: '',
    });
    const lone = Buffer.concat([new Uint8Array(BLOCK), file, new Uint8Array(2 * BLOCK)]);
    assert.match(JSON.stringify(parseAll(lone)), /lone zero block/);
  });
});

describe('index', () => {
  const memberArb: fc.Arbitrary<ArchiveMember> = fc
    .record({
      path: fc.oneof(
        filePath,
        filePath.map((p) => `${p}/`),
      ),
      header: fc.nat(2 ** 40),
      headerBlocks: fc.integer({ min: 1, max: 5 }),
      size: fc.maxSafeNat(),
      sha256: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex')),
    })
    .map(({ path, header, headerBlocks, size, sha256 }) => ({
      path,
      headerOffset: header * BLOCK,
      dataOffset: (header + headerBlocks) * BLOCK,
      size: path.endsWith('/') ? 0 : size,
      sha256: path.endsWith('/') ? EMPTY_SHA256 : sha256,
    }));

  it('round-trips members through formatIndex and parseIndex', () => {
    fc.assert(
      fc.property(fc.uniqueArray(memberArb, { selector: (m) => m.path, maxLength: 20 }), (members) => {
        const text = formatIndex(members);
        assert.ok(text.startsWith(`${INDEX_HEADER}\n`));
        assert.deepEqual(parseIndex(text), { members, problems: [] });
      }),
    );
  });

  it('refuses a path with a newline when writing', () => {
    assert.throws(
      () => formatIndex([{ path: 'a\nb', headerOffset: 0, dataOffset: 512, size: 0, sha256: EMPTY_SHA256 }]),
      (error: unknown) => error instanceof InputError && error.code === 'TRANSFER_ARCHIVE_BAD_PATH',
    );
  });

  it('never throws on garbage and accounts for every line', () => {
    const garbage = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 400 }),
      fc
        .array(fc.oneof(fc.constantFrom(INDEX_HEADER, `0 512 0 ${EMPTY_SHA256} a/`, '', ' '), fc.string()), {
          maxLength: 12,
        })
        .map((l) => l.join('\n')),
    );
    fc.assert(
      fc.property(garbage, (text) => {
        const { members, problems } = parseIndex(text);
        const lines = text.split('\n');
        if (lines.at(-1) === '') lines.pop();
        if (lines.length === 0) {
          assert.deepEqual(
            problems.map((p) => p.line),
            [0],
          );
          return;
        }
        const headerOk = lines[0] === INDEX_HEADER;
        assert.equal(members.length + problems.length, headerOk ? lines.length - 1 : lines.length);
        if (!headerOk) assert.equal(problems[0]?.line, 1);
        for (const problem of problems) assert.ok(problem.line >= 1 && problem.line <= lines.length);
      }),
      { numRuns: 500 },
    );
  });

  it('names the malformed lines', () => {
    const text = [
      INDEX_HEADER,
      `0 512 0 ${EMPTY_SHA256} n/`,
      'garbage',
      `512 1024 5 ${'A'.repeat(64)} n/upper-hash`,
      `512 1024 5 ${'a'.repeat(64)} n/../escape`,
      `513 1024 5 ${'a'.repeat(64)} n/unaligned`,
      `512 512 5 ${'a'.repeat(64)} n/no-header-room`,
      `1024 1536 5 ${'a'.repeat(64)} n/with space`,
      `1024 1536 5 ${'a'.repeat(64)} n/with space`,
      `99999999999999999999 1536 5 ${'a'.repeat(64)} n/huge`,
    ].join('\n');
    const { members, problems } = parseIndex(text);
    assert.deepEqual(
      members.map((m) => m.path),
      ['n/', 'n/with space'],
    );
    assert.deepEqual(
      problems.map((p) => p.line),
      [3, 4, 5, 6, 7, 9, 10],
    );
    assert.deepEqual(parseIndex('').problems, [{ line: 0, text: '', problem: 'the index is empty' }]);
  });
});
