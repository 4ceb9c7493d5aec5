import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachDialect } from '../../helpers/database.js';
import { migrateToLatest } from '../../../src/core/db/migrations.js';
import { alertsMigrations } from '../../../src/core/alerts/alerts.migrations.js';
import { AlertsRepository } from '../../../src/core/alerts/alerts.repository.js';
import { AlertsService } from '../../../src/core/alerts/alerts.service.js';
import { alertsRoutes } from '../../../src/core/alerts/alerts.routes.js';
import type { AlertNotification } from '../../../src/core/alerts/alerts.types.js';
import { registerApiRoutes, type HttpServer } from '../../../src/core/http/api.js';
import { silentLogger } from '../../../src/core/logger.js';
import { FakeClock, PASSWORDS, buildServer, login, setUpAuth } from '../http/server-fixture.js';

interface ApiAlert {
  id: number;
  code: string;
  severity: string;
  message: string;
  count: number;
  firstAt: string;
  lastAt: string;
  notifiedAt: string | null;
  resolvedAt: string | null;
}

describeEachDialect('alerts API', (ctx) => {
  const clock = new FakeClock();
  const sent: AlertNotification[] = [];
  let alerts: AlertsService;
  let app: HttpServer;

  before(async () => {
    const auth = await setUpAuth(ctx.database, clock);
    await migrateToLatest(ctx.database, [alertsMigrations]);
    alerts = new AlertsService({
      repository: new AlertsRepository(ctx.database),
      channels: [{ name: 'memory', send: (n) => Promise.resolve(void sent.push(n)) }],
      logger: silentLogger(),
      now: clock.now,
    });
    app = buildServer(auth, clock);
    registerApiRoutes(app, alertsRoutes, { alerts });
    await app.ready();
  });
  after(async () => {
    await app.close();
  });

  test('GET /alerts lists with state filter, paging and ISO times', async () => {
    await alerts.raise({ code: 'TEST_A', severity: 'warning', message: 'a' });
    clock.advance(1000);
    await alerts.raise({ code: 'TEST_B', severity: 'critical', message: 'b' });
    await alerts.raise({ code: 'TEST_B', severity: 'critical', message: 'b again' });
    clock.advance(1000);
    await alerts.raise({ code: 'TEST_C', severity: 'info', message: 'c' });
    await alerts.resolve('TEST_C');

    const all = await app.inject({ url: '/api/v1/alerts' });
    assert.equal(all.statusCode, 200);
    const page = all.json<{ items: ApiAlert[]; total: number }>();
    assert.equal(page.total, 3);
    assert.deepEqual(
      page.items.map((a) => a.code),
      ['TEST_C', 'TEST_B', 'TEST_A'],
    );
    const b = page.items[1];
    assert.equal(b?.count, 2);
    assert.equal(b?.message, 'b again');
    assert.equal(b?.severity, 'critical');
    assert.equal(b?.firstAt, new Date(clock.ms - 1000).toISOString());
    assert.equal(b?.resolvedAt, null);

    const active = await app.inject({ url: '/api/v1/alerts?state=active&limit=1&offset=1' });
    const activePage = active.json<{ items: ApiAlert[]; total: number }>();
    assert.equal(activePage.total, 2);
    assert.deepEqual(
      activePage.items.map((a) => a.code),
      ['TEST_A'],
    );
    const resolved = await app.inject({ url: '/api/v1/alerts?state=resolved' });
    assert.deepEqual(
      resolved.json<{ items: ApiAlert[] }>().items.map((a) => a.code),
      ['TEST_C'],
    );

    const bad = await app.inject({ url: '/api/v1/alerts?state=open' });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json<{ error: { message: string } }>().error.message, /state/);
  });

  test('POST /alerts/:id/resolve needs an operator and notifies once', async () => {
    const alert = await alerts.raise({ code: 'TEST_RESOLVE_ME', severity: 'critical', message: 'x' });
    const url = `/api/v1/alerts/${alert.id}/resolve`;
    assert.equal((await app.inject({ method: 'POST', url })).statusCode, 401);
    const viewer = await login(app, 'viewer', PASSWORDS.viewer);
    assert.equal((await app.inject({ method: 'POST', url, cookies: viewer })).statusCode, 403);
    const operator = await login(app, 'operator', PASSWORDS.operator);
    const before = sent.length;
    const response = await app.inject({ method: 'POST', url, cookies: operator });
    assert.equal(response.statusCode, 200);
    const body = response.json<ApiAlert & { state: string }>();
    assert.equal(body.id, alert.id);
    assert.equal(body.state, 'resolved');
    assert.equal(body.resolvedAt, new Date(clock.ms).toISOString());
    assert.deepEqual(
      sent.slice(before).map((n) => n.kind),
      ['resolved'],
    );
    assert.equal(
      (await app.inject({ method: 'POST', url, cookies: operator })).statusCode,
      200,
      'resolving again is harmless',
    );
    assert.equal(sent.length, before + 1);
    const missing = await app.inject({
      method: 'POST',
      url: '/api/v1/alerts/999999/resolve',
      cookies: operator,
    });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json<{ error: { code: string } }>().error.code, 'ALERT_NOT_FOUND');
  });

  test('the alerts routes are in the OpenAPI document', async () => {
    const doc = (await app.inject({ url: '/api/openapi.json' })).json<{ paths: Record<string, unknown> }>();
    assert.ok(doc.paths['/api/v1/alerts']);
    assert.ok(doc.paths['/api/v1/alerts/{id}/resolve']);
  });
});
