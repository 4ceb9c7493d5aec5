/**
 * A named lock that makes a singleton loop (a scheduler, a folder watcher) run once across
 * processes: a PostgreSQL advisory lock held on a dedicated connection, or a lease row in SQLite
 * renewed while held and taken over when it expires (a crashed holder cannot block forever).
 */
export interface LockHandle {
  readonly name: string;
  /** Aborts if the lock is lost (lease expired, connection dropped). */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

export interface LockManager {
  /**
   * Returns undefined when another holder has the lock (locks are not re-entrant). Throws
   * UnavailableError when the database cannot be reached.
   */
  tryAcquire(name: string): Promise<LockHandle | undefined>;
}
