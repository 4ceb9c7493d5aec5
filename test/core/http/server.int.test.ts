import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { Gauge } from 'prom-client';
import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { describeEachDialect } from '../../helpers/database.js';
import { tables } from '../../../src/core/db/database.js';
import type { AuthTables } from '../../../src/core/auth/auth.table.js';
import { ConflictError, IntegrityError, UnavailableError } from '../../../src/core/errors.js';
import { requireRole } from '../../../src/core/http/require-role.js';
import { registerApiRoutes, type HttpServer } from '../../../src/core/http/api.js';
import { createMetricsRegistry } from '../../../src/core/http/metrics.js';
import type { AuthService } from '../../../src/core/auth/auth.service.js';
import { FakeClock, PASSWORDS, bearer, buildServer, login, setUpAuth } from './server-fixture.js';

const requireOperator = requireRole('operator');

/** Routes standing in for a module: a read, an operator write, an upload and some failures. */
const moduleRoutes: FastifyPluginAsyncZod = async (app) => {
  await Promise.resolve();
  app.get('/test/read', () => ({ ok: true }));
  app.post(
    '/test/write',
    {
      preHandler: (request: FastifyRequest) => requireOperator(request),
      schema: { body: z.object({ value: z.number().int() }) },
    },
    (request) => ({ ok: true, value: request.body.value, user: request.user?.name, via: request.user?.via }),
  );
  app.post('/test/upload', async (request) => {
    const file = await request.file();
    if (!file) return { size: -1 };
    return { size: (await file.toBuffer()).length };
  });
  app.get('/test/boom', () => {
    throw new Error('secret internal detail');
  });
  app.get('/test/conflict', () => {
    throw new ConflictError('TEST_CONFLICT', 'already there', { details: { id: 7 } });
  });
  app.get('/test/integrity', () => {
    throw new IntegrityError('TEST_INTEGRITY', 'checksum differs');
  });
  app.get('/test/unavailable', () => {
    throw new UnavailableError('DB_UNAVAILABLE', 'database down');
  });
};

function multipart(file: Buffer): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----custodian${randomBytes(8).toString('hex')}`;
  const payload = Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.root"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    ),
    file,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

describeEachDialect('http server and auth', (ctx) => {
  const clock = new FakeClock();
  const metrics = createMetricsRegistry();
  let healthy = true;
  let auth: AuthService;
  let app: HttpServer;

  before(async () => {
    auth = await setUpAuth(ctx.database, clock);
    app = buildServer(auth, clock, {
      metrics,
      healthCheck: () => (healthy ? Promise.resolve() : Promise.reject(new Error('connection refused'))),
    });
    registerApiRoutes(app, moduleRoutes, {});
    await app.ready();
  });
  after(async () => {
    await app.close();
  });

  test('GET /api/v1/meta tells version, modules and publicRead', async () => {
    const response = await app.inject({ url: '/api/v1/meta' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { version: '9.9.9-test', modules: ['ingest'], publicRead: true });
  });

  test('login with the right password sets an httpOnly session cookie; /auth/me knows the user', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'operator', password: PASSWORDS.operator },
    });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { user: { name: 'operator', role: 'operator' } });
    const cookie = response.cookies.find((c) => c.name === 'custodian_session');
    assert.ok(cookie);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Lax');
    const me = await app.inject({ url: '/api/v1/auth/me', cookies: { [cookie.name]: cookie.value } });
    assert.deepEqual(me.json(), { user: { name: 'operator', role: 'operator' } });
    const anonymous = await app.inject({ url: '/api/v1/auth/me' });
    assert.deepEqual(anonymous.json(), { user: null });
  });

  test('login with a wrong password or unknown user is 401 AUTH_INVALID', async () => {
    for (const username of ['operator', 'nobody']) {
      const response = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username, password: 'wrong-password' },
        remoteAddress: '10.1.1.1',
      });
      assert.equal(response.statusCode, 401);
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'AUTH_INVALID');
      assert.equal(response.cookies.length, 0);
    }
  });

  test('failed logins beyond the limit per minute are 429 AUTH_RATE_LIMITED, successful ones never count', async () => {
    const attempt = (password: string, remoteAddress = '10.2.2.2') =>
      app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: 'viewer', password },
        remoteAddress,
      });
    for (let i = 0; i < 5; i++) assert.equal((await attempt(PASSWORDS.viewer)).statusCode, 200);
    for (let i = 0; i < 3; i++) assert.equal((await attempt('wrong-password')).statusCode, 401);
    const limited = await attempt(PASSWORDS.viewer);
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.json<{ error: { code: string } }>().error.code, 'AUTH_RATE_LIMITED');
    assert.ok(limited.headers['retry-after']);
    assert.equal(
      (await attempt(PASSWORDS.viewer, '10.2.2.3')).statusCode,
      200,
      'another address is not limited',
    );
    clock.advance(61_000);
    assert.equal((await attempt(PASSWORDS.viewer)).statusCode, 200, 'the window has passed');
  });

  test('a session cookie authorizes an operator write', async () => {
    const cookies = await login(app, 'operator', PASSWORDS.operator);
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/test/write',
      payload: { value: 3 },
      cookies,
    });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { ok: true, value: 3, user: 'operator', via: 'session' });
  });

  test('a bearer token authorizes an operator write', async () => {
    const { token } = await auth.createToken('operator', 'ci');
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/test/write',
      payload: { value: 4 },
      headers: bearer(token),
    });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { ok: true, value: 4, user: 'operator', via: 'token' });
  });

  test('a viewer is 403 for an operator write; anonymous is 401', async () => {
    const cookies = await login(app, 'viewer', PASSWORDS.viewer);
    const forbidden = await app.inject({
      method: 'POST',
      url: '/api/v1/test/write',
      payload: { value: 1 },
      cookies,
    });
    assert.equal(forbidden.statusCode, 403);
    assert.equal(forbidden.json<{ error: { code: string } }>().error.code, 'AUTH_FORBIDDEN');
    const anonymous = await app.inject({ method: 'POST', url: '/api/v1/test/write', payload: { value: 1 } });
    assert.equal(anonymous.statusCode, 401);
    assert.equal(anonymous.json<{ error: { code: string } }>().error.code, 'AUTH_REQUIRED');
  });

  test('an unknown or revoked bearer token is 401 AUTH_INVALID_TOKEN, even for a public read', async () => {
    const { id, token } = await auth.createToken('viewer');
    assert.equal((await app.inject({ url: '/api/v1/test/read', headers: bearer(token) })).statusCode, 200);
    await auth.revokeToken(id);
    for (const header of [bearer(token), bearer('cst_unknown'), { authorization: 'Bearer' }]) {
      const response = await app.inject({ url: '/api/v1/test/read', headers: header });
      assert.equal(response.statusCode, 401);
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'AUTH_INVALID_TOKEN');
    }
    // Another scheme (a proxy's Basic auth) is not ours: anonymous.
    const basic = await app.inject({ url: '/api/v1/auth/me', headers: { authorization: 'Basic dTpw' } });
    assert.deepEqual(basic.json(), { user: null });
  });

  test('a session expires after 7 days and ends when its user is removed', async () => {
    const cookies = await login(app, 'viewer', PASSWORDS.viewer);
    clock.advance(7 * 24 * 3600_000 - 1000);
    assert.deepEqual((await app.inject({ url: '/api/v1/auth/me', cookies })).json(), {
      user: { name: 'viewer', role: 'viewer' },
    });
    clock.advance(2000);
    assert.deepEqual((await app.inject({ url: '/api/v1/auth/me', cookies })).json(), { user: null });

    await auth.addUser('leaving', 'operator', 'leaving-password');
    const leaving = await login(app, 'leaving', 'leaving-password');
    await auth.removeUser('leaving');
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/test/write',
      payload: { value: 1 },
      cookies: leaving,
    });
    assert.equal(response.statusCode, 401);
  });

  test('a tampered session cookie is anonymous', async () => {
    const cookies = await login(app, 'admin', PASSWORDS.admin);
    const value = Object.values(cookies)[0] ?? '';
    const forged = Buffer.from(JSON.stringify({ v: 1, n: 'admin', iat: clock.ms + 1 })).toString('base64url');
    for (const bad of [`${forged}.${value.split('.')[1] ?? ''}`, forged, `${value}x`]) {
      const me = await app.inject({ url: '/api/v1/auth/me', cookies: { custodian_session: bad } });
      assert.deepEqual(me.json(), { user: null });
    }
  });

  test('logout clears the cookie', async () => {
    const response = await app.inject({ method: 'POST', url: '/api/v1/auth/logout' });
    assert.equal(response.statusCode, 204);
    const cleared = response.cookies.find((c) => c.name === 'custodian_session');
    assert.equal(cleared?.value, '');
    assert.equal(cleared?.maxAge, 0);
  });

  test('users API: admin adds, lists and removes; others are refused', async () => {
    const admin = await login(app, 'admin', PASSWORDS.admin);
    const operator = await login(app, 'operator', PASSWORDS.operator);
    const body = { name: 'newbie', role: 'viewer', password: 'newbie-password' };
    assert.equal(
      (await app.inject({ method: 'POST', url: '/api/v1/users', payload: body, cookies: operator }))
        .statusCode,
      403,
    );
    assert.equal((await app.inject({ method: 'POST', url: '/api/v1/users', payload: body })).statusCode, 401);
    const created = await app.inject({ method: 'POST', url: '/api/v1/users', payload: body, cookies: admin });
    assert.equal(created.statusCode, 201);
    const user = created.json<{ name: string; role: string; createdAt: string }>();
    assert.deepEqual({ name: user.name, role: user.role }, { name: 'newbie', role: 'viewer' });
    assert.equal(user.createdAt, new Date(user.createdAt).toISOString());
    const again = await app.inject({ method: 'POST', url: '/api/v1/users', payload: body, cookies: admin });
    assert.equal(again.statusCode, 409);
    assert.equal(again.json<{ error: { code: string } }>().error.code, 'AUTH_USER_EXISTS');
    const weak = await app.inject({
      method: 'POST',
      url: '/api/v1/users',
      payload: { ...body, name: 'x2', password: 'short' },
      cookies: admin,
    });
    assert.equal(weak.statusCode, 400);
    assert.equal(weak.json<{ error: { code: string } }>().error.code, 'AUTH_WEAK_PASSWORD');

    const list = await app.inject({ url: '/api/v1/users', cookies: admin });
    assert.ok(list.json<{ items: { name: string }[] }>().items.some((u) => u.name === 'newbie'));
    assert.ok(!list.body.includes('scrypt'), 'no password hash in the API');
    assert.equal((await app.inject({ url: '/api/v1/users', cookies: operator })).statusCode, 403);
    assert.equal(
      (await app.inject({ method: 'DELETE', url: '/api/v1/users/newbie', cookies: admin })).statusCode,
      204,
    );
    const missing = await app.inject({ method: 'DELETE', url: '/api/v1/users/newbie', cookies: admin });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json<{ error: { code: string } }>().error.code, 'AUTH_USER_NOT_FOUND');
  });

  test('tokens API: created once, stored hashed, listed without the token, revoked', async () => {
    const admin = await login(app, 'admin', PASSWORDS.admin);
    const created = await app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      payload: { user: 'operator', label: 'backup script' },
      cookies: admin,
    });
    assert.equal(created.statusCode, 201);
    const { id, token } = created.json<{ id: number; token: string }>();
    assert.match(token, /^cst_[A-Za-z0-9_-]{43}$/);

    const rows = await tables<AuthTables>(ctx.database).selectFrom('api_tokens').selectAll().execute();
    assert.ok(rows.length > 0);
    assert.ok(!JSON.stringify(rows).includes(token), 'the raw token is not in the database');
    const row = rows.find((r) => Number(r.id) === id);
    assert.equal(row?.token_hash, createHash('sha256').update(token).digest('hex'));

    assert.equal((await app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })).statusCode, 200);
    const list = await app.inject({ url: '/api/v1/tokens', cookies: admin });
    assert.equal(list.statusCode, 200);
    assert.ok(!list.body.includes(token));
    const item = list
      .json<{ items: { id: number; user: string; label: string; lastUsedAt: string | null }[] }>()
      .items.find((t) => t.id === id);
    assert.deepEqual(item && { user: item.user, label: item.label }, {
      user: 'operator',
      label: 'backup script',
    });
    assert.equal(item?.lastUsedAt, new Date(clock.ms).toISOString());

    assert.equal(
      (await app.inject({ method: 'DELETE', url: `/api/v1/tokens/${id}`, cookies: admin })).statusCode,
      204,
    );
    assert.equal(
      (await app.inject({ method: 'DELETE', url: `/api/v1/tokens/${id}`, cookies: admin })).statusCode,
      404,
    );
    assert.equal((await app.inject({ url: '/api/v1/auth/me', headers: bearer(token) })).statusCode, 401);
    const badId = await app.inject({ method: 'DELETE', url: '/api/v1/tokens/abc', cookies: admin });
    assert.equal(badId.statusCode, 400);
  });

  test('passwords are stored as scrypt hashes, never in plain text', async () => {
    const rows = await ctx.database.db.selectFrom('users').select(['name', 'password_hash']).execute();
    for (const row of rows as { name: keyof typeof PASSWORDS; password_hash: string }[]) {
      assert.match(row.password_hash, /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
      if (row.name in PASSWORDS) assert.ok(!row.password_hash.includes(PASSWORDS[row.name]));
    }
  });

  test('validation errors are 400 INPUT_INVALID naming the fields', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'x' },
    });
    assert.equal(response.statusCode, 400);
    const { error } = response.json<{
      error: { code: string; message: string; details: { issues: { path: string }[] } };
    }>();
    assert.equal(error.code, 'INPUT_INVALID');
    assert.match(error.message, /password/);
    assert.deepEqual(
      error.details.issues.map((issue) => issue.path),
      ['password'],
    );
    const badJson = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: '{oops',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(badJson.statusCode, 400);
    assert.equal(badJson.json<{ error: { code: string } }>().error.code, 'INPUT_INVALID');
  });

  test('unknown routes are 404 in the error format', async () => {
    for (const url of ['/api/v1/nothing-here', '/not-a-page']) {
      const response = await app.inject({ url });
      assert.equal(response.statusCode, 404);
      assert.equal(response.json<{ error: { code: string } }>().error.code, 'ROUTE_NOT_FOUND');
    }
  });

  test('error kinds map to statuses; faults are 500 without their message', async () => {
    const expect = async (url: string, status: number, code: string) => {
      const response = await app.inject({ url });
      assert.equal(response.statusCode, status, url);
      assert.equal(response.json<{ error: { code: string } }>().error.code, code);
      return response;
    };
    const conflict = await expect('/api/v1/test/conflict', 409, 'TEST_CONFLICT');
    assert.deepEqual(conflict.json<{ error: { details: unknown } }>().error.details, { id: 7 });
    await expect('/api/v1/test/integrity', 422, 'TEST_INTEGRITY');
    await expect('/api/v1/test/unavailable', 503, 'DB_UNAVAILABLE');
    const boom = await expect('/api/v1/test/boom', 500, 'INTERNAL_ERROR');
    assert.ok(!boom.body.includes('secret internal detail'));
  });

  test('bodies larger than the limits are 413 in the error format', async () => {
    const cookies = await login(app, 'operator', PASSWORDS.operator);
    const big = await app.inject({
      method: 'POST',
      url: '/api/v1/test/write',
      payload: JSON.stringify({ value: 1, pad: 'x'.repeat(2 * 1024 * 1024) }),
      headers: { 'content-type': 'application/json' },
      cookies,
    });
    assert.equal(big.statusCode, 413);
    assert.equal(big.json<{ error: { code: string } }>().error.code, 'BODY_TOO_LARGE');
    const small = await app.inject({
      method: 'POST',
      url: '/api/v1/test/upload',
      ...multipart(Buffer.alloc(100, 1)),
    });
    assert.deepEqual(small.json(), { size: 100 });
    const upload = await app.inject({
      method: 'POST',
      url: '/api/v1/test/upload',
      ...multipart(Buffer.alloc(4096, 1)),
    });
    assert.equal(upload.statusCode, 413);
    assert.equal(upload.json<{ error: { code: string } }>().error.code, 'UPLOAD_TOO_LARGE');
  });

  test('the OpenAPI document is served and describes the auth routes; /api/docs answers', async () => {
    const response = await app.inject({ url: '/api/openapi.json' });
    assert.equal(response.statusCode, 200);
    const doc = response.json<{
      openapi: string;
      info: { version: string };
      paths: Record<string, Record<string, unknown>>;
    }>();
    assert.match(doc.openapi, /^3\./);
    assert.equal(doc.info.version, '9.9.9-test');
    for (const p of [
      '/api/v1/auth/login',
      '/api/v1/auth/logout',
      '/api/v1/auth/me',
      '/api/v1/users',
      '/api/v1/users/{name}',
      '/api/v1/tokens',
      '/api/v1/tokens/{id}',
      '/api/v1/meta',
    ]) {
      assert.ok(doc.paths[p], `${p} is documented`);
    }
    assert.ok(JSON.stringify(doc.paths['/api/v1/auth/login']?.post).includes('username'));
    assert.equal(doc.paths['/healthz'], undefined);
    const docs = await app.inject({ url: '/api/docs/' });
    assert.equal(docs.statusCode, 200);
    assert.match(String(docs.headers['content-type'] ?? ''), /html/);
  });

  test('/metrics serves Prometheus text with request metrics, default metrics and module gauges', async () => {
    const gauge = new Gauge({ name: 'custodian_test_pending', help: 'test gauge', registers: [metrics] });
    gauge.set(42);
    await app.inject({ url: '/api/v1/meta' });
    const response = await app.inject({ url: '/metrics' });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type'] ?? ''), /^text\/plain/);
    assert.match(
      response.body,
      /http_requests_total\{method="GET",route="\/api\/v1\/meta",status="200"\} \d+/,
    );
    assert.match(response.body, /http_request_duration_seconds_bucket\{/);
    assert.match(response.body, /process_cpu_user_seconds_total/);
    assert.match(response.body, /custodian_test_pending 42/);
  });

  test('/healthz is ok, and 503 when the database check fails', async () => {
    const ok = await app.inject({ url: '/healthz' });
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(ok.json(), { status: 'ok', database: 'ok' });
    healthy = false;
    try {
      const down = await app.inject({ url: '/healthz' });
      assert.equal(down.statusCode, 503);
      assert.deepEqual(down.json(), { status: 'unavailable', database: 'unavailable' });
    } finally {
      healthy = true;
    }
  });

  test('malformed Authorization headers and cookies never crash: 401 or anonymous', async () => {
    const printable = fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 80,
    });
    const header = fc.oneof(
      printable,
      fc
        .tuple(fc.constantFrom('Bearer ', 'bearer ', 'BEARER  ', 'Bearer', 'Basic ', ' Bearer '), printable)
        .map(([a, b]) => a + b),
      printable.map((s) => `Bearer cst_${s}`),
    );
    await fc.assert(
      fc.asyncProperty(header, async (value) => {
        const response = await app.inject({ url: '/api/v1/auth/me', headers: { authorization: value } });
        assert.ok(
          response.statusCode === 200 || response.statusCode === 401,
          `${response.statusCode} for ${JSON.stringify(value)}`,
        );
        if (response.statusCode === 200) assert.deepEqual(response.json(), { user: null });
        else assert.equal(response.json<{ error: { code: string } }>().error.code, 'AUTH_INVALID_TOKEN');
      }),
      { numRuns: 150 },
    );
    const cookieValue = fc.oneof(
      printable,
      printable.map((s) => app.signCookie(s)),
      printable.map((s) => app.signCookie(Buffer.from(s).toString('base64url'))),
    );
    await fc.assert(
      fc.asyncProperty(cookieValue, printable, async (value, rawHeader) => {
        const withCookie = await app.inject({
          url: '/api/v1/auth/me',
          headers: { cookie: `custodian_session=${encodeURIComponent(value)}` },
        });
        assert.equal(withCookie.statusCode, 200);
        assert.deepEqual(withCookie.json(), { user: null });
        const withHeader = await app.inject({ url: '/api/v1/auth/me', headers: { cookie: rawHeader } });
        assert.equal(withHeader.statusCode, 200);
      }),
      { numRuns: 150 },
    );
  });

  test('with publicRead false, anonymous reads are 401 except /meta and /auth/me', async () => {
    const privateApp = buildServer(auth, clock, { publicRead: false });
    registerApiRoutes(privateApp, moduleRoutes, {});
    await privateApp.ready();
    try {
      const anonymous = await privateApp.inject({ url: '/api/v1/test/read' });
      assert.equal(anonymous.statusCode, 401);
      assert.equal(anonymous.json<{ error: { code: string } }>().error.code, 'AUTH_REQUIRED');
      assert.equal(
        (await privateApp.inject({ url: '/api/v1/meta' })).json<{ publicRead: boolean }>().publicRead,
        false,
      );
      assert.deepEqual((await privateApp.inject({ url: '/api/v1/auth/me' })).json(), { user: null });
      const viewer = await login(privateApp, 'viewer', PASSWORDS.viewer);
      assert.equal((await privateApp.inject({ url: '/api/v1/test/read', cookies: viewer })).statusCode, 200);
      assert.equal((await privateApp.inject({ url: '/healthz' })).statusCode, 200);
    } finally {
      await privateApp.close();
    }
  });

  test('without a built web app the server answers the API only', async () => {
    const emptyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-noweb-'));
    const apiOnly = buildServer(auth, clock, { webDir: emptyDir });
    await apiOnly.ready();
    try {
      const page = await apiOnly.inject({ url: '/ingest' });
      assert.equal(page.statusCode, 404);
      assert.equal(page.json<{ error: { code: string } }>().error.code, 'ROUTE_NOT_FOUND');
    } finally {
      await apiOnly.close();
      fs.rmSync(emptyDir, { recursive: true, force: true });
    }
  });

  test('the web app is served, with index.html for client-side routes but not for /api', async () => {
    const webDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-web-'));
    fs.writeFileSync(path.join(webDir, 'index.html'), '<!doctype html><title>Custodian</title>');
    fs.mkdirSync(path.join(webDir, 'assets'));
    fs.writeFileSync(path.join(webDir, 'assets', 'app.js'), 'console.log(1)');
    const webApp = buildServer(auth, clock, { webDir });
    await webApp.ready();
    try {
      const root = await webApp.inject({ url: '/' });
      assert.equal(root.statusCode, 200);
      assert.match(root.body, /Custodian/);
      const asset = await webApp.inject({ url: '/assets/app.js' });
      assert.equal(asset.statusCode, 200);
      assert.equal(asset.body, 'console.log(1)');
      const page = await webApp.inject({ url: '/ingest/runs/123' });
      assert.equal(page.statusCode, 200);
      assert.match(String(page.headers['content-type'] ?? ''), /text\/html/);
      assert.match(page.body, /Custodian/);
      const api = await webApp.inject({ url: '/api/v1/nothing' });
      assert.equal(api.statusCode, 404);
      assert.equal(api.json<{ error: { code: string } }>().error.code, 'ROUTE_NOT_FOUND');
      assert.equal((await webApp.inject({ method: 'POST', url: '/somewhere' })).statusCode, 404);
      const missingAsset = await webApp.inject({ url: '/assets/missing.js' });
      assert.equal(missingAsset.statusCode, 404);
      assert.equal(missingAsset.json<{ error: { code: string } }>().error.code, 'ROUTE_NOT_FOUND');
    } finally {
      await webApp.close();
      fs.rmSync(webDir, { recursive: true, force: true });
    }
  });
});
