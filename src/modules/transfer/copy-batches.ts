/**
 * How a pass that copies a night itself cuts the night into rsync runs (transfer.service.ts
 * copyNight), and how a run's itemized changes are split back per exposure. Pure logic.
 */

/**
 * Exposures per rsync in copyNight at most. Each holds its lock until it is recorded, and two
 * batches are in flight, so `transfer once` holds up to twice this many locks at once (on
 * PostgreSQL all on one connection: core/lifecycle/lock.postgres.ts).
 */
export const BATCH_MAX = 32;
/** The last batch's size when the night is long enough: its verification is not overlapped with a copy. */
export const BATCH_LAST = 6;

/**
 * Batches of BATCH_MAX exposures, in order, the last one small. Every rsync run costs its
 * start-up (~70 ms here, as much as copying a whole exposure), so runs are few. The last is small
 * because nothing overlaps its verification. The first need not be: finishing a batch (read-only,
 * sha256, move, records) takes about a third of the time its copy does, so verification keeps up
 * without a head start (measured: 2, 8, 32, 32, 20, 6 for a night of 100 was ~0.1 s slower than
 * 32, 32, 32, 4).
 */
export function planBatches<T>(items: readonly T[]): T[][] {
  const batches: T[][] = [];
  for (let i = 0; i < items.length;) {
    const remaining = items.length - i;
    let take = Math.min(BATCH_MAX, remaining);
    if (take === remaining && remaining > BATCH_LAST + 2) take = remaining - BATCH_LAST;
    batches.push(items.slice(i, i + take));
    i += take;
  }
  return batches;
}

/** `EXPOSURE/relative/path` entries of a night's copy, per exposure (relative paths). */
export function changedByExposure(changed: readonly string[]): Map<string, string[]> {
  const byExposure = new Map<string, string[]>();
  for (const entry of changed) {
    const slash = entry.indexOf('/');
    if (slash <= 0 || slash === entry.length - 1) continue;
    const exposure = entry.slice(0, slash);
    const list = byExposure.get(exposure) ?? [];
    list.push(entry.slice(slash + 1));
    byExposure.set(exposure, list);
  }
  return byExposure;
}
