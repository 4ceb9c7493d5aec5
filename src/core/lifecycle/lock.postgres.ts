import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { LockHandle, LockManager } from './lock.js';
import { coerceError, UnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';
import { maskUrl } from '../db/database.js';
import { loadPg } from '../db/pg.loader.js';

/**
 * Named locks as PostgreSQL session advisory locks, each held on a connection of its own (not a
 * pool's: a pooled connection would carry the lock to whoever gets it next).
 *
 * PostgreSQL releases the lock when its session ends, so a crashed holder frees it at once. The
 * other side of that: when the connection fails, this process no longer holds the lock, so
 * `lost` aborts on a connection error or end, and on a failed liveness check every
 * `checkIntervalMs` (which also catches a silently dead socket).
 */
export interface AdvisoryLockOptions {
  /** postgres:// URL of the application database. */
  connectionString: string;
  logger: Logger;
  /** How often a held lock's connection is checked, ms. Default 10 000. */
  checkIntervalMs?: number;
}

/** 64-bit key of a lock name; namespaced so other applications' advisory locks do not collide. */
export function advisoryLockKey(name: string): string {
  return createHash('sha256').update(`custodian-lock:${name}`).digest().readBigInt64BE(0).toString();
}

export class AdvisoryLockManager implements LockManager {
  private readonly logger: Logger;

  constructor(private readonly options: AdvisoryLockOptions) {
    this.logger = options.logger.child({ component: 'locks' });
  }

  async tryAcquire(name: string): Promise<LockHandle | undefined> {
    const { Client } = await loadPg();
    const client = new Client({ connectionString: this.options.connectionString, keepAlive: true });
    // Until a handle owns the client, connection errors surface through the awaited calls.
    const early = () => undefined;
    client.on('error', early);
    const key = advisoryLockKey(name);
    try {
      await client.connect();
      const { rows } = await client.query<{ locked: boolean }>(
        'select pg_try_advisory_lock($1::bigint) as locked',
        [key],
      );
      if (rows[0]?.locked !== true) {
        await client.end();
        return undefined;
      }
    } catch (error) {
      await client.end().catch(() => undefined);
      throw new UnavailableError(
        'LOCK_UNAVAILABLE',
        `cannot take lock ${name} in ${maskUrl(this.options.connectionString)}: ${coerceError(error).message} (is PostgreSQL running?)`,
        { cause: error },
      );
    }
    client.off('error', early);
    return new AdvisoryHandle(
      client,
      name,
      key,
      this.options.checkIntervalMs ?? 10_000,
      this.logger.child({ lock: name }),
    );
  }
}

class AdvisoryHandle implements LockHandle {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private released = false;
  private checking = false;

  constructor(
    private readonly client: pg.Client,
    readonly name: string,
    private readonly key: string,
    checkIntervalMs: number,
    private readonly logger: Logger,
  ) {
    client.on('error', (error) => this.lose(`its connection failed: ${error.message}`));
    client.on('end', () => this.lose('its connection closed'));
    this.timer = setInterval(() => void this.check(), checkIntervalMs);
    this.timer.unref();
  }

  get lost(): AbortSignal {
    return this.controller.signal;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    try {
      if (!this.controller.signal.aborted)
        await this.client.query('select pg_advisory_unlock($1::bigint)', [this.key]);
    } catch (error) {
      // Ending the session below releases the lock anyway.
      this.logger.debug({ err: coerceError(error) }, 'advisory unlock failed; closing the session instead');
    } finally {
      await this.client.end().catch(() => undefined);
    }
  }

  private async check(): Promise<void> {
    if (this.checking || this.released || this.controller.signal.aborted) return;
    this.checking = true;
    try {
      await this.client.query('select 1');
    } catch (error) {
      this.lose(`its connection does not answer: ${coerceError(error).message}`);
    } finally {
      this.checking = false;
    }
  }

  private lose(why: string): void {
    if (this.released || this.controller.signal.aborted) return;
    clearInterval(this.timer);
    this.logger.warn(`lock lost: ${why}`);
    this.controller.abort(new Error(`lock ${this.name} lost: ${why}`));
    // A broken session cannot be reused; closing it makes sure PostgreSQL drops the lock.
    this.client.end().catch(() => undefined);
  }
}
