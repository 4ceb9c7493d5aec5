import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachDialect } from '../../helpers/database.js';
import { migrateAllDown, migrateToLatest } from '../../../src/core/db/migrations.js';
import { authMigrations } from '../../../src/core/auth/auth.migrations.js';
import { AuthRepository } from '../../../src/core/auth/auth.repository.js';
import { AuthService } from '../../../src/core/auth/auth.service.js';
import { ConflictError, InputError, NotFoundError } from '../../../src/core/errors.js';

describeEachDialect('auth migrations', (ctx) => {
  test('go up, down and up again', async () => {
    await migrateToLatest(ctx.database, [authMigrations]);
    const names = async () => (await ctx.database.db.introspection.getTables()).map((t) => t.name);
    for (const table of ['users', 'api_tokens', 'settings'])
      assert.ok((await names()).includes(table), table);
    await migrateAllDown(ctx.database, [authMigrations]);
    for (const table of ['users', 'api_tokens', 'settings'])
      assert.ok(!(await names()).includes(table), table);
    await migrateToLatest(ctx.database, [authMigrations]);
    assert.ok((await names()).includes('users'));
  });
});

describeEachDialect('auth service', (ctx) => {
  let clock = Date.UTC(2024, 5, 1);
  let auth: AuthService;

  before(async () => {
    await migrateToLatest(ctx.database, [authMigrations]);
    auth = new AuthService({ repository: new AuthRepository(ctx.database), now: () => clock });
    await auth.addUser('root', 'admin', 'root-password');
  });

  test('the cookie secret is generated once and shared by every service instance', async () => {
    // Two instances asking at once stand for two processes starting together.
    const [a, b] = await Promise.all(
      [1, 2].map(() => new AuthService({ repository: new AuthRepository(ctx.database) }).getCookieSecret()),
    );
    assert.ok(a !== undefined && a.length >= 32);
    assert.equal(b, a);
    assert.equal(await auth.getCookieSecret(), a);
    const rows = await ctx.database.db.selectFrom('settings').selectAll().execute();
    assert.deepEqual(rows, [{ key: 'auth.cookie_secret', value: a }]);
  });

  test('addUser validates name, role and password, and refuses duplicates', async () => {
    const user = await auth.addUser('alice.ops-1', 'operator', 'correct horse');
    assert.deepEqual(user, { name: 'alice.ops-1', role: 'operator', createdAt: clock });
    await assert.rejects(
      auth.addUser('Alice', 'viewer', 'long-enough'),
      (e) => e instanceof InputError && e.code === 'AUTH_BAD_USER_NAME',
    );
    await assert.rejects(auth.addUser('9lives', 'viewer', 'long-enough'), InputError);
    await assert.rejects(auth.addUser('x'.repeat(65), 'viewer', 'long-enough'), InputError);
    await assert.rejects(
      auth.addUser('bob', 'boss', 'long-enough'),
      (e) => e instanceof InputError && e.code === 'AUTH_BAD_ROLE',
    );
    await assert.rejects(
      auth.addUser('bob', 'viewer', '1234567'),
      (e) => e instanceof InputError && e.code === 'AUTH_WEAK_PASSWORD',
    );
    await assert.rejects(
      auth.addUser('alice.ops-1', 'viewer', 'long-enough'),
      (e) => e instanceof ConflictError && e.code === 'AUTH_USER_EXISTS',
    );
    assert.deepEqual(
      (await auth.listUsers()).map((u) => [u.name, u.role]),
      [
        ['alice.ops-1', 'operator'],
        ['root', 'admin'],
      ],
    );
  });

  test('verifyLogin accepts the right password only', async () => {
    await auth.addUser('carol', 'viewer', 'carol-password');
    assert.deepEqual(await auth.verifyLogin('carol', 'carol-password'), { name: 'carol', role: 'viewer' });
    assert.equal(await auth.verifyLogin('carol', 'carol-passwordX'), undefined);
    assert.equal(await auth.verifyLogin('nobody', 'carol-password'), undefined);
    assert.equal(await auth.verifyLogin('', ''), undefined);
  });

  test('tokens: only the hash is stored; authenticating stamps last use; revoke ends it', async () => {
    await auth.addUser('dave', 'operator', 'dave-password');
    const { id, token } = await auth.createToken('dave', 'nightly');
    assert.ok(token.startsWith('cst_'));
    const stored = await ctx.database.db
      .selectFrom('api_tokens')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    assert.ok(!JSON.stringify(stored).includes(token.slice(4)));
    clock += 5000;
    assert.deepEqual(await auth.authenticateToken(token), { name: 'dave', role: 'operator', via: 'token' });
    const listed = (await auth.listTokens()).find((t) => t.id === id);
    assert.deepEqual(listed, {
      id,
      user: 'dave',
      label: 'nightly',
      createdAt: clock - 5000,
      lastUsedAt: clock,
    });
    assert.equal(await auth.authenticateToken(`${token}x`), undefined);
    assert.equal(await auth.authenticateToken('not-a-token'), undefined);
    await auth.revokeToken(id);
    assert.equal(await auth.authenticateToken(token), undefined);
    await assert.rejects(
      auth.revokeToken(id),
      (e) => e instanceof NotFoundError && e.code === 'AUTH_TOKEN_NOT_FOUND',
    );
    await assert.rejects(
      auth.createToken('nobody'),
      (e) => e instanceof NotFoundError && e.code === 'AUTH_USER_NOT_FOUND',
    );
  });

  test("removing a user removes the user's tokens; the last admin stays", async () => {
    await auth.addUser('erin', 'viewer', 'erin-password');
    const { token } = await auth.createToken('erin');
    await auth.removeUser('erin');
    assert.equal(await auth.authenticateToken(token), undefined);
    assert.ok(!(await auth.listTokens()).some((t) => t.user === 'erin'));
    await assert.rejects(auth.removeUser('erin'), NotFoundError);
    await assert.rejects(
      auth.removeUser('root'),
      (e) => e instanceof ConflictError && e.code === 'AUTH_LAST_ADMIN',
    );
    await auth.addUser('root2', 'admin', 'root2-password');
    await auth.removeUser('root');
    await assert.rejects(auth.removeUser('root2'), ConflictError);
  });

  test('sessions carry the name; the role is re-read; they expire after 7 days', async () => {
    await auth.addUser('frank', 'operator', 'frank-password');
    const session = auth.createSession({ name: 'frank' });
    assert.deepEqual(await auth.authenticateSession(session), {
      name: 'frank',
      role: 'operator',
      via: 'session',
    });
    await ctx.database.db.updateTable('users').set({ role: 'viewer' }).where('name', '=', 'frank').execute();
    assert.equal((await auth.authenticateSession(session))?.role, 'viewer');
    clock += 7 * 24 * 3600_000 + 1;
    assert.equal(await auth.authenticateSession(session), undefined);
    assert.equal(await auth.authenticateSession('garbage'), undefined);
  });
});
