/**
 * `npm run bench -- transfer`: a night of 100 exposures × 20 files (env
 * CUSTODIAN_BENCH_TRANSFER_EXPOSURES sets the count) pulled from an `ssh://` source on loopback (a
 * real sshd, test/helpers/sshd.ts). Custodian: the built CLI's `transfer once --json` (node
 * startup, ssh master, discovery, per exposure rsync + read-only + sha256 verification + publish
 * + SQLite records), timed as a whole. Anchor: one plain `rsync -a` of the same night over the
 * same ssh (one connection, nothing verified, nothing recorded). Each side runs ROUNDS times into
 * fresh destinations, alternating who goes first, after a `sync`; the medians are compared. The
 * source stays in the page cache for both (nothing is dropped).
 *
 * Custodian runs one rsync session per exposure and the anchor one in all, and each session
 * starts the remote user's login shell: a heavy ~/.bashrc (pyenv, conda, modules) weighs on the
 * ratio, so the time of one login is printed on stderr. Env CUSTODIAN_BENCH_BIN runs another
 * build of the CLI (a prototype) against the same anchor.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startSshd, type TestSshd } from '../test/helpers/sshd.js';

const ROUNDS = 5;
const STREAM = 'bench_stream';
// An old night: catch-up and archive (when the UTC hour passes 23) look at yesterday's night,
// which is never this one, so they find nothing to do and cost a directory listing.
const NIGHT = '20240315';
const FIRST_EXPOSURE = 120_000;
const LOGIN_LIMIT_S = 5;
const KiB = 1024;
const MiB = 1024 * KiB;
/**
 * One exposure as a spectrograph night produces it: a few large compressed frames and many small
 * companions (guider and focus summaries, requests, fiber assignments, logs), one subdirectory.
 */
const LAYOUT: readonly { name: (exposure: string) => string; bytes: number }[] = [
  { name: (e) => `desi-${e}.fits.fz`, bytes: 2 * MiB },
  { name: (e) => `guide-${e}.fits.fz`, bytes: 1 * MiB },
  { name: (e) => `sky-${e}.fits.fz`, bytes: 1 * MiB },
  { name: (e) => `fiberassign-${e}.fits.gz`, bytes: 192 * KiB },
  { name: (e) => `centroids-${e}.json`, bytes: 48 * KiB },
  { name: (e) => `coordinates-${e}.fits`, bytes: 96 * KiB },
  { name: (e) => `request-${e}.json`, bytes: 2 * KiB },
  { name: (e) => `manifest_${e}.json`, bytes: 1 * KiB },
  { name: (e) => `etc-${e}.json`, bytes: 12 * KiB },
  { name: (e) => `pm-${e}.fits`, bytes: 64 * KiB },
  { name: (e) => `focus-${e}.fits.fz`, bytes: 128 * KiB },
  { name: (e) => `sframesky-${e}.fits`, bytes: 32 * KiB },
  { name: (e) => `spectrograph-${e}.log`, bytes: 24 * KiB },
  { name: (e) => `exposure-${e}.log`, bytes: 8 * KiB },
  { name: (e) => `ics-${e}.json`, bytes: 4 * KiB },
  { name: (e) => `guide-rois-${e}.fits.fz`, bytes: 160 * KiB },
  { name: (e) => `guider/gfa-${e}-0.json`, bytes: 6 * KiB },
  { name: (e) => `guider/gfa-${e}-1.json`, bytes: 6 * KiB },
  { name: (e) => `guider/gfa-${e}-2.json`, bytes: 6 * KiB },
  { name: (e) => `guider/summary ${e}.txt`, bytes: 3 * KiB },
];

const PROJECT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The CLI a user runs; env CUSTODIAN_BENCH_BIN points at another build (e.g. a prototype). */
const BIN = process.env.CUSTODIAN_BENCH_BIN ?? path.join(PROJECT, 'bin', 'custodian.js');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function exposureCount(): number {
  const raw = process.env.CUSTODIAN_BENCH_TRANSFER_EXPOSURES ?? '100';
  const count = Number(raw);
  if (!Number.isInteger(count) || count < 1 || count > 10_000)
    throw new Error(`CUSTODIAN_BENCH_TRANSFER_EXPOSURES must be an integer from 1 to 10000; got ${raw}`);
  return count;
}

function checkBuilt(): void {
  const entry = path.join(path.dirname(BIN), '..', 'dist', 'cli', 'custodian.js');
  if (!fs.existsSync(BIN) || !fs.existsSync(entry))
    throw new Error(`the built CLI is missing (${entry}): run \`npm run build\` first, then the bench again`);
  for (const program of ['rsync', 'ssh', 'sync']) {
    if (spawnSync(program, ['--version'], { stdio: 'ignore' }).error)
      throw new Error(`the bench needs ${program}: apt-get install -y rsync openssh-client openssh-server`);
  }
}

/**
 * Writes the night's exposures with their `checksum-<EXPOSURE>.sha256sum` manifests. Contents are
 * pseudo-random (incompressible, so ssh moves every byte): one random block, stamped per file.
 */
export function createNight(source: string, exposures: number): { bytes: number; files: number } {
  const block = randomBytes(2 * MiB);
  let bytes = 0;
  let files = 0;
  for (let i = 0; i < exposures; i++) {
    const exposure = String(FIRST_EXPOSURE + i).padStart(8, '0');
    const dir = path.join(source, NIGHT, exposure);
    const lines: string[] = [];
    LAYOUT.forEach((file, f) => {
      const name = file.name(exposure);
      const content = Buffer.from(block.subarray(0, file.bytes));
      content.writeUInt32LE(i, 0);
      content.writeUInt32LE(f, 4);
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), content);
      lines.push(`${createHash('sha256').update(content).digest('hex')}  ${name}`);
      bytes += content.length;
      files++;
    });
    const manifest = `${lines.join('\n')}\n`;
    fs.writeFileSync(path.join(dir, `checksum-${exposure}.sha256sum`), manifest);
    bytes += Buffer.byteLength(manifest);
  }
  return { bytes, files };
}

export function writeConfig(work: string, round: string, sshd: TestSshd, source: string): string {
  const base = path.join(work, round);
  const file = path.join(base, 'custodian.yaml');
  fs.mkdirSync(base, { recursive: true });
  const q = (text: string) => JSON.stringify(text);
  fs.writeFileSync(
    file,
    [
      `database: ${q(`sqlite:${path.join(work, 'custodian.db')}`)}`,
      'logging: { level: warn }',
      'transfer:',
      '  timezone: UTC',
      '  catchupHour: 23',
      '  archiveHour: 23',
      '  streams:',
      `    - name: ${STREAM}`,
      `      source: ${q(sshd.url(source))}`,
      `      sshIdentity: ${q(sshd.identity)}`,
      `      sshOptions: [${sshd.sshOptions.join(', ')}]`,
      `      staging: ${q(path.join(base, 'staging'))}`,
      `      destination: ${q(path.join(base, 'destination'))}`,
      `      archive: ${q(path.join(base, 'archive'))}`,
      '',
    ].join('\n'),
  );
  return file;
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

function timed(command: string, args: string[]): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        seconds: Number(process.hrtime.bigint() - t0) / 1e9,
      }),
    );
  });
}

/** Files (not directories) under `dir`, and their total size. */
function tally(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    files++;
    bytes += fs.statSync(path.join(entry.parentPath, entry.name)).size;
  }
  return { files, bytes };
}

interface PassJson {
  streams?: {
    error?: string;
    exposures?: { exposure: string; action: string; failed: string[]; verify?: { ok: boolean } }[];
  }[];
}

/** Every exposure copied, verified and published in this pass, and the night complete on disk. */
function checkCustodian(ran: Ran, destination: string, exposures: number, expected: { bytes: number }): void {
  const fail = (why: string) =>
    new Error(`custodian transfer once: ${why}\nstdout: ${ran.stdout.slice(0, 2000)}\nstderr: ${ran.stderr}`);
  if (ran.code !== 0) throw fail(`exit code ${ran.code}`);
  let pass: PassJson;
  try {
    pass = JSON.parse(ran.stdout) as PassJson;
  } catch {
    throw fail('did not print JSON');
  }
  const stream = pass.streams?.[0];
  if (stream?.error !== undefined) throw fail(`stream error: ${stream.error}`);
  const done = (stream?.exposures ?? []).filter(
    (e) => e.action === 'transferred' && e.failed.length === 0 && e.verify?.ok === true,
  );
  if (done.length !== exposures)
    throw fail(`${done.length} of ${exposures} exposures transferred and verified`);
  const onDisk = tally(path.join(destination, NIGHT));
  if (onDisk.files !== exposures * (LAYOUT.length + 1) || onDisk.bytes !== expected.bytes)
    throw fail(`destination holds ${onDisk.files} files, ${onDisk.bytes} bytes`);
}

function checkAnchor(ran: Ran, target: string, exposures: number, expected: { bytes: number }): void {
  if (ran.code !== 0) throw new Error(`anchor rsync exited with ${ran.code}: ${ran.stderr}`);
  const onDisk = tally(target);
  if (onDisk.files !== exposures * (LAYOUT.length + 1) || onDisk.bytes !== expected.bytes)
    throw new Error(`anchor rsync left ${onDisk.files} files, ${onDisk.bytes} bytes in ${target}`);
}

/**
 * Every rsync session starts the remote user's login shell (`sh -c 'rsync --server …'`), and
 * Custodian opens one per exposure where the anchor opens one in all, so a slow shell start-up
 * (a heavy ~/.bashrc) weighs on the ratio: say how long one login takes here. A login slower
 * than LOGIN_LIMIT_S would make the bench measure the host, not Custodian: stop instead.
 */
async function checkLogin(sshArgs: string[], user: string): Promise<void> {
  const login = await timed('ssh', [...sshArgs, `${user}@127.0.0.1`, 'true']);
  if (login.code !== 0) throw new Error(`ssh to the bench sshd failed (${login.code}): ${login.stderr}`);
  process.stderr.write(
    `transfer bench: one ssh login (handshake + remote login shell) takes ${login.seconds.toFixed(2)} s here\n`,
  );
  if (login.seconds > LOGIN_LIMIT_S)
    throw new Error(
      `one ssh login to 127.0.0.1 takes ${login.seconds.toFixed(1)} s (over ${LOGIN_LIMIT_S} s): ` +
        `the login shell of ${user} is slow to start (check its ~/.bashrc, e.g. a stale lock); fix that, then rerun`,
    );
}

export async function run(): Promise<object> {
  checkBuilt();
  const exposures = exposureCount();
  const work = path.resolve('.bench-work', `transfer-${randomBytes(4).toString('hex')}`);
  const source = path.join(work, 'source');
  const custodian: number[] = [];
  const anchor: number[] = [];
  let sshd: TestSshd | undefined;
  let night = { bytes: 0, files: 0 };
  try {
    night = createNight(source, exposures);
    sshd = await startSshd();
    const server = sshd;

    // The schema is created outside the timed runs, as it is once per deployment.
    const migrate = await timed(process.execPath, [
      BIN,
      'db',
      'migrate',
      '-c',
      writeConfig(work, 'setup', server, source),
    ]);
    if (migrate.code !== 0) throw new Error(`custodian db migrate failed: ${migrate.stderr}`);

    const sshArgs = [
      '-p',
      String(server.port),
      '-i',
      server.identity,
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'BatchMode=yes',
      ...server.sshOptions.flatMap((option) => ['-o', option]),
    ];
    const ssh = ['ssh', ...sshArgs].join(' ');
    await checkLogin(sshArgs, server.user);

    const timeCustodian = async (round: number): Promise<void> => {
      const config = writeConfig(work, `custodian-${round}`, server, source);
      spawnSync('sync', { stdio: 'ignore' });
      const ran = await timed(process.execPath, [BIN, 'transfer', 'once', '--json', '-c', config]);
      checkCustodian(ran, path.join(work, `custodian-${round}`, 'destination'), exposures, night);
      custodian.push(ran.seconds);
      fs.rmSync(path.join(work, `custodian-${round}`), { recursive: true, force: true });
    };
    const timeAnchor = async (round: number): Promise<void> => {
      const target = path.join(work, `anchor-${round}`, NIGHT);
      fs.mkdirSync(target, { recursive: true });
      spawnSync('sync', { stdio: 'ignore' });
      const ran = await timed('rsync', [
        '-a',
        '-e',
        ssh,
        `${server.user}@127.0.0.1:${path.join(source, NIGHT)}/`,
        `${target}/`,
      ]);
      checkAnchor(ran, target, exposures, night);
      anchor.push(ran.seconds);
      fs.rmSync(path.join(work, `anchor-${round}`), { recursive: true, force: true });
    };
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2 === 0) {
        await timeAnchor(round);
        await timeCustodian(round);
      } else {
        await timeCustodian(round);
        await timeAnchor(round);
      }
    }
  } finally {
    await sshd?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
  const custodianS = median(custodian);
  const anchorS = median(anchor);
  return {
    name: 'transfer',
    exposures,
    files: night.files,
    bytes: night.bytes,
    custodian_s: Number(custodianS.toFixed(3)),
    anchor_s: Number(anchorS.toFixed(3)),
    ratio: Number((custodianS / anchorS).toFixed(2)),
  };
}
