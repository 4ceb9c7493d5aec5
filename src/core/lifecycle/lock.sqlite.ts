import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { LockHandle, LockManager } from './lock.js';
import type { LockTables } from './lock.migrations.js';
import { tables, type Database } from '../db/database.js';
import { coerceError, InputError, UnavailableError } from '../errors.js';
import type { Logger } from '../logger.js';

export { lockMigrations } from './lock.migrations.js';

/**
 * Named locks as lease rows in the `locks` table (SQLite deployments; the SQL is portable).
 *
 * A lease is free (no row, or `expires_at` passed), or held by one acquisition's token until
 * `expires_at`. Acquiring is one upsert that only overwrites an expired row, so two processes can
 * never both win. While held, the lease is extended every `renewIntervalMs`; if an extension finds
 * the row gone or owned by another token (this process stalled past the TTL and someone took
 * over), or the lease runs out while the database cannot be reached, `lost` aborts. A crashed
 * holder blocks the lock for at most `ttlMs`.
 */
export interface LeaseLockOptions {
  logger: Logger;
  /** How long a lease lasts without renewal, ms. Default 30 000. */
  ttlMs?: number;
  /** How often a held lease is renewed, ms. Default a third of `ttlMs`. */
  renewIntervalMs?: number;
}

export class LeaseLockManager implements LockManager {
  private readonly db: Kysely<LockTables>;
  private readonly logger: Logger;
  private readonly ttlMs: number;
  private readonly renewIntervalMs: number;
  private readonly holderPrefix = `${os.hostname()}:${process.pid}`;

  constructor(database: Database, options: LeaseLockOptions) {
    this.db = tables<LockTables>(database);
    this.logger = options.logger.child({ component: 'locks' });
    this.ttlMs = options.ttlMs ?? 30_000;
    this.renewIntervalMs = options.renewIntervalMs ?? Math.floor(this.ttlMs / 3);
    if (!(this.ttlMs > 0) || !(this.renewIntervalMs > 0) || this.renewIntervalMs >= this.ttlMs) {
      throw new InputError(
        'LOCK_INVALID_OPTIONS',
        `lease lock: need 0 < renewIntervalMs (${this.renewIntervalMs}) < ttlMs (${this.ttlMs})`,
      );
    }
  }

  async tryAcquire(name: string): Promise<LockHandle | undefined> {
    const holder = `${this.holderPrefix}:${randomUUID()}`;
    const now = Date.now();
    const row = await this.db
      .insertInto('locks')
      .values({ name, holder, expires_at: now + this.ttlMs })
      .onConflict((oc) =>
        oc
          .column('name')
          .doUpdateSet((eb) => ({
            holder: eb.ref('excluded.holder'),
            expires_at: eb.ref('excluded.expires_at'),
          }))
          .where('locks.expires_at', '<', now),
      )
      .returning('holder')
      .executeTakeFirst()
      .catch((error: unknown) => {
        throw new UnavailableError(
          'LOCK_UNAVAILABLE',
          `cannot take lock ${name}: ${coerceError(error).message}`,
          { cause: error },
        );
      });
    if (row?.holder !== holder) return undefined;
    return new LeaseHandle(
      this.db,
      name,
      holder,
      now + this.ttlMs,
      this.ttlMs,
      this.renewIntervalMs,
      this.logger.child({ lock: name }),
    );
  }
}

class LeaseHandle implements LockHandle {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private renewing = false;
  private released = false;

  constructor(
    private readonly db: Kysely<LockTables>,
    readonly name: string,
    private readonly holder: string,
    private expiresAt: number,
    private readonly ttlMs: number,
    renewIntervalMs: number,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => void this.renew(), renewIntervalMs);
    // A held lock alone must not keep the process alive.
    this.timer.unref();
  }

  get lost(): AbortSignal {
    return this.controller.signal;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    if (this.controller.signal.aborted) return;
    await this.db
      .deleteFrom('locks')
      .where('name', '=', this.name)
      .where('holder', '=', this.holder)
      .execute();
  }

  private async renew(): Promise<void> {
    if (this.renewing || this.released || this.controller.signal.aborted) return;
    this.renewing = true;
    const now = Date.now();
    try {
      const result = await this.db
        .updateTable('locks')
        .set({ expires_at: now + this.ttlMs })
        .where('name', '=', this.name)
        .where('holder', '=', this.holder)
        .executeTakeFirst();
      if (this.released) return;
      if (Number(result.numUpdatedRows) === 0) {
        this.lose('the lease expired and another process took it over');
      } else {
        this.expiresAt = now + this.ttlMs;
      }
    } catch (error) {
      if (Date.now() >= this.expiresAt)
        this.lose(`the lease ran out while it could not be renewed: ${coerceError(error).message}`);
      else
        this.logger.warn(
          { err: coerceError(error) },
          'cannot renew the lease; will try again before it runs out',
        );
    } finally {
      this.renewing = false;
    }
  }

  private lose(why: string): void {
    if (this.controller.signal.aborted) return;
    clearInterval(this.timer);
    this.logger.warn(`lock lost: ${why}`);
    this.controller.abort(new Error(`lock ${this.name} lost: ${why}`));
  }
}
