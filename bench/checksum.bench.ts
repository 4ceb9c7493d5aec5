/**
 * `npm run bench -- checksum`: `transfer verify` (verifyDirectory with the real filesystem
 * adapter) on ~2 GB of files (64 × 32 MiB; env CUSTODIAN_BENCH_CHECKSUM_MB sets the total) against
 * the anchor `sha256sum -c --quiet MANIFEST` run in the directory, on the same files and manifest.
 * Both read from the page cache (the files were just written; nothing is dropped); each is timed
 * ROUNDS times, alternating who goes first, and the medians are compared.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { NodeFileHasher, verifyDirectory } from '../src/modules/transfer/index.js';

const FILES = 64;
const ROUNDS = 3;
const MANIFEST = 'checksum-00000001.sha256sum';
const CHUNK = 1 << 20;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Pseudo-random files, fast: one random MiB, stamped with file and chunk number per chunk. */
function createFiles(dir: string, totalMiB: number): number {
  const block = randomBytes(CHUNK);
  const chunksPerFile = Math.max(1, Math.round(totalMiB / FILES));
  let bytes = 0;
  for (let f = 0; f < FILES; f++) {
    const sub = path.join(dir, `sub${f % 4}`);
    fs.mkdirSync(sub, { recursive: true });
    const fd = fs.openSync(path.join(sub, `file ${String(f).padStart(3, '0')}.fits`), 'w');
    try {
      for (let c = 0; c < chunksPerFile; c++) {
        block.writeUInt32LE(f, 0);
        block.writeUInt32LE(c, 4);
        fs.writeSync(fd, block);
        bytes += block.length;
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return bytes;
}

function writeManifest(dir: string): void {
  const names: string[] = [];
  for (const sub of fs.readdirSync(dir).sort())
    for (const name of fs.readdirSync(path.join(dir, sub)).sort()) names.push(`${sub}/${name}`);
  const result = spawnSync('sha256sum', ['--', ...names], { cwd: dir, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`sha256sum failed: ${result.stderr}`);
  fs.writeFileSync(path.join(dir, MANIFEST), result.stdout);
}

export async function run(): Promise<object> {
  const totalMiB = Number(process.env.CUSTODIAN_BENCH_CHECKSUM_MB ?? 2048);
  if (!Number.isFinite(totalMiB) || totalMiB <= 0)
    throw new Error('CUSTODIAN_BENCH_CHECKSUM_MB must be a positive number of MiB');
  const dir = path.resolve('.bench-work', `checksum-${randomBytes(4).toString('hex')}`);
  const custodian: number[] = [];
  const anchor: number[] = [];
  let bytes = 0;
  try {
    bytes = createFiles(dir, totalMiB);
    writeManifest(dir);
    spawnSync('sync', { stdio: 'ignore' });
    const files = new NodeFileHasher();

    const timeAnchor = (): void => {
      const t0 = process.hrtime.bigint();
      const result = spawnSync('sha256sum', ['-c', '--quiet', MANIFEST], { cwd: dir, stdio: 'ignore' });
      anchor.push(Number(process.hrtime.bigint() - t0) / 1e9);
      if (result.status !== 0) throw new Error(`sha256sum -c failed (status ${result.status})`);
    };
    const timeCustodian = async (): Promise<void> => {
      const t0 = process.hrtime.bigint();
      const result = await verifyDirectory({ dir }, { files });
      custodian.push(Number(process.hrtime.bigint() - t0) / 1e9);
      if (!result.ok || result.verified !== FILES || result.bytes !== bytes)
        throw new Error(`bench verification failed: ${JSON.stringify(result)}`);
    };
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2 === 0) {
        timeAnchor();
        await timeCustodian();
      } else {
        await timeCustodian();
        timeAnchor();
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const custodianS = median(custodian);
  const anchorS = median(anchor);
  return {
    name: 'checksum',
    files: FILES,
    bytes,
    custodian_s: Number(custodianS.toFixed(3)),
    anchor_s: Number(anchorS.toFixed(3)),
    ratio: Number((custodianS / anchorS).toFixed(2)),
  };
}
