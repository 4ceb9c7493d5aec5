/**
 * `npm run bench -- audit-list`: a 200,000-file, 20,000-directory tree (env
 * CUSTODIAN_BENCH_AUDIT_LIST_FILES sets the files; directories are a tenth of them) served by a
 * local xrootd (test/helpers/xrootd.ts), listed by Custodian's XrootdLister (concurrency 8;
 * long-lived xrdfs sessions, `ls -R -l` per subtree) against the anchor `xrdfs root://… ls -R -l
 * /store/mc`, one process, in the same run. The anchor gets `-l` so that both produce the same
 * information (sizes and times, which the audit needs). Each is timed ROUNDS times (env
 * CUSTODIAN_BENCH_AUDIT_LIST_ROUNDS, default 3), alternating who goes first; medians are compared,
 * and both must report the same number of entries. CUSTODIAN_BENCH_AUDIT_LIST_SUBTREES sets the
 * lister's subtreeSessions.
 *
 * Diagnostics (medians, CPU seconds): `anchor_cpu` and `custodian_cpu` split each side's CPU into
 * xrdfs (the children this process reaped meanwhile), the xrootd server, and this process (for the
 * anchor: reading its output); with `cpus`, they tell whether a side is CPU-bound.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { startXrootd } from '../test/helpers/xrootd.js';
import { XrootdLister } from '../src/modules/audit/xrootd.lister.js';

const CONCURRENCY = 8;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** CPU seconds of a process (utime + stime, or with `children`, cutime + cstime) from /proc. */
function procCpu(pid: number | 'self', children = false): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const at = children ? 13 : 11;
  return (Number(fields[at]) + Number(fields[at + 1])) / 100;
}

interface CpuSplit {
  xrdfs: number;
  server: number;
  node: number;
}

/** Runs `body`, and measures the CPU it cost each party. */
async function measured(serverPid: number, body: () => Promise<void>): Promise<CpuSplit> {
  const server = procCpu(serverPid);
  const xrdfs = procCpu('self', true);
  const node = process.cpuUsage();
  await body();
  const used = process.cpuUsage(node);
  return {
    xrdfs: procCpu('self', true) - xrdfs,
    server: procCpu(serverPid) - server,
    node: (used.user + used.system) / 1e6,
  };
}

function medianSplit(splits: CpuSplit[]): CpuSplit {
  const round = (n: number) => Number(n.toFixed(2));
  return {
    xrdfs: round(median(splits.map((s) => s.xrdfs))),
    server: round(median(splits.map((s) => s.server))),
    node: round(median(splits.map((s) => s.node))),
  };
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
  const rounds = Number(process.env.CUSTODIAN_BENCH_AUDIT_LIST_ROUNDS ?? 3);
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error('CUSTODIAN_BENCH_AUDIT_LIST_ROUNDS must be a whole number ≥ 1');
  const subtrees = process.env.CUSTODIAN_BENCH_AUDIT_LIST_SUBTREES;
  const subtreeSessions = subtrees === undefined ? undefined : Number(subtrees);
  if (subtreeSessions !== undefined && !(Number.isInteger(subtreeSessions) && subtreeSessions >= 1))
    throw new Error('CUSTODIAN_BENCH_AUDIT_LIST_SUBTREES must be a whole number ≥ 1');
  const dir = path.resolve('.bench-work', `audit-list-${randomBytes(4).toString('hex')}`);
  const root = path.join(dir, 'site');
  fs.mkdirSync(path.join(root, 'store'), { recursive: true, mode: 0o755 });
  const custodian: number[] = [];
  const anchors: number[] = [];
  const custodianCpu: CpuSplit[] = [];
  const anchorCpu: CpuSplit[] = [];
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
      let result = { seconds: 0, lines: 0 };
      const cpu = await measured(server.pid, async () => {
        result = await anchor(`root://127.0.0.1:${server.port}`);
      });
      anchors.push(result.seconds);
      anchorCpu.push(cpu);
      if (result.lines !== entries)
        throw new Error(`anchor listed ${result.lines} entries, expected ${entries}`);
    };
    const timeCustodian = (): Promise<void> =>
      measured(server.pid, listCustodian).then((cpu) => {
        custodianCpu.push(cpu);
      });
    const listCustodian = async (): Promise<void> => {
      const t0 = process.hrtime.bigint();
      const lister = new XrootdLister(url, subtreeSessions === undefined ? {} : { subtreeSessions });
      const result = await lister.list({
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
    for (let round = 0; round < rounds; round++) {
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
    rounds: {
      custodian_s: custodian.map((s) => Number(s.toFixed(2))),
      anchor_s: anchors.map((s) => Number(s.toFixed(2))),
    },
    cpus: os.availableParallelism(),
    anchor_cpu: medianSplit(anchorCpu),
    custodian_cpu: medianSplit(custodianCpu),
  };
}
