import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { LockHandle, LockManager } from './lock.js';
import { coerceError, UnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import { maskUrl } from '../db/database.js';
import { loadPg } from '../db/pg.loader.js';

/**
 * Named locks as PostgreSQL session advisory locks. All the locks a manager holds share one
 * dedicated connection (its session), not a pool's: a pooled connection would carry a lock to
 * whoever gets it next. One session rather than one per lock, because `transfer once` holds a
 * lock per exposure for two batches of up to 32 at once: a connection each would be 64 of
 * PostgreSQL's 100 default connections for one process.
 *
 * Session states: none → connecting (at the first acquisition) → open while any lock is held or
 * being taken → closed when the last one is released (an idle process holds no connection), or
 * lost: when the connection fails, ends, or does not answer the liveness check every
 * `checkIntervalMs`, every handle it carried aborts `lost` (PostgreSQL released their locks with
 * the session) and the next acquisition opens a new session.
 *
 * PostgreSQL's advisory locks are re-entrant within a session; these are not: a name this
 * manager already holds is refused here, before PostgreSQL is asked.
 */
export interface AdvisoryLockOptions {
  /** postgres:// URL of the application database. */
  connectionString: string;
  logger: Logger;
  /** How often the locks' connection is checked while it holds any, ms. Default 10 000. */
  checkIntervalMs?: number;
}

/** 64-bit key of a lock name; namespaced so other applications' advisory locks do not collide. */
export function advisoryLockKey(name: string): string {
  return createHash('sha256').update(`custodian-lock:${name}`).digest().readBigInt64BE(0).toString();
}

export class AdvisoryLockManager implements LockManager {
  private readonly logger: Logger;
  private session: Promise<LockSession> | undefined;

  constructor(private readonly options: AdvisoryLockOptions) {
    this.logger = options.logger.child({ component: 'locks' });
  }

  async tryAcquire(name: string): Promise<LockHandle | undefined> {
    const key = advisoryLockKey(name);
    for (;;) {
      const outcome = await (await this.open(name)).tryAcquire(name, key);
      // Closed (its last lock released) between being handed out and used: open another.
      if (outcome !== 'closed') return outcome;
    }
  }

  /**
   * The open session, or a new one. Chained, so that acquisitions arriving together while the
   * session is gone share the one that replaces it.
   */
  private open(name: string): Promise<LockSession> {
    const current = this.session;
    const next =
      current === undefined
        ? this.connect(name)
        : current.then(
            (session) => (session.usable ? session : this.connect(name)),
            () => this.connect(name),
          );
    this.session = next;
    return next;
  }

  private async connect(name: string): Promise<LockSession> {
    const { Client } = await loadPg();
    const client = new Client({
      connectionString: this.options.connectionString,
      keepAlive: true,
      application_name: 'custodian-locks',
    });
    // Until the session owns the client, connection errors surface through connect().
    const early = () => undefined;
    client.on('error', early);
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw new UnavailableError(
        'LOCK_UNAVAILABLE',
        `cannot take lock ${name} in ${maskUrl(this.options.connectionString)}: ${coerceError(error).message} (is PostgreSQL running?)`,
        { cause: error },
      );
    }
    client.off('error', early);
    return new LockSession(client, this.options.checkIntervalMs ?? 10_000, this.logger);
  }
}

/** One connection and the locks held on it. */
class LockSession {
  private readonly held = new Map<string, AdvisoryHandle>();
  /** Acquisitions in flight: the connection stays open for them. */
  private taking = 0;
  private state: 'open' | 'closed' | 'lost' = 'open';
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(
    private readonly client: pg.Client,
    private readonly checkIntervalMs: number,
    private readonly logger: Logger,
  ) {
    client.on('error', (error) => this.lose(`its connection failed: ${error.message}`));
    client.on('end', () => this.lose('its connection closed'));
  }

  /** Whether new locks may be taken on it. */
  get usable(): boolean {
    return this.state === 'open';
  }

  /** The handle; undefined when the lock is held (here or elsewhere); 'closed' when this session no longer takes locks. */
  async tryAcquire(name: string, key: string): Promise<LockHandle | undefined | 'closed'> {
    if (this.state !== 'open') return 'closed';
    if (this.held.has(key)) return undefined;
    // Counted before the first await, so the session cannot close under this acquisition.
    this.taking++;
    try {
      const { rows } = await this.client.query<{ locked: boolean }>(
        'select pg_try_advisory_lock($1::bigint) as locked',
        [key],
      );
      if (rows[0]?.locked !== true) return undefined;
      if (this.held.has(key)) {
        // Taken twice at once in this process: PostgreSQL counted it twice; give one back.
        await this.client.query('select pg_advisory_unlock($1::bigint)', [key]);
        return undefined;
      }
      const handle = new AdvisoryHandle(name, this.logger.child({ lock: name }), () => this.release(key));
      this.held.set(key, handle);
      this.timer ??= setInterval(() => void this.check(), this.checkIntervalMs).unref();
      return handle;
    } catch (error) {
      this.lose(`taking lock ${name} failed: ${coerceError(error).message}`);
      throw new UnavailableError(
        'LOCK_UNAVAILABLE',
        `cannot take lock ${name}: ${coerceError(error).message}`,
        {
          cause: error,
        },
      );
    } finally {
      this.taking--;
      this.closeIfIdle();
    }
  }

  private async release(key: string): Promise<void> {
    if (this.state !== 'open' || !this.held.has(key)) return;
    try {
      await this.client.query('select pg_advisory_unlock($1::bigint)', [key]);
      this.held.delete(key);
    } catch (error) {
      // Whether it is still held is unknown: ending the session releases it (and the others).
      this.held.delete(key);
      this.lose(`releasing a lock failed: ${coerceError(error).message}`);
      return;
    }
    this.closeIfIdle();
  }

  private closeIfIdle(): void {
    if (this.state !== 'open' || this.held.size > 0 || this.taking > 0) return;
    this.state = 'closed';
    this.stopChecking();
    this.client.end().catch(() => undefined);
  }

  private async check(): Promise<void> {
    if (this.checking || this.state !== 'open') return;
    this.checking = true;
    try {
      await this.client.query('select 1');
    } catch (error) {
      this.lose(`its connection does not answer: ${coerceError(error).message}`);
    } finally {
      this.checking = false;
    }
  }

  private stopChecking(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private lose(why: string): void {
    if (this.state !== 'open') return;
    this.state = 'lost';
    this.stopChecking();
    for (const handle of this.held.values()) handle.lose(why);
    this.held.clear();
    // A broken session cannot be reused; closing it makes sure PostgreSQL drops its locks.
    this.client.end().catch(() => undefined);
  }
}

class AdvisoryHandle implements LockHandle {
  private readonly controller = new AbortController();
  private released = false;

  constructor(
    readonly name: string,
    private readonly logger: Logger,
    private readonly unlock: () => Promise<void>,
  ) {}

  get lost(): AbortSignal {
    return this.controller.signal;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (!this.controller.signal.aborted) await this.unlock();
  }

  lose(why: string): void {
    if (this.released || this.controller.signal.aborted) return;
    this.logger.warn(`lock lost: ${why}`);
    this.controller.abort(new Error(`lock ${this.name} lost: ${why}`));
  }
}
