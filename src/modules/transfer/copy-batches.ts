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
 * Batches of 2, 8, 32, … exposures, in order: the first is small so verification starts at once,
 * later ones large because every rsync run costs its start-up (~70 ms here, as much as copying a
 * whole exposure), and the last is small again because nothing overlaps its verification.
 */
export function planBatches<T>(items: readonly T[]): T[][] {
  const batches: T[][] = [];
  let size = 2;
  for (let i = 0; i < items.length;) {
    const remaining = items.length - i;
    let take = Math.min(size, remaining);
    if (take === remaining && remaining > BATCH_LAST + 2) take = remaining - BATCH_LAST;
    batches.push(items.slice(i, i + take));
    i += take;
    size = Math.min(size * 4, BATCH_MAX);
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
