import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InputError } from '../../core/errors.js';
import {
  formatSource,
  hasControlCharacter,
  parseDiscovery,
  parseFindErrors,
  parseFindListing,
  parseItemizedChanges,
  parseSource,
  type ListingEntry,
  type SourceLocation,
} from './source-url.parser.js';

function refusal(source: string): InputError {
  try {
    parseSource(source);
  } catch (error) {
    assert.ok(error instanceof InputError, `${JSON.stringify(source)} threw ${String(error)}`);
    assert.equal(error.code, 'TRANSFER_BAD_SOURCE');
    return error;
  }
  assert.fail(`${JSON.stringify(source)} was accepted`);
}

describe('parseSource', () => {
  it('reads ssh URLs with and without user and port', () => {
    assert.deepEqual(parseSource('ssh://obs@telescope.example.org:2222/data/raw'), {
      kind: 'ssh',
      user: 'obs',
      host: 'telescope.example.org',
      port: 2222,
      path: '/data/raw',
    });
    assert.deepEqual(parseSource('ssh://gw_1/data'), { kind: 'ssh', host: 'gw_1', path: '/data' });
    assert.deepEqual(parseSource('SSH://h/x/'), { kind: 'ssh', host: 'h', path: '/x/' });
  });

  it('decodes percent-encoding in the user and the path', () => {
    assert.deepEqual(parseSource("ssh://d%C3%A9j%40x@h/my%20data/it's/%25"), {
      kind: 'ssh',
      user: 'déj@x',
      host: 'h',
      path: "/my data/it's/%",
    });
  });

  it('accepts IPv6 addresses in brackets', () => {
    assert.deepEqual(parseSource('ssh://root@[::1]:22/srv'), {
      kind: 'ssh',
      user: 'root',
      host: '::1',
      port: 22,
      path: '/srv',
    });
    assert.deepEqual(parseSource('ssh://[2001:db8::7]/srv'), {
      kind: 'ssh',
      host: '2001:db8::7',
      path: '/srv',
    });
  });

  it('takes anything without a scheme as a local path', () => {
    assert.deepEqual(parseSource('/data/raw'), { kind: 'local', path: '/data/raw' });
    assert.deepEqual(parseSource('relative dir/x:y'), { kind: 'local', path: 'relative dir/x:y' });
    assert.deepEqual(parseSource('./host:path'), { kind: 'local', path: './host:path' });
  });

  it('refuses what could reach ssh as an option or end a command early', () => {
    for (const source of [
      'ssh://-oProxyCommand=evil/x',
      'ssh://-h/x',
      'ssh://-oProxyCommand=x@h/x',
      'ssh://%2Doops@h/x',
      'ssh://h/x%0Ay',
      'ssh://h/x%00y',
      'ssh://h/x\ny',
      '/data/raw\0',
      '/data/\x7f',
    ]) {
      refusal(source);
    }
  });

  it('refuses other schemes, empty parts and malformed URLs with a hint', () => {
    assert.match(refusal('rsync://h/x').message, /scheme "rsync" is not supported.*ssh:\/\//);
    assert.match(refusal('file:///x').message, /scheme "file"/);
    assert.match(refusal('ssh:///x').message, /host is empty/);
    assert.match(refusal('ssh://u@/x').message, /host is empty/);
    assert.match(refusal('ssh://h').message, /path is missing/);
    assert.match(refusal('ssh://h/').message, /path is empty/);
    assert.match(refusal('ssh://h:/x').message, /port ""/);
    assert.match(refusal('ssh://h:0/x').message, /port "0"/);
    assert.match(refusal('ssh://h:65536/x').message, /port "65536"/);
    assert.match(refusal('ssh://h:22a/x').message, /port "22a"/);
    assert.match(refusal('ssh://u:secret@h/x').message, /password/);
    assert.doesNotMatch(refusal('ssh://u:secret@h/x').message, /secret/);
    assert.match(refusal('ssh://@h/x').message, /user before @ is empty/);
    assert.match(refusal('ssh://h/x%zz').message, /percent-encoding/);
    assert.match(refusal('ssh://h/x?y').message, /query/);
    assert.match(refusal('ssh://[::1/x').message, /closing/);
    assert.match(refusal('ssh://[zz]/x').message, /not an IPv6/);
    assert.match(refusal('ssh://[::1]x/x').message, /:port/);
    assert.match(refusal('ssh://h%20x/y').message, /host may only/);
    assert.match(refusal('telescope:/data').message, /scp syntax/);
    assert.match(refusal('').message, /empty/);
  });

  it('never throws anything but InputError TRANSFER_BAD_SOURCE', () => {
    const urlish = fc
      .array(
        fc.oneof(
          fc.constantFrom(
            'ssh://',
            '@',
            ':',
            '[',
            ']',
            '/',
            '%',
            '%2',
            '%41',
            '-',
            '?',
            '#',
            '\n',
            '\0',
            'é',
          ),
          fc.string({ maxLength: 4 }),
          fc.integer({ min: 0, max: 70000 }).map(String),
        ),
        { maxLength: 12 },
      )
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          urlish,
          urlish.map((s) => `ssh://${s}`),
        ),
        (source) => {
          let location: SourceLocation;
          try {
            location = parseSource(source);
          } catch (error) {
            return error instanceof InputError && error.code === 'TRANSFER_BAD_SOURCE';
          }
          if (location.kind === 'local') return location.path === source && !hasControlCharacter(source);
          return (
            !location.host.startsWith('-') &&
            !(location.user ?? '').startsWith('-') &&
            !hasControlCharacter(location.host + (location.user ?? '') + location.path) &&
            location.path.startsWith('/')
          );
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('round-trips every valid ssh location through formatSource', () => {
    const text = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 8 })
      .filter((s) => !hasControlCharacter(s));
    const hostName = fc
      .stringMatching(/^[A-Za-z0-9._-]{1,20}$/)
      .filter((s) => !s.startsWith('-') && s.length > 0);
    const ipv6 = fc.ipV6();
    const location = fc.record(
      {
        kind: fc.constant('ssh' as const),
        user: text.filter((s) => !s.startsWith('-')),
        host: fc.oneof(hostName, ipv6),
        port: fc.integer({ min: 1, max: 65535 }),
        path: fc
          .array(fc.oneof(text, fc.constant('')), { minLength: 1, maxLength: 5 })
          .map((segments) => `/${segments.join('/')}`)
          .filter((p) => !/^\/*$/.test(p)),
      },
      { requiredKeys: ['kind', 'host', 'path'] },
    );
    fc.assert(
      fc.property(location, (loc) => {
        assert.deepEqual(parseSource(formatSource(loc)), { ...loc });
      }),
      { numRuns: 2000 },
    );
  });

  it('gives local paths back unchanged', () => {
    assert.equal(formatSource({ kind: 'local', path: '/a b/c' }), '/a b/c');
  });
});

const dir = (path: string): ListingEntry => ({ path, directory: true });
const file = (path: string): ListingEntry => ({ path, directory: false });

describe('parseDiscovery', () => {
  it('keeps 8-digit night/exposure directories, sorted, and says why anything else is skipped', () => {
    const discovery = parseDiscovery([
      dir('20240102'),
      dir('20240102/00000002'),
      dir('20240102/00000001'),
      dir('20240101'),
      dir('20240101/00000009'),
      file('20240101/00000010'),
      dir('20240101/junk'),
      dir('2024010'),
      dir('2024010/00000001'),
      file('README'),
      file('20240103'),
      dir('notes'),
      dir('notes/00000001'),
      dir('٢٠٢٤٠١٠١'),
    ]);
    assert.deepEqual(discovery, {
      exposures: [
        { night: '20240101', exposure: '00000009' },
        { night: '20240102', exposure: '00000001' },
        { night: '20240102', exposure: '00000002' },
      ],
      skipped: [
        { path: '2024010', reason: 'not an 8-digit night' },
        { path: '20240101/00000010', reason: 'not a directory' },
        { path: '20240101/junk', reason: 'not an 8-digit exposure' },
        { path: '20240103', reason: 'not a directory' },
        { path: 'README', reason: 'not an 8-digit night' },
        { path: 'notes', reason: 'not an 8-digit night' },
        { path: '٢٠٢٤٠١٠١', reason: 'not an 8-digit night' },
      ],
    });
  });

  it('limits itself to the nights asked for and adds extra skipped entries', () => {
    const listing = [
      dir('20240101'),
      dir('20240101/00000001'),
      dir('20240102'),
      dir('20240102/00000001'),
      file('x'),
    ];
    assert.deepEqual(
      parseDiscovery(listing, {
        nights: ['20240102'],
        extraSkipped: [{ path: '20240102/00000007', reason: 'could not be listed: Permission denied' }],
      }),
      {
        exposures: [{ night: '20240102', exposure: '00000001' }],
        skipped: [{ path: '20240102/00000007', reason: 'could not be listed: Permission denied' }],
      },
    );
  });

  it('accounts for every entry exactly once (property)', () => {
    const name = fc.oneof(
      fc.stringMatching(/^\d{8}$/),
      fc.constantFrom('20240101', '20240102', '00000001', '00000002'),
      fc.string({ minLength: 1, maxLength: 9 }).filter((s) => !s.includes('/')),
    );
    const entry = fc.record({
      path: fc.oneof(
        name,
        fc.tuple(name, name).map(([a, b]) => `${a}/${b}`),
      ),
      directory: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 40 }), (entries) => {
        // The last word on a path wins, as it would for a listing printed twice.
        const byPath = new Map(entries.map((e) => [e.path, e.directory]));
        const discovery = parseDiscovery(entries);
        const found = discovery.exposures.map((e) => `${e.night}/${e.exposure}`);
        assert.deepEqual(found, [...found].sort());
        assert.equal(new Set(found).size, found.length);
        const skipped = new Set(discovery.skipped.map((s) => s.path));
        const goodNight = (n: string) => /^\d{8}$/.test(n) && byPath.get(n) === true;
        for (const [path, directory] of byPath) {
          const [night = '', exposure] = path.split('/');
          if (exposure === undefined) {
            assert.equal(skipped.has(path), !goodNight(night), path);
          } else if (!goodNight(night)) {
            assert.ok(!skipped.has(path) && !found.includes(path), path);
          } else {
            const good = /^\d{8}$/.test(exposure) && directory;
            assert.equal(found.includes(path), good, path);
            assert.equal(skipped.has(path), !good, path);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseFindListing and parseFindErrors', () => {
  it('reads NUL-separated records with spaces and newlines in names', () => {
    const output = 'd ./20240101\0d ./20240101/00000001\0f ./name with\nnewline\0l ./broken\0d .\0garbage\0';
    assert.deepEqual(parseFindListing(output), [
      dir('20240101'),
      dir('20240101/00000001'),
      file('name with\nnewline'),
      file('broken'),
    ]);
  });

  it("turns find's complaints into skipped entries", () => {
    assert.deepEqual(
      parseFindErrors(
        "find: './20240101/00000002': Permission denied\nfind: \"./it's\": Input/output error\nsomething else\n",
      ),
      [
        { path: '20240101/00000002', reason: 'could not be listed: Permission denied' },
        { path: "it's", reason: 'could not be listed: Input/output error' },
        { path: '.', reason: 'could not be listed: something else' },
      ],
    );
  });
});

describe('parseItemizedChanges', () => {
  it('lists new and changed files and symlinks, not directories or attribute-only changes', () => {
    const output = [
      'created directory /tmp/x',
      'cd+++++++++ ./',
      '>f+++++++++ a b.txt',
      'cL+++++++++ lnk',
      '>f..t...... sub dir/changed.fits',
      '.f...p..... same.fits',
      '.d..t...... sub dir/',
      'cd+++++++++ sub dir/new/',
      '>f+++++++++ sub dir/new/é\\#q',
      '>f+++++++++ nl\\#012x',
      '>f+++++++++ lit\\#134#123',
      '>f+++++++++ tab\tx',
      '*deleting   gone.fits',
      '',
    ].join('\n');
    assert.deepEqual(parseItemizedChanges(output), [
      'a b.txt',
      'lit\\#123',
      'lnk',
      'nl\nx',
      'sub dir/changed.fits',
      'sub dir/new/é\\#q',
      'tab\tx',
    ]);
  });

  it('gives back any name rsync escaped (property)', () => {
    // rsync's own escaping: bytes below 0x20 (not tab) and a backslash starting `\#ddd`.
    const escape = (name: string): string => {
      const bytes = Buffer.from(name, 'utf8');
      let out = '';
      for (let i = 0; i < bytes.length; i++) {
        const b = bytes[i] ?? 0;
        const literal = b === 0x5c && /^#\d{3}/.test(bytes.toString('latin1', i + 1, i + 5));
        if ((b < 0x20 && b !== 9) || literal) out += `\\#${b.toString(8).padStart(3, '0')}`;
        else out += bytes.toString('latin1', i, i + 1);
      }
      return Buffer.from(out, 'latin1').toString('utf8');
    };
    const name = fc
      .array(
        fc.oneof(fc.string({ unit: 'grapheme', minLength: 1 }), fc.constantFrom('\\#123', '\\', '#', '\n')),
        {
          minLength: 1,
          maxLength: 6,
        },
      )
      .map((parts) => parts.join(''))
      .filter((s) => !s.includes('\0'));
    fc.assert(
      fc.property(name, (n) => {
        assert.deepEqual(parseItemizedChanges(`>f+++++++++ ${escape(n)}\n`), [n]);
      }),
      { numRuns: 1000 },
    );
  });
});
