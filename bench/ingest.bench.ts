/**
 * `npm run bench -- ingest`: a Custodian organize pass over 10,000 files (10 runs × 3
 * subsystems) including its database records (SQLite), against the anchor: the same layout made
 * with plain `mkdir` + `rename` (what `mv` does) after listing the drop directory, nothing
 * recorded. Both work on identical sets of files on the same filesystem, alternating who goes
 * first; each is measured five times on fresh sets and the medians are compared.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { openDatabase } from '../src/core/db/database.js';
import { migrateToLatest } from '../src/core/db/migrations.js';
import { silentLogger } from '../src/core/logger.js';
import { createIngestModule, ingestMigrations, type PassResult } from '../src/modules/ingest/index.js';
import { localTimeOf } from '../src/modules/ingest/name.parser.js';

const FILES = 10_000;
const RUNS = 10;
const SUBSYSTEMS = ['EMC', 'HLT', 'TPC'] as const;
const ZONE = 'Europe/Zurich';
const ROUNDS = 5;

/** Realistic HLT names: unpadded date fields, a file per subsystem every 30 s, mode C (some runs E). */
function names(): string[] {
  const out: string[] = [];
  const perRun = FILES / RUNS;
  for (let i = 0; i < FILES; i++) {
    const runIndex = Math.floor(i / perRun);
    const run = 300_000 + runIndex;
    const subsystem = SUBSYSTEMS[i % SUBSYSTEMS.length] ?? 'EMC';
    const timestamp = 1_448_384_710 + runIndex * 7200 + Math.floor((i % perRun) / SUBSYSTEMS.length) * 30;
    const t = localTimeOf(timestamp, ZONE);
    const mode = runIndex === 3 ? 'E' : 'C';
    out.push(
      `${subsystem}histos_${run}_${mode}_${t.year}_${t.month}_${t.day}_${t.hour}_${t.minute}_${t.second}.root`,
    );
  }
  return out;
}

function createSet(dir: string, list: readonly string[]): void {
  fs.mkdirSync(dir, { recursive: true });
  const content = randomBytes(512);
  list.forEach((name, i) => fs.writeFileSync(path.join(dir, name), content.subarray(0, 128 + (i % 384))));
}

const pad = (s: string) => (s.length === 1 ? `0${s}` : s);

/**
 * The anchor, what a shell loop over `*histos*.root` with `mkdir -p` and `mv` does at best: list
 * the drop directory (a glob reads and sorts it), compute each target with string operations,
 * mkdir once per directory, rename.
 */
function anchorMove(dropDir: string, dataDir: string): void {
  const made = new Set<string>();
  for (const name of fs.readdirSync(dropDir).sort()) {
    const [head = '', run = '', mode = '', ...date] = name.slice(0, -'.root'.length).split('_');
    const subsystem = head.slice(0, -'histos'.length);
    const dir = path.join(dataDir, mode === 'E' ? `ReplayData/Run${run}` : `Run${run}`, subsystem);
    if (!made.has(dir)) {
      fs.mkdirSync(dir, { recursive: true });
      made.add(dir);
    }
    fs.renameSync(
      path.join(dropDir, name),
      path.join(dir, `${subsystem}hists.${date.map(pad).join('_')}.root`),
    );
  }
}

/**
 * Writes dirty pages and metadata out before a timed phase: creating 20,000 files leaves seconds
 * of writeback that would otherwise land in whichever phase runs next.
 */
function flushToDisk(): void {
  spawnSync('sync', { stdio: 'ignore' });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

export async function run(): Promise<object> {
  const work = path.resolve('.bench-work', `ingest-${randomBytes(4).toString('hex')}`);
  const list = names();
  const custodian: number[] = [];
  const anchor: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const base = path.join(work, `round-${round}`);
      const ours = { drop: path.join(base, 'custodian/drop'), data: path.join(base, 'custodian/data') };
      const plain = { drop: path.join(base, 'anchor/drop'), data: path.join(base, 'anchor/data') };
      createSet(ours.drop, list);
      createSet(plain.drop, list);
      fs.mkdirSync(plain.data, { recursive: true });

      const database = await openDatabase(`sqlite:${path.join(base, 'custodian.db')}`);
      try {
        await migrateToLatest(database, [ingestMigrations]);
        const { service } = createIngestModule({
          config: {
            dropDir: ours.drop,
            dataDir: ours.data,
            subsystems: [...SUBSYSTEMS],
            timezone: ZONE,
            replayModes: ['E'],
            settleSeconds: 5,
            intervalSeconds: 60,
            maxUploadBytes: 1 << 20,
          },
          database,
          alerts: { raise: () => Promise.resolve() },
          logger: silentLogger(),
          // The files were written a moment ago; a clock a minute ahead lets them count as settled.
          clock: () => Date.now() + 60_000,
        });

        const timeAnchor = (): void => {
          flushToDisk();
          const a0 = process.hrtime.bigint();
          anchorMove(plain.drop, plain.data);
          anchor.push(Number(process.hrtime.bigint() - a0) / 1e9);
        };
        const timeCustodian = async (): Promise<PassResult> => {
          flushToDisk();
          const c0 = process.hrtime.bigint();
          const pass = await service.runPass();
          custodian.push(Number(process.hrtime.bigint() - c0) / 1e9);
          return pass;
        };
        // Alternate who goes first, so neither always pays for the other's writeback.
        let result: PassResult;
        if (round % 2 === 0) {
          timeAnchor();
          result = await timeCustodian();
        } else {
          result = await timeCustodian();
          timeAnchor();
        }
        if (result.moved.length !== FILES || result.errors.length > 0) {
          throw new Error(
            `bench pass moved ${result.moved.length} of ${FILES} files (${result.errors.length} errors)`,
          );
        }
        const recorded = await service.listRuns(50, 0);
        if (recorded.total !== RUNS)
          throw new Error(`bench pass recorded ${recorded.total} runs, expected ${RUNS}`);
      } finally {
        await database.close();
      }
      fs.rmSync(base, { recursive: true, force: true });
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const custodianS = median(custodian);
  const anchorS = median(anchor);
  return {
    name: 'ingest',
    files: FILES,
    custodian_s: Number(custodianS.toFixed(3)),
    anchor_s: Number(anchorS.toFixed(3)),
    ratio: Number((custodianS / anchorS).toFixed(2)),
  };
}
