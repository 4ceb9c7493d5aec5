import fs from 'node:fs/promises';
import path from 'node:path';
import { DateTime } from 'luxon';
import type { Logger } from '../../core/logger.js';
import { sleep } from '../../core/lifecycle/abort.js';

/**
 * A stand-in for an experiment's online system (HLT/DQM) for the demo: it drops histogram files
 * into the drop directory in the HLT naming convention, run after run, the way the real one does
 * (written under a `.` name, then renamed). Every fifth run is in replay mode `E`; now and then a
 * `.` temp file lingers for a few ticks, which the organizer must leave alone.
 *
 * States: between runs → in a run (one file per subsystem per tick) → run ends after
 * `ticksPerRun` ticks → next run number. Stops when the signal aborts.
 */
export interface SimulatorOptions {
  dropDir: string;
  subsystems: readonly string[];
  timezone: string;
  firstRun: number;
  tickMs: number;
  ticksPerRun: number;
  logger: Logger;
}

const MODES = ['C', 'C', 'B', 'C', 'E'] as const;

export function histogramJson(name: string, seed: number): string {
  // A JSROOT-format TH1F (the JSON form ROOT's TBufferJSON writes), drawable by JSROOT.
  const bins = 50;
  const counts = [0];
  let entries = 0;
  for (let i = 0; i < bins; i++) {
    const x = (i - 25 - (seed % 7)) / 8;
    const value = Math.round(1000 * Math.exp(-x * x) + ((seed * 31 + i * 17) % 13));
    counts.push(value);
    entries += value;
  }
  counts.push(0);
  return JSON.stringify({
    _typename: 'TH1F',
    fName: name,
    fTitle: `${name};energy [GeV];entries`,
    fNcells: bins + 2,
    fXaxis: {
      _typename: 'TAxis',
      fName: 'xaxis',
      fTitle: 'energy [GeV]',
      fNbins: bins,
      fXmin: 0,
      fXmax: 100,
    },
    fEntries: entries,
    fArray: counts,
  });
}

export class OnlineSystemSimulator {
  private run: number;
  private tick = 0;
  private lingering: { file: string; until: number }[] = [];

  constructor(private readonly options: SimulatorOptions) {
    this.run = options.firstRun;
  }

  async start(signal: AbortSignal): Promise<void> {
    await fs.mkdir(this.options.dropDir, { recursive: true });
    while (!signal.aborted) {
      try {
        await this.step();
      } catch (error) {
        this.options.logger.warn({ err: error }, 'demo online system: could not write a file');
      }
      await sleep(this.options.tickMs, signal);
    }
  }

  private mode(): string {
    return MODES[(this.run - this.options.firstRun) % MODES.length] ?? 'C';
  }

  private async step(): Promise<void> {
    const { dropDir, subsystems, timezone, ticksPerRun } = this.options;
    const now = DateTime.now().setZone(timezone);
    const stamp = [now.year, now.month, now.day, now.hour, now.minute, now.second].join('_');
    for (const subsystem of subsystems) {
      const name = `${subsystem}histos_${this.run}_${this.mode()}_${stamp}.json`;
      const temp = path.join(dropDir, `.${name}`);
      await fs.writeFile(temp, histogramJson(`${subsystem}_energy`, this.run + this.tick));
      if (this.tick % 7 === 3 && subsystem === subsystems[0]) {
        // The online system is slow to finish this one: the dot file stays for a few ticks.
        this.lingering.push({ file: temp, until: this.tick + 3 });
      } else {
        await fs.rename(temp, path.join(dropDir, name));
      }
    }
    for (const entry of this.lingering.filter((l) => l.until <= this.tick)) {
      await fs.rename(entry.file, path.join(dropDir, path.basename(entry.file).slice(1)));
    }
    this.lingering = this.lingering.filter((l) => l.until > this.tick);
    this.tick += 1;
    if (this.tick % ticksPerRun === 0) {
      this.options.logger.info({ run: this.run, mode: this.mode() }, 'demo online system: run ended');
      this.run += 1;
    }
  }
}
