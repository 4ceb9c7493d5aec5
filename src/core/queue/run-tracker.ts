import { linkSignals } from '../lifecycle/abort.js';

/**
 * What both queue adapters need to stop cleanly: every run (a worker loop, a drain) gets a signal
 * that aborts when its caller aborts or the queue closes, and `close()` waits for all runs in flight.
 */
export class RunTracker {
  private readonly closing = new AbortController();
  private readonly active = new Set<Promise<void>>();

  get closed(): boolean {
    return this.closing.signal.aborted;
  }

  async track(caller: AbortSignal | undefined, run: (signal: AbortSignal) => Promise<void>): Promise<void> {
    const link = linkSignals(caller, this.closing.signal);
    const done = run(link.signal);
    this.active.add(done);
    try {
      await done;
    } finally {
      this.active.delete(done);
      link.dispose();
    }
  }

  /** Aborts every run and resolves once all have finished (a failed run does not stop the wait). */
  async close(): Promise<void> {
    this.closing.abort(new Error('job queue closed'));
    await Promise.allSettled([...this.active]);
  }
}
