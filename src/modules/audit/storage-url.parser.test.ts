import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InputError } from '../../core/errors.js';
import {
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
