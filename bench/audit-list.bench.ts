/**
 * `npm run bench -- audit-list`: a 200,000-file, 20,000-directory tree (env
 * CUSTODIAN_BENCH_AUDIT_LIST_FILES sets the files; directories are a tenth of them) served by a
 * local xrootd (test/helpers/xrootd.ts), listed by Custodian's XrootdLister (8 long-lived xrdfs
 * sessions, one `ls -l` per directory) against the anchor `xrdfs root://… ls -R -l /store/mc`,
 * one process, in the same run. The anchor gets `-l` so that both produce the same information
 * (sizes and times, which the audit needs). Each is timed ROUNDS times, alternating who goes
 * first; medians are compared, and both must report the same number of entries.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { startXrootd } from '../test/helpers/xrootd.js';
import { XrootdLister } from '../src/modules/audit/xrootd.lister.js';

const ROUNDS = 3;
const CONCURRENCY = 8;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** `store/mc/aNNN/bNNN/fN.root`: √D first-level directories, the rest below them, files spread evenly. */
function createTree(store: string, files: number): { files: number; directories: number } {
  const wanted = Math.max(2, Math.round(files / 10));
  const top = Math.max(1, Math.round(Math.sqrt(wanted)));
  const perTop = Math.max(1, Math.round((wanted - top) / top));
  const leaves: string[] = [];
  for (let a = 0; a < top; a++) {
    const first = path.join(store, 'mc', `a${String(a).padStart(4, '0')}`);
    for (let b = 0; b < perTop; b++) {
      const leaf = path.join(first, `b${String(b).padStart(4, '0')}`);
      fs.mkdirSync(leaf, { recursive: true });
      leaves.push(leaf);
    }
  }
  for (let f = 0; f < files; f++) {
    const leaf = leaves[f % leaves.length] as string;
    fs.closeSync(fs.openSync(path.join(leaf, `f${Math.floor(f / leaves.length)}.root`), 'w'));
  }
  return { files, directories: top + top * perTop };
}

/** Runs the anchor; resolves with its seconds and the number of lines it printed. */
function anchor(url: string): Promise<{ seconds: number; lines: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn('xrdfs', [url, 'ls', '-R', '-l', '/store/mc'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let lines = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      for (const byte of chunk) if (byte === 10) lines++;
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0 || stderr.trim() !== '') reject(new Error(`xrdfs ls -R exited with ${code}: ${stderr}`));
      else resolve({ seconds, lines });
    });
  });
}

export async function run(): Promise<object> {
  const wanted = Number(process.env.CUSTODIAN_BENCH_AUDIT_LIST_FILES ?? 200_000);
  if (!Number.isInteger(wanted) || wanted < 10)
    throw new Error('CUSTODIAN_BENCH_AUDIT_LIST_FILES must be a whole number ≥ 10');
  const dir = path.resolve('.bench-work', `audit-list-${randomBytes(4).toString('hex')}`);
  const root = path.join(dir, 'site');
  fs.mkdirSync(path.join(root, 'store'), { recursive: true, mode: 0o755 });
  const custodian: number[] = [];
  const anchors: number[] = [];
  let tree = { files: 0, directories: 0 };
  const server = await (async () => {
    tree = createTree(path.join(root, 'store'), wanted);
    return startXrootd(root);
  })().catch((error: unknown) => {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  try {
    const url = server.url('/store');
    const entries = tree.files + tree.directories;
    const timeAnchor = async (): Promise<void> => {
      const result = await anchor(`root://127.0.0.1:${server.port}`);
      anchors.push(result.seconds);
      if (result.lines !== entries)
        throw new Error(`anchor listed ${result.lines} entries, expected ${entries}`);
    };
    const timeCustodian = async (): Promise<void> => {
      const t0 = process.hrtime.bigint();
      const result = await new XrootdLister(url).list({
        directories: ['mc'],
        dumpFile: path.join(dir, 'listing.tsv'),
        concurrency: CONCURRENCY,
        retries: 2,
        timeoutSeconds: 300,
      });
      custodian.push(Number(process.hrtime.bigint() - t0) / 1e9);
      if (
        result.files !== tree.files ||
        result.directories !== tree.directories ||
        result.unlisted.length > 0
      )
        throw new Error(
          `custodian listing differs: ${JSON.stringify({ ...result, unlisted: result.unlisted.slice(0, 3) })}`,
        );
    };
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2 === 0) {
        await timeAnchor();
        await timeCustodian();
      } else {
        await timeCustodian();
        await timeAnchor();
      }
    }
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const custodianS = median(custodian);
  const anchorS = median(anchors);
  return {
    name: 'audit-list',
    files: tree.files,
    directories: tree.directories,
    concurrency: CONCURRENCY,
    custodian_s: Number(custodianS.toFixed(3)),
    anchor_s: Number(anchorS.toFixed(3)),
    ratio: Number((custodianS / anchorS).toFixed(2)),
  };
}
