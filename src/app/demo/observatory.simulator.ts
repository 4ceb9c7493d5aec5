import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { Logger } from '../../core/logger.js';
import { sleep } from '../../core/lifecycle/abort.js';
import { DateTime } from 'luxon';
import { yesterdayOf } from '../../modules/transfer/index.js';

function todayOf(ms: number, timezone: string): string {
  return DateTime.fromMillis(ms, { zone: timezone }).toFormat('yyyyLLdd');
}

/**
 * A stand-in for the observatory's DAQ host for the demo: it writes exposures into
 * `<sourceDir>/<NIGHT>/<EXPOSURE>/` with a `checksum-<EXPOSURE>.sha256sum` manifest, as the real
 * one does. Each exposure is assembled in `workDir` and renamed into place, so a pass never sees
 * half of one. Now and then something goes wrong the way it does at a telescope: every seventh
 * exposure has a manifest line that does not match (a bad checksum), and every fifth lists a
 * guider file that only arrives a few ticks later (a late file, fixed by the catch-up).
 *
 * States: seeding (yesterday's night, once, so the nightly catch-up and archive have work) →
 * observing (one exposure of tonight's night per tick; late files written when due) → stopped
 * when the signal aborts.
 */
export interface ObservatoryOptions {
  sourceDir: string;
  /** Same filesystem as sourceDir (exposures are renamed from here into the source). */
  workDir: string;
  timezone: string;
  tickMs: number;
  logger: Logger;
  /** unix ms; default Date.now */
  clock?: () => number;
}

const LATE_AFTER_TICKS = 3;

function pseudoRandomBytes(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

export class ObservatorySimulator {
  private readonly clock: () => number;
  private readonly late: { due: number; file: string; content: Buffer }[] = [];
  private tick = 0;

  constructor(private readonly options: ObservatoryOptions) {
    this.clock = options.clock ?? Date.now;
  }

  async start(signal: AbortSignal): Promise<void> {
    const { logger } = this.options;
    await fs.mkdir(this.options.workDir, { recursive: true });
    await fs.mkdir(this.options.sourceDir, { recursive: true });
    let next = (await this.lastExposure()) + 1;
    const yesterday = yesterdayOf(this.clock(), this.options.timezone);
    if (!(await this.exists(path.join(this.options.sourceDir, yesterday)))) {
      for (let i = 0; i < 6; i++) await this.writeExposure(yesterday, next++, { late: false });
      logger.info({ night: yesterday }, `observatory simulator: wrote yesterday's night ${yesterday}`);
    }
    while (!signal.aborted) {
      this.tick++;
      // The demo observes "tonight" under today's local date, so it never writes into the night
      // that is being caught up and archived (yesterday's), whatever the hour.
      const night = todayOf(this.clock(), this.options.timezone);
      await this.writeExposure(night, next++, { late: true });
      for (const late of this.late.filter((l) => l.due <= this.tick)) {
        await fs.writeFile(late.file, late.content);
        logger.info({ file: late.file }, 'observatory simulator: a late file arrived');
      }
      this.late.splice(0, this.late.length, ...this.late.filter((l) => l.due > this.tick));
      await sleep(this.options.tickMs, signal);
    }
  }

  private async writeExposure(night: string, number: number, options: { late: boolean }): Promise<void> {
    const exposure = String(number).padStart(8, '0');
    const work = path.join(this.options.workDir, exposure);
    await fs.rm(work, { recursive: true, force: true });
    await fs.mkdir(path.join(work, 'guide'), { recursive: true });
    const files: Record<string, Buffer> = {
      [`desi-${exposure}.fits.fz`]: pseudoRandomBytes(96 * 1024, number),
      [`request-${exposure}.json`]: Buffer.from(JSON.stringify({ exposure: number, night, program: 'dark' })),
      [`guide/guide-${exposure}.fits.fz`]: pseudoRandomBytes(16 * 1024, number + 7),
    };
    const lateFile = `guide/centroids-${exposure}.json`;
    const lateContent = Buffer.from(JSON.stringify({ exposure: number, centroids: [1.5, 2.25] }));
    const isLate = options.late && number % 5 === 0;
    const isBad = number % 7 === 0;
    const lines: string[] = [];
    for (const [name, content] of Object.entries(files)) {
      await fs.writeFile(path.join(work, name), content);
      const hash =
        isBad && name.endsWith('.json')
          ? sha256(Buffer.concat([content, Buffer.from('x')]))
          : sha256(content);
      lines.push(`${hash}  ${name}`);
    }
    lines.push(`${sha256(lateContent)}  ${lateFile}`);
    if (!isLate) await fs.writeFile(path.join(work, lateFile), lateContent);
    await fs.writeFile(path.join(work, `checksum-${exposure}.sha256sum`), `${lines.join('\n')}\n`);
    const target = path.join(this.options.sourceDir, night, exposure);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.rename(work, target);
    if (isLate)
      this.late.push({
        due: this.tick + LATE_AFTER_TICKS,
        file: path.join(target, lateFile),
        content: lateContent,
      });
    this.options.logger.debug(
      { night, exposure, bad: isBad, late: isLate },
      'observatory simulator: exposure written',
    );
  }

  private async lastExposure(): Promise<number> {
    let last = 0;
    for (const night of await this.list(this.options.sourceDir)) {
      for (const exposure of await this.list(path.join(this.options.sourceDir, night))) {
        if (/^\d{8}$/.test(exposure)) last = Math.max(last, Number(exposure));
      }
    }
    return last;
  }

  private async list(dir: string): Promise<string[]> {
    try {
      return await fs.readdir(dir);
    } catch {
      return [];
    }
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
