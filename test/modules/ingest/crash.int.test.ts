import { it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describeEachDialect } from '../../helpers/database.js';
import { localTimeOf } from '../../../src/modules/ingest/name.parser.js';
import {
  buildService,
  dropFile,
  makeWorkspace,
  resetTables,
  sha256,
  tree,
  type Workspace,
} from './ingest-fixture.js';

/**
 * kill -9 at random moments of `ingest once`, 20 times, then a clean pass: every file is at
 * exactly one place with its original content, no temp file or journal is left, and the
 * database equals a rebuild from the tree.
 */
const FILES = 2000;
const KILLS = 20;
const CHILD = path.join(import.meta.dirname, 'fixtures/pass-once.ts');
const ZONE = 'Europe/Zurich';

interface Planned {
  name: string;
  content: Buffer;
  /** Where it must end up (or that name + .dup-<n> for a collision). */
  target: string;
}

/** 2,000 files over 6 runs (one in replay mode) and 3 subsystems; 40 pairs collide on a target with different content. */
function plan(): Planned[] {
  const files: Planned[] = [];
  for (let i = 0; i < FILES - 40; i++) {
    const runIndex = i % 6;
    const run = 500 + runIndex;
    const mode = runIndex === 5 ? 'E' : 'C';
    const subsystem = ['EMC', 'HLT', 'TPC'][i % 3] ?? 'EMC';
    const t = localTimeOf(1_448_384_710 + i * 7, ZONE);
    const fields = [t.year, t.month, t.day, t.hour, t.minute, t.second];
    const padded = fields.map((f) => String(f).padStart(2, '0')).join('_');
    const base = mode === 'E' ? `ReplayData/Run${run}` : `Run${run}`;
    const target = `${base}/${subsystem}/${subsystem}hists.${padded}.root`;
    const content = Buffer.concat([Buffer.from(`file ${i}\n`), randomBytes(200 + (i % 700))]);
    files.push({ name: `${subsystem}histos_${run}_${mode}_${fields.join('_')}.root`, content, target });
    if (i < 40) {
      // the same target under a padded hists_ name, different bytes: one of them becomes .dup-1
      files.push({
        name: `${subsystem}hists_${run}_${mode}_${padded}.root`,
        content: Buffer.concat([content, Buffer.from('v2')]),
        target,
      });
    }
  }
  return files;
}

interface Kill {
  /** Start the clock at this line of the child's output. */
  after: 'ready' | 'moving';
  ms: number;
}

function runChild(
  url: string,
  ws: Workspace,
  kill: Kill | undefined,
): Promise<{ killed: boolean; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, url, ws.dropDir, ws.dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let errors = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (kill !== undefined && timer === undefined && output.includes(`${kill.after}\n`)) {
        timer = setTimeout(() => child.kill('SIGKILL'), kill.ms);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') resolve({ killed: true, output });
      else if (code === 0) resolve({ killed: false, output });
      else reject(new Error(`pass-once exited with ${code}: ${errors}`));
    });
  });
}

/**
 * When to kill. Every fourth run dies within 40 ms of "ready" (recovery of the previous crash,
 * listing, journal, runInfo.yaml — or moves, on a fast machine); the others die a random time
 * after "moving", within a window that adapts so each kill lands while files are moving or the
 * database commits: it grows after a run that moved almost nothing and shrinks after one that
 * moved a fifth of the files. Moving goes by in tens of milliseconds, so without this the first
 * run would do all the work.
 */
function killPlan(i: number, windowMs: number): Kill {
  return i % 4 === 0
    ? { after: 'ready', ms: Math.random() * 40 }
    : { after: 'moving', ms: Math.random() * windowMs };
}

const variants: { title: string; kills: number; dataBase?: string; dialects: string[] }[] = [
  { title: 'within one filesystem', kills: KILLS, dialects: ['sqlite', 'postgres'] },
  // The copy path on top (fewer kills for the time budget); data on tmpfs keeps its per-file
  // fsyncs cheap, the drop directory stays on disk.
  { title: 'across filesystems (tmp → /dev/shm)', kills: 10, dataBase: '/dev/shm', dialects: ['sqlite'] },
];

describeEachDialect('ingest crash test', (ctx) => {
  let ws: Workspace | undefined;
  beforeEach(() => resetTables(ctx.database));
  afterEach(() => {
    ws?.cleanup();
    ws = undefined;
  });

  for (const variant of variants.filter((v) => v.dialects.includes(ctx.dialect))) {
    it(`loses, duplicates and corrupts nothing when killed ${variant.kills} times ${variant.title}`, async (t) => {
      if (
        variant.dataBase &&
        (!fs.existsSync(variant.dataBase) ||
          fs.statSync(variant.dataBase).dev === fs.statSync(os.tmpdir()).dev)
      ) {
        t.skip(`${variant.dataBase} is not a separate filesystem here`);
        return;
      }
      ws = makeWorkspace({ dataBase: variant.dataBase });
      const files = plan();
      for (const f of files) dropFile(ws, f.name, f.content);
      const expected = new Map(files.map((f) => [sha256(f.content), f]));
      assert.equal(expected.size, files.length);

      let killed = 0;
      let windowMs = 20;
      const progress: number[] = [];
      for (let i = 0; i < variant.kills; i++) {
        const before = fs.readdirSync(ws.dropDir).length;
        const kill = killPlan(i, windowMs);
        const result = await runChild(ctx.url, ws, kill);
        const moved = before - fs.readdirSync(ws.dropDir).length;
        progress.push(moved);
        if (result.killed) killed++;
        if (kill.after === 'moving') {
          if (moved < files.length / 50) windowMs *= 1.5;
          else if (moved > files.length / 5) windowMs *= 0.6;
        }
      }
      t.diagnostic(`${killed} of ${variant.kills} runs killed; files moved per run: ${progress.join(' ')}`);
      assert.ok(killed > 0, 'at least one run was killed before it finished');

      // the clean pass
      const clean = await runChild(ctx.url, ws, undefined);
      assert.equal(clean.killed, false);
      const summary = clean.output.trim().split('\n').pop() ?? '{}';
      assert.deepEqual((JSON.parse(summary) as { errors: unknown[] }).errors, []);

      assert.deepEqual(tree(ws.dropDir), {}, 'the drop directory is empty');
      const data = tree(ws.dataDir);
      const seen = new Set<string>();
      for (const [rel, hash] of Object.entries(data)) {
        if (rel.endsWith('/runInfo.yaml')) continue;
        const f = expected.get(hash);
        assert.ok(f, `${rel} holds content that was never dropped (or a partial copy)`);
        assert.ok(!seen.has(hash), `the content of ${f.name} is in two places`);
        seen.add(hash);
        assert.ok(
          rel === f.target || /^\.dup-\d+$/.test(rel.slice(f.target.length)),
          `${f.name} ended up at ${rel}, expected ${f.target}`,
        );
        assert.ok(!rel.endsWith('.dup-2'), `${rel}: a crash must not turn one collision into two`);
      }
      assert.equal(seen.size, files.length, 'every file is somewhere');
      const leftovers = Object.keys(data).filter((rel) => /(^|\/)\./.test(rel));
      assert.deepEqual(leftovers, [], 'no temp files or journals are left');

      const { service, repository } = buildService(ctx.database, ws);
      const byPasses = await repository.snapshot();
      assert.equal(
        byPasses.files.length,
        files.length - 40,
        'one row per organized file (duplicates kept on disk only)',
      );
      await service.rebuild();
      assert.deepEqual(await repository.snapshot(), byPasses, 'the database equals a rebuild from the tree');
    });
  }
});
