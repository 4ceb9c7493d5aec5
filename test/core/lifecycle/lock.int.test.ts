import { before, afterEach, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { describeEachDialect, createTestDatabase } from '../../helpers/database.js';
import { openDatabase, tables, type Database } from '../../../src/core/db/database.js';
import { migrateAllDown, migrateToLatest } from '../../../src/core/db/migrations.js';
import { silentLogger } from '../../../src/core/logger.js';
import { sleep } from '../../../src/core/lifecycle/abort.js';
import type { LockHandle, LockManager } from '../../../src/core/lifecycle/lock.js';
import { createLockManager } from '../../../src/core/lifecycle/lock.factory.js';
import { LeaseLockManager, lockMigrations } from '../../../src/core/lifecycle/lock.sqlite.js';
import type { LockTables } from '../../../src/core/lifecycle/lock.migrations.js';
import { runAsSingleton } from '../../../src/core/lifecycle/singleton.js';

async function waitFor(what: string, condition: () => boolean, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describeEachDialect('lock managers', (ctx) => {
  const handles: LockHandle[] = [];
  const databases: Database[] = [];

  before(async () => {
    await migrateToLatest(ctx.database, [lockMigrations]);
  });

  afterEach(async () => {
    for (const handle of handles.splice(0)) await handle.release();
    for (const database of databases.splice(0)) await database.close();
  });

  /** A manager as another process would have it: its own database handle. */
  async function manager(): Promise<LockManager> {
    const database = await openDatabase(ctx.url);
    databases.push(database);
    return createLockManager(database, {
      logger: silentLogger(),
      connectionString: ctx.url,
      leaseTtlMs: 2_000,
      checkIntervalMs: 50,
    });
  }

  async function acquire(locks: LockManager, name: string): Promise<LockHandle | undefined> {
    const handle = await locks.tryAcquire(name);
    if (handle) handles.push(handle);
    return handle;
  }

  it('migrates up and down', async () => {
    const testDb = await createTestDatabase(ctx.dialect);
    const database = await testDb.open();
    try {
      await migrateToLatest(database, [lockMigrations]);
      await migrateAllDown(database, [lockMigrations]);
      await assert.rejects(database.db.selectFrom('locks').selectAll().execute());
      await migrateToLatest(database, [lockMigrations]);
    } finally {
      await database.close();
      await testDb.drop();
    }
  });

  it('lets one holder at a time take a lock, across database handles', async () => {
    const first = await manager();
    const second = await manager();
    const held = await acquire(first, 'scheduler');
    assert.ok(held);
    assert.equal(held.name, 'scheduler');
    assert.equal(await acquire(second, 'scheduler'), undefined);
    assert.equal(await acquire(first, 'scheduler'), undefined, 'a lock is not re-entrant');
    assert.ok(await acquire(second, 'watcher'), 'other names are independent');
    await held.release();
    const taken = await acquire(second, 'scheduler');
    assert.ok(taken);
    assert.equal(held.lost.aborted, false, 'a released handle is not "lost"');
    assert.equal(await acquire(first, 'scheduler'), undefined);
  });

  it('lets contenders race for a free lock with exactly one winner', async () => {
    const contenders = await Promise.all([manager(), manager(), manager()]);
    const results = await Promise.all(contenders.map((locks) => acquire(locks, 'race')));
    assert.equal(results.filter(Boolean).length, 1);
  });

  it('runs a singleton in one process at a time', async () => {
    const [first, second] = await Promise.all([manager(), manager()]);
    let active = 0;
    let maxActive = 0;
    const ran: string[] = [];
    const body = (who: string) => async (signal: AbortSignal) => {
      active += 1;
      maxActive = Math.max(maxActive, active);
      ran.push(who);
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      active -= 1;
    };
    const stopFirst = new AbortController();
    const stopSecond = new AbortController();
    const firstRun = runAsSingleton(first, 'daemon:test', stopFirst.signal, body('first'), { retryMs: 20 });
    await waitFor('the first singleton', () => ran.length === 1);
    const secondRun = runAsSingleton(second, 'daemon:test', stopSecond.signal, body('second'), {
      retryMs: 20,
    });
    await sleep(100);
    assert.deepEqual(ran, ['first'], 'the second waits while the first holds the lock');
    stopFirst.abort();
    await firstRun;
    await waitFor('the second singleton', () => ran.length === 2);
    stopSecond.abort();
    await secondRun;
    assert.deepEqual(ran, ['first', 'second']);
    assert.equal(maxActive, 1);
  });

  if (ctx.dialect === 'postgres') {
    /** Connections of lock managers to the test database. */
    async function lockConnections(): Promise<number> {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
        where application_name = 'custodian-locks' and datname = current_database()`.execute(ctx.database.db);
      return rows[0]?.n ?? -1;
    }

    it('holds many locks on one connection, closes it with the last, and loses them all with it', async () => {
      const locks = await manager();
      const names = Array.from({ length: 12 }, (_, i) => `exposure:${i}`);
      const held = await Promise.all(names.map((name) => acquire(locks, name)));
      assert.ok(held.every(Boolean), 'every name taken');
      assert.equal(await lockConnections(), 1, 'one connection for all of them');
      assert.equal(await acquire(await manager(), 'exposure:3'), undefined, 'held against another process');
      for (const handle of held) await handle?.release();
      const deadline = Date.now() + 5000;
      while ((await lockConnections()) > 0 && Date.now() < deadline) await sleep(20);
      assert.equal(await lockConnections(), 0, 'no connection once nothing is held');

      const again = await Promise.all(names.slice(0, 3).map((name) => acquire(locks, name)));
      assert.ok(again.every(Boolean), 'a new session after the last one closed');
      await sql`select pg_terminate_backend(pid) from pg_stat_activity
                where application_name = 'custodian-locks' and datname = current_database()`.execute(
        ctx.database.db,
      );
      await waitFor('every lock to be lost', () => again.every((handle) => handle?.lost.aborted));
      assert.ok(
        await acquire(locks, names[0] as string),
        'the same manager takes locks again, on a new session',
      );
    });

    it('reports an advisory lock as lost when its connection dies', async () => {
      const locks = await manager();
      const held = await acquire(locks, 'fragile');
      assert.ok(held);
      await sql`select pg_terminate_backend(pid) from pg_locks
                where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`.execute(
        ctx.database.db,
      );
      await waitFor('the lock to be lost', () => held.lost.aborted);
      assert.ok(await acquire(await manager(), 'fragile'), 'the lock is free again');
    });
  }
});

describeEachDialect('lease locks', (ctx) => {
  const handles: LockHandle[] = [];
  const leases = () => tables<LockTables>(ctx.database);

  before(async () => {
    await migrateToLatest(ctx.database, [lockMigrations]);
  });

  afterEach(async () => {
    for (const handle of handles.splice(0)) await handle.release();
  });

  function leaseManager(ttlMs = 300, renewIntervalMs = 50): LeaseLockManager {
    return new LeaseLockManager(ctx.database, { logger: silentLogger(), ttlMs, renewIntervalMs });
  }

  it('takes over the lease of a holder that crashed, once it expired', async () => {
    await leases()
      .insertInto('locks')
      .values({ name: 'crashed', holder: 'dead-host:1:x', expires_at: Date.now() + 60_000 })
      .execute();
    assert.equal(await leaseManager().tryAcquire('crashed'), undefined, 'an unexpired lease is respected');
    await leases()
      .updateTable('locks')
      .set({ expires_at: Date.now() - 1 })
      .where('name', '=', 'crashed')
      .execute();
    const handle = await leaseManager().tryAcquire('crashed');
    assert.ok(handle);
    handles.push(handle);
  });

  it('keeps a held lease alive by renewing it', async () => {
    const handle = await leaseManager(150, 30).tryAcquire('renewed');
    assert.ok(handle);
    handles.push(handle);
    await sleep(500);
    assert.equal(handle.lost.aborted, false);
    assert.equal(await leaseManager().tryAcquire('renewed'), undefined);
  });

  it('aborts `lost` when the lease expired and another process took it over', async () => {
    const stalled = await leaseManager(60_000, 50).tryAcquire('stolen');
    assert.ok(stalled);
    handles.push(stalled);
    // As if this process had stalled past the TTL: the lease expires and someone takes it.
    await leases()
      .updateTable('locks')
      .set({ expires_at: Date.now() - 1 })
      .where('name', '=', 'stolen')
      .execute();
    const thief = await leaseManager().tryAcquire('stolen');
    assert.ok(thief);
    handles.push(thief);
    await waitFor('the stalled holder to notice', () => stalled.lost.aborted);
    await stalled.release();
    assert.equal(thief.lost.aborted, false);
    const row = await leases()
      .selectFrom('locks')
      .selectAll()
      .where('name', '=', 'stolen')
      .executeTakeFirst();
    assert.ok(row, "releasing a lost lease leaves the new holder's row alone");
  });
});
