import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InputError } from '../../core/errors.js';
import {
  XrdfsSubtreeReader,
  hasControlCharacter,
  parseFindRecords,
  parseStorageUrl,
  parseXrdfsListLine,
  parseXrdfsListing,
  parseXrdfsStat,
  quoteXrdfsArgument,
  splitXrdfsCommandLine,
  toStoragePath,
  topLevelSitePath,
  xrootdEndpoint,
  type StorageLocation,
} from './storage-url.parser.js';

function refusal(storage: string): InputError {
  try {
    parseStorageUrl(storage);
  } catch (error) {
    assert.ok(error instanceof InputError, `${JSON.stringify(storage)} threw ${String(error)}`);
    assert.equal(error.code, 'AUDIT_BAD_STORAGE');
    return error;
  }
  assert.fail(`${JSON.stringify(storage)} was accepted`);
}

/** Path segments without "/", ".", ".." or control characters. */
const segment = fc
  .string({ minLength: 1, maxLength: 12, unit: 'grapheme' })
  .filter((s) => !s.includes('/') && s !== '.' && s !== '..' && !hasControlCharacter(s));
const host = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,20}$/);
const port = fc.integer({ min: 1, max: 65535 });

describe('parseStorageUrl', () => {
  it('reads the three schemes, and the site namespace starts at the last path component', () => {
    assert.deepEqual(parseStorageUrl('root://127.0.0.1:1094//store'), {
      scheme: 'root',
      host: '127.0.0.1',
      port: 1094,
      path: '/store',
      namespace: '/store',
    });
    assert.deepEqual(parseStorageUrl('file:///tmp/x/store'), {
      scheme: 'file',
      path: '/tmp/x/store',
      namespace: '/store',
    });
    assert.deepEqual(parseStorageUrl('ssh://root@127.0.0.1:2222/tmp/x/store'), {
      scheme: 'ssh',
      user: 'root',
      host: '127.0.0.1',
      port: 2222,
      path: '/tmp/x/store',
      namespace: '/store',
    });
    assert.deepEqual(parseStorageUrl('ssh://gw/srv/store/'), {
      scheme: 'ssh',
      host: 'gw',
      path: '/srv/store',
      namespace: '/store',
    });
  });

  it('reads root://host/path (one slash) as root://host//path, and IPv6 hosts', () => {
    assert.deepEqual(parseStorageUrl('root://eos.example.org/eos/cms/store'), {
      scheme: 'root',
      host: 'eos.example.org',
      path: '/eos/cms/store',
      namespace: '/store',
    });
    assert.deepEqual(parseStorageUrl('ROOT://[::1]:1094///store//mc/'), {
      scheme: 'root',
      host: '::1',
      port: 1094,
      path: '/store/mc',
      namespace: '/mc',
    });
    assert.equal(
      xrootdEndpoint(
        parseStorageUrl('root://[::1]:1094//store') as Extract<StorageLocation, { scheme: 'root' }>,
      ),
      'root://[::1]:1094',
    );
    assert.equal(
      xrootdEndpoint(parseStorageUrl('root://h//store') as Extract<StorageLocation, { scheme: 'root' }>),
      'root://h',
    );
  });

  it('percent-decodes paths and accepts file://localhost/', () => {
    assert.deepEqual(parseStorageUrl('file://localhost/srv/my%20store'), {
      scheme: 'file',
      path: '/srv/my store',
      namespace: '/my store',
    });
  });

  it('refuses option injection, control characters, relative paths, "..", other schemes', () => {
    for (const bad of [
      '',
      '/srv/store',
      'srv/store',
      'http://h/store',
      'gsiftp://h/store',
      'ssh://-oProxyCommand=x/store',
      'ssh://-h/store',
      'ssh://-l@h/store',
      'root://-h//store',
      'ssh://h',
      'root://h',
      'ssh://h/',
      'root://h//',
      'file:///',
      'file://other/x',
      'ssh://h/store/../etc',
      'ssh://h/store/%2E%2E/etc',
      'file:///x/./y',
      'ssh://h/st%0Aore',
      'ssh://h/store\n',
      'root://h//st\u0085ore',
      'ssh://u:secret@h/store',
      'ssh://@h/store',
      'root://user@h//store',
      'ssh://h:0/store',
      'ssh://h:65536/store',
      'ssh://h:x/store',
      'ssh://h/store?x=1',
      'root://h//store#frag',
      'ssh://h/st%zzore',
      'ssh://[::1/store',
      'ssh://[zz]/store',
      'ssh://h_ö/store',
    ]) {
      refusal(bad);
    }
  });

  it('never shows a password in its message', () => {
    const error = refusal('ssh://u:hunter2@h/store');
    assert.ok(!error.message.includes('hunter2'));
  });

  it('property: well-formed URLs round-trip, and the namespace is / + the last segment', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('file', 'ssh', 'root'),
        host,
        fc.option(port, { nil: undefined }),
        fc.array(segment, { minLength: 1, maxLength: 5 }),
        (scheme, h, p, segments) => {
          const encoded = segments.map(encodeURIComponent).join('/');
          const authority = scheme === 'file' ? '' : `${h}${p === undefined ? '' : `:${p}`}`;
          const url = `${scheme}://${authority}${scheme === 'root' ? '//' : '/'}${encoded}`;
          const location = parseStorageUrl(url);
          assert.equal(location.scheme, scheme);
          assert.equal(location.path, `/${segments.join('/')}`);
          assert.equal(location.namespace, `/${segments[segments.length - 1]}`);
          if (location.scheme !== 'file') {
            assert.equal(location.host, h);
            assert.equal(location.port, p);
          }
        },
      ),
    );
  });

  it('property: anything else is either parsed into an absolute clean path or refused with AUDIT_BAD_STORAGE', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 40, unit: 'binary' }),
          fc
            .tuple(
              fc.constantFrom('file://', 'ssh://', 'root://', 'root:///', 'ssh://-'),
              fc.string({ unit: 'binary' }),
            )
            .map(([a, b]) => a + b),
        ),
        (text) => {
          let location: StorageLocation;
          try {
            location = parseStorageUrl(text);
          } catch (error) {
            assert.ok(error instanceof InputError);
            assert.equal(error.code, 'AUDIT_BAD_STORAGE');
            return;
          }
          assert.ok(location.path.startsWith('/') && location.path.length > 1);
          assert.ok(!hasControlCharacter(location.path));
          assert.ok(!location.path.split('/').some((s) => s === '..' || s === '.'));
          assert.ok(!location.path.includes('//') && !location.path.endsWith('/'));
          if (location.scheme !== 'file') assert.ok(!location.host.startsWith('-'));
          if (location.scheme === 'ssh' && location.user !== undefined)
            assert.ok(!location.user.startsWith('-'));
        },
      ),
    );
  });
});

describe('topLevelSitePath / toStoragePath', () => {
  const location = parseStorageUrl('file:///srv/x/store');

  it('maps configured directories into the namespace and back to storage paths', () => {
    assert.equal(topLevelSitePath(location, 'mc'), '/store/mc');
    assert.equal(topLevelSitePath(location, 'mc/2024/'), '/store/mc/2024');
    assert.equal(toStoragePath(location, '/store/mc/a b.root'), '/srv/x/store/mc/a b.root');
    assert.equal(toStoragePath(location, '/store'), '/srv/x/store');
    assert.throws(() => toStoragePath(location, '/storex/a'));
  });

  it('refuses absolute, empty, ".." and control-character directories', () => {
    for (const bad of ['/mc', '', '/', 'mc/../..', '.', 'mc\nx']) {
      assert.throws(
        () => topLevelSitePath(location, bad),
        (e: unknown) => e instanceof InputError && e.code === 'AUDIT_BAD_DIRECTORY',
      );
    }
  });
});

describe('quoteXrdfsArgument', () => {
  it('quotes so that xrdfs reads one word, whatever the quotes and spaces', () => {
    assert.equal(quoteXrdfsArgument('/store/a b'), '"/store/a b"');
    assert.equal(quoteXrdfsArgument(`/q'uo"te`), `"/q'uo"'"'"te"`);
    assert.deepEqual(splitXrdfsCommandLine(`ls -l ${quoteXrdfsArgument(`/a  "b" 'c'`)}`).words, [
      'ls',
      '-l',
      `/a  "b" 'c'`,
    ]);
    assert.throws(() => quoteXrdfsArgument('/a\nb'));
  });

  it('property: any path without control characters survives the xrdfs tokenizer as one word', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, unit: 'grapheme' }).filter((s) => !hasControlCharacter(s)),
        (text) => {
          const { words, complete } = splitXrdfsCommandLine(`ls -l ${quoteXrdfsArgument(text)}`);
          assert.ok(complete);
          assert.deepEqual(words, ['ls', '-l', text]);
        },
      ),
    );
  });
});

describe('parseXrdfsListLine', () => {
  it('reads the 5.x long format (UTC) with spaces in names', () => {
    assert.deepEqual(parseXrdfsListLine('-rw-r--r-- root root    6 2026-11-22 15:05:39 /store/mc/a b.root'), {
      ok: true,
      path: '/store/mc/a b.root',
      size: 6,
      mtime: Date.UTC(2026, 10, 22, 15, 5, 39) / 1000,
      directory: false,
    });
    const dir = parseXrdfsListLine('drwx------ xrootd xrootd 4096 2024-02-29 00:00:00 /store/ sub ');
    assert.deepEqual(dir, {
      ok: true,
      path: '/store/ sub ',
      size: 4096,
      mtime: Date.UTC(2024, 1, 29) / 1000,
      directory: true,
    });
  });

  it('reads the 4.x short format', () => {
    assert.deepEqual(parseXrdfsListLine('dr-x 2020-01-02 03:04:05        4096 /store/mc'), {
      ok: true,
      path: '/store/mc',
      size: 4096,
      mtime: Date.UTC(2020, 0, 2, 3, 4, 5) / 1000,
      directory: true,
    });
  });

  it('converts with the local zone when asked', () => {
    const line = '-rw-r--r-- a b 1 2021-07-01 12:00:00 /s/f';
    const parsed = parseXrdfsListLine(line, 'local');
    assert.ok(parsed.ok);
    assert.equal(parsed.mtime, new Date(2021, 6, 1, 12, 0, 0).getTime() / 1000);
  });

  it('refuses lines without stat information, bad dates and garbage', () => {
    for (const bad of [
      '---- 0000-00-00 00:00:00            ? /store/x',
      '-rw-r--r-- root root 6 2026-02-30 15:05:39 /store/x',
      '-rw-r--r-- root root 6 2026-13-01 15:05:39 /store/x',
      '-rw-r--r-- root root 6 2026-01-01 24:00:00 /store/x',
      '-rw-r--r-- root root 6 2026-01-01 15:05:39 store/x',
      '-rw-r--r-- root root 99999999999999999999 2026-01-01 15:05:39 /store/x',
      '/store/x',
      '',
      '[127.0.0.1:1094] / > ',
    ]) {
      assert.equal(parseXrdfsListLine(bad).ok, false, bad);
    }
  });

  it('property: generated lines parse back exactly', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: 4102444799 }),
        fc.array(segment, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 12 }),
        (directory, size, mtime, segments, width) => {
          const time = new Date(mtime * 1000).toISOString().slice(0, 19).replace('T', ' ');
          const path = `/${segments.join('/')}`;
          const line = `${directory ? 'd' : '-'}rwxr-xr-x own grp ${String(size).padStart(width)} ${time} ${path}`;
          assert.deepEqual(parseXrdfsListLine(line), { ok: true, path, size, mtime, directory });
        },
      ),
    );
  });

  it('property: arbitrary text never throws and never yields a relative path', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120, unit: 'binary' }), (line) => {
        const parsed = parseXrdfsListLine(line);
        if (parsed.ok) assert.ok(parsed.path.startsWith('/') && Number.isSafeInteger(parsed.mtime));
      }),
    );
  });
  it('property: lines near the 5.x format read exactly as the long-format expression says', () => {
    // The reading is hand-written for speed; this expression is its specification.
    const LONG =
      /^([-d])[-rwxsStTl]{9} +\S+ +\S+ +(\d+) (\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) (\/.*)$/s;
    const expected = (line: string) => {
      const match = LONG.exec(line);
      if (!match) return undefined;
      const [, type, size = '', ...rest] = match;
      const path = rest.pop() ?? '';
      const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = rest.map(Number);
      const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
      const valid =
        year >= 1000 && month >= 1 && month <= 12 && day >= 1 && hour <= 23 && minute <= 59 && second <= 59;
      if (!valid || date.getUTCDate() !== day || !Number.isSafeInteger(Number(size))) return { ok: false };
      return { ok: true, path, size: Number(size), mtime: date.getTime() / 1000, directory: type === 'd' };
    };
    const pick = (chars: string, min: number, max: number) =>
      fc.array(fc.constantFrom(...chars), { minLength: min, maxLength: max }).map((a) => a.join(''));
    /** Mostly `good`, sometimes `bad`: most lines are valid, each part can break. */
    const mostly = (good: fc.Arbitrary<string>, bad: fc.Arbitrary<string>) =>
      fc.oneof({ arbitrary: good, weight: 12 }, { arbitrary: bad, weight: 1 });
    const number = (min: number, max: number, width: number) =>
      fc.integer({ min, max }).map((n) => String(n).padStart(width, '0'));
    const line = fc
      .tuple(
        mostly(fc.constantFrom('-', 'd'), fc.constantFrom('l', ' ', 'D')),
        mostly(pick('-rwxsStTl', 9, 9), pick('-rwx? ', 0, 10)),
        mostly(pick(' ', 1, 3), fc.constant('')),
        mostly(pick('abcXYZ019_-.', 1, 8), fc.string({ maxLength: 6 })),
        mostly(pick(' ', 1, 3), fc.constant('')),
        mostly(pick('abcXYZ019_-.', 1, 8), fc.constantFrom('ü', 'a\u00a0b', '\u2028')),
        mostly(pick(' ', 1, 3), fc.constant('')),
        mostly(pick('0123456789', 1, 17), fc.constantFrom('12a', '', '99999999999999999999')),
        mostly(fc.constant(' '), fc.constantFrom('  ', '')),
        mostly(number(1000, 2200, 4), fc.constantFrom('0999', '12', '20x4')),
        mostly(fc.constant('-'), fc.constant('/')),
        mostly(number(1, 12, 2), fc.constantFrom('00', '13', '1')),
        fc.constant('-'),
        mostly(number(1, 31, 2), fc.constantFrom('00', '32', '1 ')),
        mostly(fc.constant(' '), fc.constant('T')),
        mostly(number(0, 23, 2), fc.constantFrom('24', '-1')),
        fc.constant(':'),
        mostly(number(0, 59, 2), fc.constant('60')),
        fc.constant(':'),
        mostly(number(0, 59, 2), fc.constantFrom('60', '5')),
        mostly(fc.constant(' '), fc.constant('  ')),
        mostly(fc.constant('/'), fc.constant('x/')),
        fc.string({ maxLength: 12 }),
      )
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(line, (text) => {
        const want = expected(text);
        const got = parseXrdfsListLine(text, 'utc');
        if (want === undefined || !want.ok) assert.equal(got.ok, false, text);
        else assert.deepEqual(got, want, text);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('XrdfsSubtreeReader', () => {
  const line = (type: string, size: number, path: string) =>
    `${type}rw-r--r-- root root ${size} 2026-11-22 15:05:39 ${path}\n`;
  const subtree = [
    line('d', 4096, '/data/store/mc/a/x'),
    line('d', 4096, '/data/store/mc/a/empty'),
    line('-', 7, '/data/store/mc/a/f.root'),
    line('-', 8, '/data/store/mc/a/x/g.root'),
    line('d', 4096, '/data/store/mc/a/x/y'),
    line('-', 9, '/data/store/mc/a/x/y/h.root'),
  ].join('');
  const entry = (path: string, size: number, directory = false) => ({
    path,
    size,
    mtime: 1795359939,
    directory,
  });
  const mapping = { storage: '/data/store', site: '/store' };

  it('groups what ls -R printed by directory, in site paths, empty directories included', () => {
    const reader = new XrdfsSubtreeReader('/data/store/mc/a', 100, mapping);
    assert.equal(reader.push(subtree), true);
    assert.deepEqual(reader.finish(), {
      ok: true,
      entries: 6,
      listings: new Map([
        [
          '/store/mc/a',
          [
            entry('/store/mc/a/x', 0, true),
            entry('/store/mc/a/empty', 0, true),
            entry('/store/mc/a/f.root', 7),
          ],
        ],
        ['/store/mc/a/x', [entry('/store/mc/a/x/g.root', 8), entry('/store/mc/a/x/y', 0, true)]],
        ['/store/mc/a/empty', []],
        ['/store/mc/a/x/y', [entry('/store/mc/a/x/y/h.root', 9)]],
      ]),
    });
  });

  it('property: the pieces the output arrives in do not matter', () => {
    const lines = subtree.split(/(?<=\n)/);
    const whole = new XrdfsSubtreeReader('/data/store/mc/a', 100, mapping);
    whole.push(subtree);
    const expected = whole.finish();
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: lines.length }), { maxLength: 4 }), (cuts) => {
        const reader = new XrdfsSubtreeReader('/data/store/mc/a', 100, mapping);
        let from = 0;
        for (const cut of [...cuts.sort((a, b) => a - b), lines.length]) {
          reader.push(lines.slice(from, Math.max(from, cut)).join(''));
          from = Math.max(from, cut);
        }
        assert.deepEqual(reader.finish(), expected);
      }),
    );
  });

  it('fails on a partial result, an entry outside the directory, an orphan entry, or garbage', () => {
    const failure = (text: string) => {
      const reader = new XrdfsSubtreeReader('/data/store/mc/a', 100, mapping);
      reader.push(text);
      const result = reader.finish();
      assert.equal(result.ok, false, text);
      return result.ok ? '' : result.reason;
    };
    const partial = '[!] Some of the requests failed. The result may be incomplete.\n';
    assert.equal(failure(`${partial}${subtree}`), partial.trim());
    assert.equal(failure(`${subtree}${partial}`), partial.trim());
    assert.equal(new XrdfsSubtreeReader('/data/store/mc/a', 100).push(partial), false);
    assert.match(failure(line('-', 1, '/data/store/mc/ab/f')), /outside \/data\/store\/mc\/a/);
    assert.match(failure(line('-', 1, '/data/store/mc/a/q/f')), /entries of \/store\/mc\/a\/q alone/);
    assert.match(failure('[ERROR] Server responded with an error: [3010] denied\0\n\n'), /\[3010\] denied/);
    assert.match(failure('garbage\n'), /unexpected line/);
    // The reader, unlike a failure, still gives ok for nothing at all: an empty directory.
    const empty = new XrdfsSubtreeReader('/data/store/mc/a', 100, mapping);
    assert.equal(empty.push(''), true);
    assert.deepEqual(empty.finish(), { ok: true, entries: 0, listings: new Map([['/store/mc/a', []]]) });
  });

  it('gives up beyond maxEntries, as too large', () => {
    const reader = new XrdfsSubtreeReader('/data/store/mc/a', 5, mapping);
    assert.equal(reader.push(subtree), false);
    assert.equal(reader.tooLarge, true);
    assert.deepEqual(reader.finish(), { ok: false, reason: 'more than 5 entries', tooLarge: true });
  });
});

describe('parseXrdfsListing', () => {
  const ok = [
    '-rw-r--r-- root root    6 2026-11-22 15:05:39 /store/mc/a.root',
    'drwxr-xr-x root root 4096 2026-11-22 15:05:39 /store/mc/with space',
    '',
  ].join('\n');

  it('gives the children, directories with size 0', () => {
    assert.deepEqual(parseXrdfsListing(ok, '/store/mc'), {
      ok: true,
      entries: [
        { path: '/store/mc/a.root', size: 6, mtime: 1795359939, directory: false },
        { path: '/store/mc/with space', size: 0, mtime: 1795359939, directory: true },
      ],
    });
    assert.deepEqual(parseXrdfsListing('', '/store/mc'), { ok: true, entries: [] });
  });

  it('maps server errors: permission and absence are permanent, others retryable', () => {
    const denied = parseXrdfsListing(
      '[ERROR] Server responded with an error: [3010] Unable to open directory /store/x; permission denied\0\n\n',
      '/store/x',
    );
    assert.deepEqual(denied, {
      ok: false,
      reason: '[3010] Unable to open directory /store/x; permission denied',
      permanent: true,
    });
    const missing = parseXrdfsListing(
      '[ERROR] Server responded with an error: [3011] Unable to locate /store/y; no such file or directory\0\n\n',
      '/store/y',
    );
    assert.ok(
      !missing.ok && missing.permanent && missing.missing && missing.reason.startsWith('does not exist'),
    );
    const fatal = parseXrdfsListing('[FATAL] Connection error\n', '/store');
    assert.ok(!fatal.ok && !fatal.permanent);
    const partial = parseXrdfsListing(
      `${ok}[!] Some of the requests failed. The result may be incomplete.\n`,
      '/store/mc',
    );
    assert.ok(!partial.ok && !partial.permanent);
  });

  it('refuses entries that are not direct children, and a file listed in place of the directory', () => {
    const deeper = parseXrdfsListing('-rw-r--r-- r r 1 2026-11-22 15:05:39 /store/mc/a/b\n', '/store/mc');
    assert.equal(deeper.ok, false);
    const other = parseXrdfsListing('-rw-r--r-- r r 1 2026-11-22 15:05:39 /store/mcx\n', '/store/mc');
    assert.equal(other.ok, false);
    const file = parseXrdfsListing('-rw-r--r-- r r 1 2026-11-22 15:05:39 /store/mc/f\n', '/store/mc/f');
    assert.deepEqual(file, { ok: false, reason: 'not a directory', permanent: true });
  });

  it('property: malformed answers fail instead of yielding entries', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 60, unit: 'binary' }), { minLength: 1, maxLength: 5 }),
        (lines) => {
          const answer = lines.join('\n');
          const parsed = parseXrdfsListing(answer, '/store/mc');
          if (parsed.ok) {
            for (const entry of parsed.entries) {
              assert.ok(entry.path.startsWith('/store/mc/'));
              assert.ok(!entry.path.slice('/store/mc/'.length).includes('/'));
            }
            const meaningful = lines
              .flatMap((l) => l.split('\n'))
              .filter((l) => l.replace(/\0|\r$/g, '') !== '');
            assert.equal(parsed.entries.length, meaningful.length);
          }
        },
      ),
    );
  });
});

describe('parseXrdfsStat', () => {
  it('tells directories, files and errors apart', () => {
    assert.deepEqual(
      parseXrdfsStat('Path:   /store\nSize:   4096\nFlags:  19 (XBitSet|IsDir|IsReadable)\n'),
      {
        ok: true,
        directory: true,
      },
    );
    assert.deepEqual(parseXrdfsStat('Path:   /store/f\nFlags:  16 (IsReadable)\n'), {
      ok: true,
      directory: false,
    });
    assert.deepEqual(
      parseXrdfsStat(
        '[ERROR] Server responded with an error: [3011] Unable to locate /x; no such file or directory\0\n',
      ),
      { ok: false, reason: '[3011] Unable to locate /x; no such file or directory', missing: true },
    );
    assert.equal(parseXrdfsStat('garbage').ok, false);
  });
});

describe('parseFindRecords', () => {
  it('keeps files and directories, skips links and others, floors times', () => {
    const output =
      'f 12 1700000000.9 a b\0d 4096 1700000001.0000000000 sub\0l 4 1700000002.5 link\0p 0 1.0 fifo\0';
    assert.deepEqual(parseFindRecords(output, '/store/mc'), {
      ok: true,
      entries: [
        { path: '/store/mc/a b', size: 12, mtime: 1700000000, directory: false },
        { path: '/store/mc/sub', size: 0, mtime: 1700000001, directory: true },
      ],
    });
    assert.deepEqual(parseFindRecords('', '/store'), { ok: true, entries: [] });
  });

  it('keeps newlines and tabs in names (the walker refuses them later)', () => {
    const parsed = parseFindRecords('f 1 5 a\nb\0', '/s');
    assert.ok(parsed.ok);
    assert.equal(parsed.entries[0]?.path, '/s/a\nb');
  });

  it('property: truncated or garbled output fails', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 80, unit: 'binary' }), (text) => {
        const parsed = parseFindRecords(text, '/s');
        if (parsed.ok) {
          assert.ok(text.endsWith('\0'));
          for (const entry of parsed.entries) assert.ok(!entry.path.slice(3).includes('/'));
        }
      }),
    );
    assert.equal(parseFindRecords('f 1 5 a', '/s').ok, false);
    assert.equal(parseFindRecords('f x 5 a\0', '/s').ok, false);
    assert.equal(parseFindRecords('f 1 5 a/b\0', '/s').ok, false);
  });
});
