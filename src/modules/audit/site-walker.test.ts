import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../../core/errors.js';
import type { DumpEntry } from './audit.types.js';
import {
  ListingError,
  formatDumpLine,
  walkSite,
  type ListDirectory,
  type WalkOptions,
} from './site-walker.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-walker-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));
let dumps = 0;
const nextDump = () => path.join(work, `dump-${++dumps}.tsv`);

/** A fake site: directory path → children. */
function tree(spec: Record<string, string[]>): Map<string, DumpEntry[]> {
  const site = new Map<string, DumpEntry[]>();
  for (const [dir, names] of Object.entries(spec)) {
    site.set(
      dir,
      names.map((name) => {
        const directory = name.endsWith('/');
        const base = directory ? name.slice(0, -1) : name;
        return { path: `${dir}/${base}`, size: directory ? 0 : base.length, mtime: 1000, directory };
      }),
    );
  }
  return site;
}

const SITE = tree({
  '/store/mc': ['a.root', 'b c.root', 'x/', 'y/', 'empty/'],
  '/store/mc/x': ['x1.root', 'deep/'],
  '/store/mc/x/deep': ['d.root'],
  '/store/mc/y': ['y1.root', 'y2.root'],
  '/store/mc/empty': [],
  '/store/data': ['r.root'],
});

function fake(site: Map<string, DumpEntry[]>): ListDirectory {
  return (dir) => {
    const entries = site.get(dir);
    if (entries === undefined) return Promise.reject(new ListingError('does not exist', { permanent: true }));
    return Promise.resolve({ entries });
  };
}

function options(listDirectory: ListDirectory, extra: Partial<WalkOptions> = {}): WalkOptions {
  return {
    roots: ['/store/mc', '/store/data'],
    listDirectory,
    dumpFile: nextDump(),
    concurrency: 3,
    retries: 2,
    timeoutSeconds: 5,
    backoff: { initialMs: 1, maxMs: 5 },
    ...extra,
  };
}

function dumpLines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).sort();
}

const FULL = [
  '/store/data/r.root\t6\t1000',
  '/store/mc/a.root\t6\t1000',
  '/store/mc/b c.root\t8\t1000',
  '/store/mc/empty/\t0\t1000',
  '/store/mc/x/\t0\t1000',
  '/store/mc/x/deep/\t0\t1000',
  '/store/mc/x/deep/d.root\t6\t1000',
  '/store/mc/x/x1.root\t7\t1000',
  '/store/mc/y/\t0\t1000',
  '/store/mc/y/y1.root\t7\t1000',
  '/store/mc/y/y2.root\t7\t1000',
];

describe('formatDumpLine', () => {
  it('writes path, size and mtime; directories end in / with size 0', () => {
    assert.equal(formatDumpLine({ path: '/s/a b', size: 5, mtime: 7, directory: false }), '/s/a b\t5\t7\n');
    assert.equal(formatDumpLine({ path: '/s/d', size: 4096, mtime: 7, directory: true }), '/s/d/\t0\t7\n');
    assert.equal(formatDumpLine({ path: '/s/f', size: 1, directory: false }), '/s/f\t1\n');
  });
});

describe('walkSite', () => {
  it('lists the whole tree into the dump, counting files, directories and bytes', async () => {
    const progress: number[] = [];
    const opts = options(fake(SITE), { onProgress: (p) => progress.push(p.files) });
    const result = await walkSite(opts);
    assert.deepEqual(dumpLines(opts.dumpFile), FULL);
    assert.deepEqual(result, { files: 7, directories: 4, bytes: 47, unlisted: [], halted: false });
    assert.equal(progress.length, 6);
    assert.equal(progress.at(-1), 7);
  });

  it('retries a directory that fails once, and the walk completes', async () => {
    const calls = new Map<string, number>();
    const base = fake(SITE);
    const flaky: ListDirectory = (dir, signal) => {
      calls.set(dir, (calls.get(dir) ?? 0) + 1);
      if (dir === '/store/mc/x' && calls.get(dir) === 1) return Promise.reject(new Error('connection reset'));
      return base(dir, signal);
    };
    const opts = options(flaky);
    const result = await walkSite(opts);
    assert.equal(calls.get('/store/mc/x'), 2);
    assert.deepEqual(result.unlisted, []);
    assert.deepEqual(dumpLines(opts.dumpFile), FULL);
  });

  it('records a directory that always fails as unlisted, skips its subtree and goes on', async () => {
    const calls = new Map<string, number>();
    const base = fake(SITE);
    const broken: ListDirectory = (dir, signal) => {
      calls.set(dir, (calls.get(dir) ?? 0) + 1);
      if (dir === '/store/mc/x') return Promise.reject(new Error('server error 3012'));
      return base(dir, signal);
    };
    const opts = options(broken, { retries: 2 });
    const result = await walkSite(opts);
    assert.equal(calls.get('/store/mc/x'), 3);
    assert.equal(calls.get('/store/mc/x/deep'), undefined);
    assert.deepEqual(result.unlisted, [
      { path: '/store/mc/x', reason: 'server error 3012 (after 3 attempts)' },
    ]);
    const lines = dumpLines(opts.dumpFile);
    assert.ok(lines.includes('/store/mc/x/\t0\t1000'), 'the directory itself was seen by its parent');
    assert.ok(!lines.some((line) => line.startsWith('/store/mc/x/') && line !== '/store/mc/x/\t0\t1000'));
    assert.ok(lines.includes('/store/mc/y/y2.root\t7\t1000'));
    assert.equal(result.files, 5);
  });

  it('does not retry permanent failures; a missing top-level directory is unlisted as "does not exist"', async () => {
    let calls = 0;
    const base = fake(SITE);
    const counting: ListDirectory = (dir, signal) => {
      if (dir === '/store/nope') calls++;
      return base(dir, signal);
    };
    const opts = options(counting, { roots: ['/store/nope', '/store/data'] });
    const result = await walkSite(opts);
    assert.equal(calls, 1);
    assert.deepEqual(result.unlisted, [{ path: '/store/nope', reason: 'does not exist' }]);
    assert.deepEqual(dumpLines(opts.dumpFile), ['/store/data/r.root\t6\t1000']);
  });

  it('bounds each attempt by timeoutSeconds, aborting its signal, also when the lister ignores it', async () => {
    const base = fake(SITE);
    const aborted: string[] = [];
    const hanging: ListDirectory = (dir, signal) => {
      if (dir === '/store/mc/y') {
        return new Promise((_, reject) =>
          signal.addEventListener('abort', () => {
            aborted.push(dir);
            reject(new Error('killed'));
          }),
        );
      }
      if (dir === '/store/mc/x') return new Promise(() => undefined);
      return base(dir, signal);
    };
    const opts = options(hanging, { timeoutSeconds: 0.05, retries: 1 });
    const result = await walkSite(opts);
    assert.deepEqual(result.unlisted, [
      { path: '/store/mc/x', reason: 'timed out after 0.05 s (after 2 attempts)' },
      { path: '/store/mc/y', reason: 'timed out after 0.05 s (after 2 attempts)' },
    ]);
    assert.deepEqual(aborted, ['/store/mc/y', '/store/mc/y']);
    assert.ok(dumpLines(opts.dumpFile).includes('/store/mc/empty/\t0\t1000'));
  });

  it('stops when shouldStop says so, and reports halted', async () => {
    let checks = 0;
    const listed: string[] = [];
    const base = fake(SITE);
    const opts = options(
      (dir, signal) => {
        listed.push(dir);
        return base(dir, signal);
      },
      { concurrency: 1, shouldStop: () => Promise.resolve(++checks > 2) },
    );
    const result = await walkSite(opts);
    assert.equal(result.halted, true);
    assert.deepEqual(listed, ['/store/data', '/store/mc']);
    assert.equal(checks, 3);
    assert.equal(result.files, 3);
  });

  it('keeps at most `concurrency` directories in flight, and uses them all on a wide tree', async () => {
    const spec: Record<string, string[]> = { '/store/w': [] };
    for (let i = 0; i < 40; i++) {
      spec['/store/w']?.push(`d${i}/`);
      spec[`/store/w/d${i}`] = ['f'];
    }
    const site = tree(spec);
    let inFlight = 0;
    let maxInFlight = 0;
    const slow: ListDirectory = async (dir, signal) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      return fake(site)(dir, signal);
    };
    const result = await walkSite(options(slow, { roots: ['/store/w'], concurrency: 4 }));
    assert.equal(maxInFlight, 4);
    assert.equal(result.files, 40);
    assert.equal(result.directories, 40);
  });

  it('unlists a directory holding a name a dump cannot represent, or an entry outside it', async () => {
    const site = tree({ '/store/t': ['ok/', 'bad/', 'weird/'], '/store/t/ok': ['f'], '/store/t/bad': [] });
    site.set('/store/t/bad', [{ path: '/store/t/bad/a\tb', size: 1, directory: false }]);
    site.set('/store/t/weird', [{ path: '/store/other/f', size: 1, directory: false }]);
    const result = await walkSite(options(fake(site), { roots: ['/store/t'] }));
    assert.equal(result.unlisted.length, 2);
    assert.match(result.unlisted[0]?.reason ?? '', /control character/);
    assert.match(result.unlisted[1]?.reason ?? '', /not an entry of \/store\/t\/weird/);
    assert.equal(result.files, 1);
  });

  it('takes subdirectories listed ahead (below) instead of listing them, checks them, lists the rest', async () => {
    const calls: string[] = [];
    const base = fake(SITE);
    // /store/mc comes with its subtree, except /store/mc/y; /store/mc/x/deep holds a bad name.
    const below = new Map(SITE);
    below.delete('/store/mc/y');
    below.set('/store/mc/x/deep', [{ path: '/store/mc/x/deep/a\nb', size: 1, directory: false }]);
    const ahead: ListDirectory = async (dir, signal) => {
      calls.push(dir);
      const listing = await base(dir, signal);
      return dir === '/store/mc' ? { ...listing, below } : listing;
    };
    const opts = options(ahead);
    const result = await walkSite(opts);
    assert.deepEqual(calls.sort(), ['/store/data', '/store/mc', '/store/mc/y']);
    assert.equal(result.unlisted.length, 1);
    assert.equal(result.unlisted[0]?.path, '/store/mc/x/deep');
    assert.match(result.unlisted[0]?.reason ?? '', /control character/);
    assert.deepEqual(
      dumpLines(opts.dumpFile),
      FULL.filter((line) => line !== '/store/mc/x/deep/d.root\t6\t1000'),
    );
    assert.deepEqual({ files: result.files, directories: result.directories }, { files: 6, directories: 4 });
  });

  it('rejects with the abort reason when the caller aborts, and leaves nothing running', async () => {
    const controller = new AbortController();
    let active = 0;
    const slow: ListDirectory = (dir, signal) =>
      new Promise((resolve, reject) => {
        active++;
        const timer = setTimeout(() => {
          active--;
          resolve({ entries: [] });
        }, 10_000);
        signal.addEventListener('abort', () => {
          clearTimeout(timer);
          active--;
          reject(new Error('aborted'));
        });
        if (dir === '/store/data') setTimeout(() => controller.abort(new Error('shutdown')), 10);
      });
    await assert.rejects(walkSite(options(slow, { signal: controller.signal })), /shutdown/);
    assert.equal(active, 0);
  });

  it('refuses nonsense options', async () => {
    for (const bad of [{ concurrency: 0 }, { retries: -1 }, { timeoutSeconds: 0 }, { concurrency: 1.5 }]) {
      await assert.rejects(walkSite(options(fake(SITE), bad)), (e: unknown) => e instanceof InputError);
    }
  });

  it('fails when the dump cannot be written', async () => {
    await assert.rejects(
      walkSite(options(fake(SITE), { dumpFile: path.join(work, 'no', 'such', 'dir.tsv') })),
      /ENOENT/,
    );
  });

  it('streams 10^5 entries from 50 directories into the dump', async () => {
    const entries: DumpEntry[] = [];
    for (let i = 0; i < 2000; i++)
      entries.push({ path: `/store/big/f${i}`, size: i, mtime: 1, directory: false });
    const dirs = Array.from({ length: 50 }, (_, i) => ({
      path: `/store/big/d${i}`,
      size: 0,
      directory: true,
    }));
    const listDirectory: ListDirectory = (dir) =>
      Promise.resolve({
        entries:
          dir === '/store/big' ? dirs : entries.map((e) => ({ ...e, path: `${dir}/${e.path.slice(11)}` })),
      });
    const opts = options(listDirectory, { roots: ['/store/big'], concurrency: 8 });
    const result = await walkSite(opts);
    assert.equal(result.files, 100_000);
    assert.equal(fs.readFileSync(opts.dumpFile, 'utf8').split('\n').length - 1, 100_050);
  });
});
