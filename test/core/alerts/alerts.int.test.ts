import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeEachDialect } from '../../helpers/database.js';
import { migrateAllDown, migrateToLatest } from '../../../src/core/db/migrations.js';
import { alertsMigrations } from '../../../src/core/alerts/alerts.migrations.js';
import { AlertsRepository } from '../../../src/core/alerts/alerts.repository.js';
import { AlertsService } from '../../../src/core/alerts/alerts.service.js';
import { createEmailChannel } from '../../../src/core/alerts/email.channel.js';
import { createWebhookChannel } from '../../../src/core/alerts/webhook.channel.js';
import { createLogChannel } from '../../../src/core/alerts/log.channel.js';
import { createAlertChannels } from '../../../src/core/alerts/alert-channels.js';
import type { AlertChannel } from '../../../src/core/alerts/alerts.types.js';
import { InputError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import { FakeClock } from '../http/server-fixture.js';
import { capturingLogger, startSmtpSink, startWebhookSink } from './sinks.js';

const MINUTE = 60_000;

describeEachDialect('alerts migrations', (ctx) => {
  test('go up, down and up again', async () => {
    const names = async () => (await ctx.database.db.introspection.getTables()).map((t) => t.name);
    await migrateToLatest(ctx.database, [alertsMigrations]);
    assert.ok((await names()).includes('alerts'));
    await migrateAllDown(ctx.database, [alertsMigrations]);
    assert.ok(!(await names()).includes('alerts'));
    await migrateToLatest(ctx.database, [alertsMigrations]);
    assert.ok((await names()).includes('alerts'));
  });
});

describeEachDialect('alerts by email (real SMTP)', (ctx) => {
  const clock = new FakeClock();
  let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
  let alerts: AlertsService;

  before(async () => {
    await migrateToLatest(ctx.database, [alertsMigrations]);
    smtp = await startSmtpSink();
    alerts = new AlertsService({
      repository: new AlertsRepository(ctx.database),
      channels: createAlertChannels(
        {
          email: {
            url: smtp.url,
            from: 'custodian@example.org',
            to: ['ops@example.org', 'oncall@example.org'],
          },
          reminderMinutes: 60,
        },
        silentLogger(),
      ),
      logger: silentLogger(),
      reminderMinutes: 60,
      now: clock.now,
    });
  });
  after(async () => {
    await alerts.close();
    await smtp.close();
  });

  test('first raise mails once, repeats within the window do not, a reminder after it, resolve mails', async () => {
    const raise = (message = 'disk /data is 97% full') =>
      alerts.raise({
        code: 'TEST_DISK_FULL',
        severity: 'critical',
        message,
        details: { path: '/data', usedPercent: 97 },
      });

    const first = await raise();
    assert.equal(smtp.mails.length, 1);
    assert.deepEqual(smtp.mails[0]?.to, ['ops@example.org', 'oncall@example.org']);
    assert.equal(smtp.mails[0]?.from, 'custodian@example.org');
    assert.match(smtp.mails[0]?.subject ?? '', /ALERT critical TEST_DISK_FULL: disk \/data is 97% full/);
    assert.match(smtp.mails[0]?.raw ?? '', /usedPercent/);
    assert.equal(first.count, 1);
    assert.equal(first.notifiedAt, clock.ms);

    for (let i = 0; i < 5; i++) {
      clock.advance(10 * MINUTE);
      await raise();
    }
    assert.equal(smtp.mails.length, 1, 'no mail within the reminder window');

    clock.advance(10 * MINUTE + 1);
    const reminded = await raise('disk /data is 98% full');
    assert.equal(smtp.mails.length, 2);
    assert.match(
      smtp.mails[1]?.subject ?? '',
      /STILL ACTIVE \(x7\) critical TEST_DISK_FULL: disk \/data is 98% full/,
    );
    assert.equal(reminded.reminderAt, clock.ms);
    assert.equal(reminded.id, first.id);

    clock.advance(MINUTE);
    await raise();
    assert.equal(smtp.mails.length, 2, 'at most one reminder per window');

    const resolved = await alerts.resolve('TEST_DISK_FULL');
    assert.equal(resolved?.state, 'resolved');
    assert.equal(resolved?.resolvedAt, clock.ms);
    assert.equal(resolved?.count, 8);
    assert.equal(smtp.mails.length, 3);
    assert.match(smtp.mails[2]?.subject ?? '', /RESOLVED critical TEST_DISK_FULL/);
    assert.equal(await alerts.resolve('TEST_DISK_FULL'), undefined);
    assert.equal(smtp.mails.length, 3, 'resolving twice mails once');

    const again = await raise();
    assert.notEqual(again.id, first.id, 'a new occurrence after resolution is a new alert');
    assert.equal(smtp.mails.length, 4);
    await alerts.resolve('TEST_DISK_FULL');
  });

  test('keys tell alerts of one code apart', async () => {
    const before = smtp.mails.length;
    const a = await alerts.raise({
      code: 'TEST_STREAM_DOWN',
      key: 'desi',
      severity: 'warning',
      message: 'stream desi down',
    });
    const b = await alerts.raise({
      code: 'TEST_STREAM_DOWN',
      key: 'lsst',
      severity: 'warning',
      message: 'stream lsst down',
    });
    await alerts.raise({
      code: 'TEST_STREAM_DOWN',
      key: 'desi',
      severity: 'warning',
      message: 'stream desi down',
    });
    assert.notEqual(a.id, b.id);
    assert.equal(smtp.mails.length, before + 2);
    assert.match(smtp.mails.at(-1)?.subject ?? '', /\[lsst\]/);
    assert.equal((await alerts.resolve('TEST_STREAM_DOWN', 'desi'))?.id, a.id);
    assert.equal((await alerts.getAlert(b.id)).state, 'active');
  });

  test('raises racing for a new code store one alert and mail once', async () => {
    const before = smtp.mails.length;
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        alerts.raise({ code: 'TEST_RACE', severity: 'info', message: 'many at once' }),
      ),
    );
    assert.equal(new Set(results.map((r) => r.id)).size, 1);
    const { items } = await alerts.list({ state: 'active' });
    assert.equal(items.filter((a) => a.code === 'TEST_RACE').length, 1);
    assert.equal(items.find((a) => a.code === 'TEST_RACE')?.count, 5);
    assert.equal(smtp.mails.length, before + 1);
  });

  test('bad codes are refused', async () => {
    await assert.rejects(alerts.raise({ code: 'lower-case', severity: 'info', message: 'x' }), InputError);
  });

  test('list filters by state and pages newest first', async () => {
    const all = await alerts.list({ state: 'all', limit: 2, offset: 0 });
    const everything = await alerts.list();
    assert.equal(all.items.length, 2);
    assert.equal(all.total, everything.total);
    assert.deepEqual(all.items, everything.items.slice(0, 2));
    const resolved = await alerts.list({ state: 'resolved' });
    assert.ok(resolved.items.every((a) => a.state === 'resolved'));
    const lastAts = everything.items.map((a) => a.lastAt);
    assert.deepEqual(
      lastAts,
      [...lastAts].sort((x, y) => y - x),
    );
  });
});

describeEachDialect('alert channel failures', (ctx) => {
  const clock = new FakeClock();
  before(async () => {
    await migrateToLatest(ctx.database, [alertsMigrations]);
  });

  test('a failing channel is logged, never thrown, and the alert is stored; other channels still send', async () => {
    const smtp = await startSmtpSink();
    const { logger, lines } = capturingLogger();
    const broken: AlertChannel = {
      name: 'broken',
      send: () => Promise.reject(new Error('channel exploded')),
    };
    const unreachable = createEmailChannel({
      url: 'smtp://127.0.0.1:1',
      from: 'a@example.org',
      to: ['b@example.org'],
      timeoutMs: 2000,
    });
    const working = createEmailChannel({ url: smtp.url, from: 'a@example.org', to: ['b@example.org'] });
    const alerts = new AlertsService({
      repository: new AlertsRepository(ctx.database),
      channels: [broken, unreachable, working, createLogChannel(logger)],
      logger,
      now: clock.now,
    });
    try {
      const alert = await alerts.raise({
        code: 'TEST_FAILING_CHANNELS',
        severity: 'critical',
        message: 'boom',
      });
      assert.equal((await alerts.getAlert(alert.id)).code, 'TEST_FAILING_CHANNELS');
      assert.equal(smtp.mails.length, 1);
      const failures = lines().filter((l) => typeof l.msg === 'string' && l.msg.startsWith('alert channel'));
      assert.deepEqual(failures.map((l) => l.channel).sort(), ['broken', 'email']);
      const logged = lines().find((l) => l.msg === '[custodian] ALERT critical TEST_FAILING_CHANNELS: boom');
      assert.equal(logged?.level, 50);
    } finally {
      await alerts.close();
      await smtp.close();
    }
  });
});

describeEachDialect('alerts by webhook (real HTTP)', (ctx) => {
  const clock = new FakeClock();
  before(async () => {
    await migrateToLatest(ctx.database, [alertsMigrations]);
  });

  test('each notification is POSTed as JSON', async () => {
    const sink = await startWebhookSink();
    const alerts = new AlertsService({
      repository: new AlertsRepository(ctx.database),
      channels: [createWebhookChannel({ url: sink.url })],
      logger: silentLogger(),
      reminderMinutes: 5,
      now: clock.now,
    });
    try {
      await alerts.raise({
        code: 'TEST_HOOK',
        severity: 'warning',
        message: 'late files',
        details: { night: '20240115' },
      });
      clock.advance(6 * MINUTE);
      await alerts.raise({ code: 'TEST_HOOK', severity: 'warning', message: 'late files' });
      await alerts.resolve('TEST_HOOK');
      assert.deepEqual(
        sink.hooks.map((h) => (h.body as { kind: string }).kind),
        ['raised', 'reminder', 'resolved'],
      );
      const first = sink.hooks[0];
      assert.equal(first?.contentType, 'application/json');
      const body = first?.body as { alert: Record<string, unknown> };
      assert.equal(body.alert.code, 'TEST_HOOK');
      assert.deepEqual(body.alert.details, { night: '20240115' });
      assert.equal(body.alert.firstAt, new Date(clock.ms - 6 * MINUTE).toISOString());
    } finally {
      await sink.close();
    }
  });

  test('an error status or a hanging webhook is logged without the URL secret, never thrown', async () => {
    let status = 500;
    const sink = await startWebhookSink(() => status);
    const { logger, lines } = capturingLogger();
    const alerts = new AlertsService({
      repository: new AlertsRepository(ctx.database),
      channels: [createWebhookChannel({ url: sink.url, timeoutMs: 300 })],
      logger,
      now: clock.now,
    });
    try {
      const stored = await alerts.raise({ code: 'TEST_HOOK_DOWN', severity: 'critical', message: 'x' });
      assert.equal((await alerts.getAlert(stored.id)).state, 'active');
      status = 0;
      await alerts.resolve('TEST_HOOK_DOWN');
      const failures = lines().filter((l) => l.channel === 'webhook');
      assert.equal(failures.length, 2);
      assert.match(String(failures[0]?.msg), /answered 500/);
      assert.ok(!JSON.stringify(lines()).includes('secret-token'));
      assert.equal(sink.hooks.length, 2);
    } finally {
      await sink.close();
    }
  });
});
