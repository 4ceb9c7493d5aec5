/**
 * `npm run bench -- audit-compare`: `custodian audit compare` on a 10^7-entry inventory and a
 * listing that lacks 1% of it and holds 1% more (env CUSTODIAN_BENCH_AUDIT_ENTRIES sets the
 * size), against the anchor: `cut -f1 | LC_ALL=C sort` of each dump, then `comm -23` (missing)
 * and `comm -13` (orphans). Paths are CMS-like (`/store/mc/<campaign>/<dataset>/<tier>/
 * <conditions>/<block>/<uuid>.root`, ~200 bytes) and every mtime is years old. Like a real
 * listing, the listing names each block directory (`path/`); the anchor drops those lines with
 * `grep -v '/$'`, so both approaches must give the same two sorted lists (`identical` compares
 * their sha256). Custodian runs as the built CLI when `dist/` has the command (process
 * start included; peak memory from GNU time /usr/bin/time, null without it), else in-process
 * (peak memory = this process's).
 * Both read the dumps from the page cache (they were just written). Each side is timed ROUNDS
 * times (env CUSTODIAN_BENCH_AUDIT_ROUNDS, default 3), alternating who goes first; medians.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'bin', 'custodian.js');
const BUILT_COMMAND = path.join(ROOT, 'dist', 'server', 'modules', 'audit', 'audit-compare.commands.js');
const GNU_TIME = '/usr/bin/time';

const CAMPAIGNS = [
  'RunIIFall17NanoAODv7',
  'RunIIAutumn18MiniAOD',
  'RunIISummer16NanoAODv7',
  'RunIIFall17MiniAODv2',
];
const DATASETS = [
  'TTToSemiLeptonic_TuneCP5_13TeV-powheg-pythia8',
  'DYJetsToLL_M-50_TuneCP5_13TeV-madgraphMLM-pythia8',
  'WJetsToLNu_HT-400To600_TuneCP5_13TeV-madgraphMLM-pythia8',
  'QCD_Pt-15to7000_TuneCP5_Flat_13TeV_pythia8',
  'GluGluHToZZTo4L_M125_13TeV_powheg2_JHUGenV7011_pythia8',
];
const TIERS = ['NANOAODSIM', 'MINIAODSIM'];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** xorshift32: deterministic and fast enough for 10^7 uuids. */
function generator(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** Writes the inventory and the listing; returns the number of lines of each. */
function generate(
  entries: number,
  inventoryFile: string,
  listingFile: string,
): { inventory: number; listing: number } {
  const rnd = generator(0x9e3779b9);
  const hex = (digits: number) => rnd().toString(16).padStart(8, '0').slice(0, digits);
  const uuid = () => `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(8)}${hex(4)}`;
  const line = (dir: string) =>
    `${dir}${uuid()}.root\t${100_000_000 + (rnd() % 3_900_000_000)}\t${1_500_000_000 + (rnd() % 100_000_000)}\n`;
  const inventoryFd = fs.openSync(inventoryFile, 'w');
  const listingFd = fs.openSync(listingFile, 'w');
  let inventoryText = '';
  let listingText = '';
  const counts = { inventory: 0, listing: 0 };
  const flush = () => {
    fs.writeSync(inventoryFd, inventoryText);
    fs.writeSync(listingFd, listingText);
    inventoryText = '';
    listingText = '';
  };
  try {
    for (let block = 0; counts.inventory < entries; block++) {
      const dir = `/store/mc/${CAMPAIGNS[block % 4]}/${DATASETS[(block >> 2) % 5]}/${TIERS[(block >> 4) % 2]}/PU2017_12Apr2018_Nano02Apr2020_102X_mc2017_realistic_v8-v${1 + (block >> 5)}/${10_000 + (block % 997) * 10}/`;
      // A listing names directories too (`path/`); the inventory does not.
      listingText += `${dir}\t0\t1600000000\n`;
      counts.listing++;
      const files = 200 + (rnd() % 600);
      for (let f = 0; f < files && counts.inventory < entries; f++) {
        const entry = line(dir);
        inventoryText += entry;
        counts.inventory++;
        const dice = rnd() % 100;
        // 1% of the inventory is lost at the site, and the site holds 1% of dark data.
        if (dice !== 0) {
          listingText += entry;
          counts.listing++;
        }
        if (dice === 1) {
          listingText += line(dir);
          counts.listing++;
        }
      }
      if (inventoryText.length > 1 << 22) flush();
    }
    flush();
  } finally {
    fs.closeSync(inventoryFd);
    fs.closeSync(listingFd);
  }
  return counts;
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

interface Run {
  seconds: number;
  peakRssMb: number;
  missing: string;
  orphan: string;
}

function runCli(dir: string, inventory: string, listing: string): Run {
  const prefix = path.join(dir, 'custodian');
  const rssFile = path.join(dir, 'custodian.rss');
  const args = [
    CLI,
    'audit',
    'compare',
    '--inventory',
    inventory,
    '--listing',
    listing,
    '--out',
    prefix,
    '--json',
  ];
  const useTime = fs.existsSync(GNU_TIME);
  const start = process.hrtime.bigint();
  const result = useTime
    ? spawnSync(GNU_TIME, ['-f', '%M', '-o', rssFile, process.execPath, ...args], { encoding: 'utf8' })
    : spawnSync(process.execPath, args, { encoding: 'utf8' });
  const elapsed = seconds(start);
  if (result.status !== 1)
    throw new Error(`custodian audit compare exited ${result.status}: ${result.stderr}`);
  const peakKb = useTime ? Number(fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop()) : Number.NaN;
  return {
    seconds: elapsed,
    peakRssMb: peakKb / 1024,
    missing: `${prefix}_missing.txt`,
    orphan: `${prefix}_orphan.txt`,
  };
}

async function runInProcess(dir: string, inventory: string, listing: string): Promise<Run> {
  const prefix = path.join(dir, 'custodian');
  const { DuckDbCompareEngine } = await import('../src/modules/audit/compare.engine.js');
  const start = process.hrtime.bigint();
  await new DuckDbCompareEngine().compare({
    inventory,
    listing,
    out: prefix,
    now: Math.floor(Date.now() / 1000),
    ignoreAgeDays: 5,
    ignorePatterns: [],
  });
  return {
    seconds: seconds(start),
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    missing: `${prefix}_missing.txt`,
    orphan: `${prefix}_orphan.txt`,
  };
}

function runAnchor(dir: string, inventory: string, listing: string): Run {
  const q = (p: string) => `'${p.replaceAll("'", "'\\''")}'`;
  const [inv, lst, missing, orphan] = [
    'inventory.sorted',
    'listing.sorted',
    'anchor_missing',
    'anchor_orphan',
  ].map((name) => path.join(dir, name)) as [string, string, string, string];
  const script = [
    'set -e',
    'export LC_ALL=C',
    `cut -f1 ${q(inventory)} | sort > ${q(inv)}`,
    `cut -f1 ${q(listing)} | grep -v '/$' | sort > ${q(lst)}`,
    `comm -23 ${q(inv)} ${q(lst)} > ${q(missing)}`,
    `comm -13 ${q(inv)} ${q(lst)} > ${q(orphan)}`,
  ].join('\n');
  const start = process.hrtime.bigint();
  const result = spawnSync('sh', ['-c', script], { encoding: 'utf8', env: { ...process.env, TMPDIR: dir } });
  const elapsed = seconds(start);
  if (result.status !== 0) throw new Error(`anchor failed (${result.status}): ${result.stderr}`);
  fs.rmSync(inv);
  fs.rmSync(lst);
  return { seconds: elapsed, peakRssMb: Number.NaN, missing, orphan };
}

export async function run(): Promise<object> {
  const entries = Number(process.env.CUSTODIAN_BENCH_AUDIT_ENTRIES ?? 10_000_000);
  const rounds = Number(process.env.CUSTODIAN_BENCH_AUDIT_ROUNDS ?? 3);
  if (!Number.isInteger(entries) || entries < 1000)
    throw new Error('CUSTODIAN_BENCH_AUDIT_ENTRIES must be an integer of at least 1000');
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error('CUSTODIAN_BENCH_AUDIT_ROUNDS must be a positive integer');
  const mode = fs.existsSync(BUILT_COMMAND) ? 'cli' : 'in-process';
  const dir = path.resolve('.bench-work', `audit-compare-${randomBytes(4).toString('hex')}`);
  const custodian: Run[] = [];
  const anchor: Run[] = [];
  let lines = { inventory: 0, listing: 0 };
  try {
    fs.mkdirSync(dir, { recursive: true });
    const inventory = path.join(dir, 'inventory.tsv');
    const listing = path.join(dir, 'listing.tsv');
    lines = generate(entries, inventory, listing);
    // Written back now, so neither side pays for the generator's dirty pages.
    spawnSync('sync', { stdio: 'ignore' });
    const timeCustodian = async () =>
      custodian.push(
        mode === 'cli' ? runCli(dir, inventory, listing) : await runInProcess(dir, inventory, listing),
      );
    for (let round = 0; round < rounds; round++) {
      if (round % 2 === 0) {
        await timeCustodian();
        anchor.push(runAnchor(dir, inventory, listing));
      } else {
        anchor.push(runAnchor(dir, inventory, listing));
        await timeCustodian();
      }
    }
    const c = custodian[custodian.length - 1] as Run;
    const a = anchor[anchor.length - 1] as Run;
    const identical = sha256(c.missing) === sha256(a.missing) && sha256(c.orphan) === sha256(a.orphan);
    const missing = fs.readFileSync(c.missing, 'utf8').split('\n').length - 1;
    const orphans = fs.readFileSync(c.orphan, 'utf8').split('\n').length - 1;
    const custodianS = median(custodian.map((r) => r.seconds));
    const anchorS = median(anchor.map((r) => r.seconds));
    return {
      name: 'audit-compare',
      entries,
      listing_entries: lines.listing,
      missing,
      orphans,
      mode,
      custodian_s: Number(custodianS.toFixed(2)),
      anchor_s: Number(anchorS.toFixed(2)),
      ratio: Number((custodianS / anchorS).toFixed(3)),
      peak_rss_mb: Math.round(Math.max(...custodian.map((r) => r.peakRssMb))),
      identical,
      custodian_runs_s: custodian.map((r) => Number(r.seconds.toFixed(2))),
      anchor_runs_s: anchor.map((r) => Number(r.seconds.toFixed(2))),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
