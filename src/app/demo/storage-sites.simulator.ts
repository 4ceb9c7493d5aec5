import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../core/logger.js';
import { sleep } from '../../core/lifecycle/abort.js';

/**
 * Two storage sites for the demo's audit module, on the local disk (`file://`): T2_HEALTHY holds
 * exactly what its inventory says; T2_LOSSY lost some files (disk failure), holds dark data the
 * catalog does not know, and has empty directories left by failed deletions. Files are dated a
 * month back, so the age rule does not hide them.
 *
 * States: seeding (once per workspace: trees and inventories) → decaying (every `tickMs` the
 * lossy site loses one more file and gains one more orphan, so its history has a trend) →
 * stopped when the signal aborts.
 */
export interface StorageSitesOptions {
  /** `<root>/<SITE>/store/...` and `<root>/<SITE>.inventory.tsv`. */
  root: string;
  tickMs: number;
  logger: Logger;
}

export const DEMO_SITES = ['T2_HEALTHY', 'T2_LOSSY'] as const;
const MONTH_AGO = () => Math.floor(Date.now() / 1000) - 30 * 86400;

function demoFiles(): { path: string; size: number }[] {
  const files: { path: string; size: number }[] = [];
  for (const top of ['mc', 'data']) {
    for (let d = 0; d < 12; d++) {
      for (let f = 0; f < 15; f++) {
        const era = top === 'mc' ? 'RunIIFall17' : 'Run2018D';
        files.push({
          path: `/store/${top}/${era}/block${d}/file${f}.root`,
          size: 1000 + ((d * 31 + f * 17) % 900),
        });
      }
    }
  }
  return files;
}

export class StorageSitesSimulator {
  private tick = 0;

  constructor(private readonly options: StorageSitesOptions) {}

  siteStore(site: string): string {
    return path.join(this.options.root, site, 'store');
  }

  inventory(site: string): string {
    return path.join(this.options.root, `${site}.inventory.tsv`);
  }

  /** Creates the trees and inventories once; returns at once when they exist. */
  async seed(): Promise<void> {
    const files = demoFiles();
    const old = MONTH_AGO();
    for (const site of DEMO_SITES) {
      if (await this.exists(this.inventory(site))) continue;
      const lossy = site === 'T2_LOSSY';
      for (const [i, file] of files.entries()) {
        if (lossy && i % 23 === 0) continue; // lost on disk, still in the catalog
        await this.writeFile(site, file.path, file.size, old);
      }
      if (lossy) {
        for (let i = 0; i < 6; i++)
          await this.writeFile(site, `/store/mc/RunIIFall17/dark/orphan${i}.root`, 4096 + i, old);
        await fs.mkdir(path.join(this.options.root, site, 'store/data/Run2018D/deleted/leftover'), {
          recursive: true,
        });
      }
      const lines = files.map((f) => `${f.path}\t${f.size}\t${old}\n`).join('');
      await fs.writeFile(this.inventory(site), lines);
      await this.ageDirectories(path.join(this.options.root, site), old);
    }
  }

  async start(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await sleep(this.options.tickMs, signal);
      if (signal.aborted) break;
      this.tick++;
      const old = MONTH_AGO();
      const files = demoFiles();
      const lost = files[(this.tick * 7) % files.length];
      if (lost) await fs.rm(path.join(this.options.root, 'T2_LOSSY', lost.path), { force: true });
      await this.writeFile('T2_LOSSY', `/store/data/Run2018D/dark/extra${this.tick}.root`, 2048, old);
      this.options.logger.debug(
        { lost: lost?.path },
        'storage simulator: T2_LOSSY lost a file and gained an orphan',
      );
    }
  }

  private async writeFile(site: string, sitePath: string, size: number, mtime: number): Promise<void> {
    const file = path.join(this.options.root, site, sitePath);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, Buffer.alloc(size, 7));
    await fs.utimes(file, mtime, mtime);
  }

  private async ageDirectories(dir: string, mtime: number): Promise<void> {
    for (const entry of await fs.readdir(dir, { withFileTypes: true }))
      if (entry.isDirectory()) await this.ageDirectories(path.join(dir, entry.name), mtime);
    await fs.utimes(dir, mtime, mtime);
  }

  private async exists(target: string): Promise<boolean> {
    try {
      await fs.stat(target);
      return true;
    } catch {
      return false;
    }
  }
}
