import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runCli, startCli, tempDir, writeConfig, freePort } from '../../helpers/cli.js';
import { createTestDatabase, dialectsUnderTest, isPostgresReachable } from '../../helpers/database.js';
import { requirement } from '../../helpers/environment.js';

describe('custodian init / config', () => {
  const dir = tempDir();
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('init prints a config that config check accepts', async () => {
    const init = await runCli(['init']);
    assert.equal(init.code, 0);
    assert.match(init.stdout, /ingest:/);
    writeConfig(dir, init.stdout);
    const check = await runCli(['config', 'check', '--json'], { cwd: dir });
    assert.equal(check.code, 0, check.stderr);
    const report = JSON.parse(check.stdout) as { ok: boolean; modules: string[] };
    assert.equal(report.ok, true);
    assert.deepEqual(report.modules, ['ingest']);
  });

  test('config check reports every invalid key with its path, exit 2', async () => {
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(
      file,
      'database: mysql://x\nserver: { port: "http", extra: 1 }\ningest: { dropDir: ./in, subsystems: [], settleSeconds: soon }\n',
    );
    const check = await runCli(['--config', file, 'config', 'check']);
    assert.equal(check.code, 2);
    for (const key of [
      'database',
      'server.port',
      'server',
      'ingest.dataDir',
      'ingest.subsystems',
      'ingest.settleSeconds',
    ]) {
      assert.ok(check.stderr.includes(`${key}:`), `${key} not reported in:\n${check.stderr}`);
    }
    assert.equal(check.stdout, '');
  });

  test('--json on an error prints exactly one JSON document', async () => {
    const result = await runCli(['--config', path.join(dir, 'nope.yaml'), 'config', 'check', '--json']);
    assert.equal(result.code, 3);
    const doc = JSON.parse(result.stdout) as { error: { code: string } };
    assert.equal(doc.error.code, 'CONFIG_NOT_FOUND');
  });

  test('config show masks secrets and resolves relative paths; CUSTODIAN_CONFIG is honoured', async () => {
    const sub = path.join(dir, 'conf');
    fs.mkdirSync(sub, { recursive: true });
    writeConfig(
      sub,
      'database: postgres://custodian:${DB_PASSWORD}@db.example.org:5432/c\ningest: { dropDir: ./in, dataDir: data, subsystems: [EMC] }\n',
    );
    const show = await runCli(['config', 'show', '--json'], {
      env: { CUSTODIAN_CONFIG: path.join(sub, 'custodian.yaml'), DB_PASSWORD: 'hunter2hunter2' },
    });
    assert.equal(show.code, 0, show.stderr);
    assert.ok(!show.stdout.includes('hunter2'));
    const shown = JSON.parse(show.stdout) as {
      database: string;
      ingest: { dropDir: string; dataDir: string };
    };
    assert.equal(shown.database, 'postgres://custodian:***@db.example.org:5432/c');
    assert.equal(shown.ingest.dropDir, path.join(sub, 'in'));
    assert.equal(shown.ingest.dataDir, path.join(sub, 'data'));
  });

  test('unknown command is a usage error (exit 2)', async () => {
    const result = await runCli(['frobnicate']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown command/);
  });
});

for (const dialect of dialectsUnderTest()) {
  describe(`custodian users, tokens and serve [${dialect}]`, async () => {
    if (dialect === 'postgres' && requirement(await isPostgresReachable(), 'PostgreSQL on 127.0.0.1:5432'))
      return;
    const dir = tempDir();
    const db = await createTestDatabase(dialect);
    writeConfig(dir, `database: ${db.url}\nlogging: { level: warn }\n`);
    after(async () => {
      fs.rmSync(dir, { recursive: true, force: true });
      await db.drop();
    });

    test('db migrate, users add/list/remove, tokens create/list/revoke', async () => {
      const migrate = await runCli(['db', 'migrate', '--json'], { cwd: dir });
      assert.equal(migrate.code, 0, migrate.stderr);
      assert.equal((JSON.parse(migrate.stdout) as { dialect: string }).dialect, dialect);

      const add = await runCli(['users', 'add', 'alice', '--role', 'admin', '--password-stdin'], {
        cwd: dir,
        input: 'correct horse battery\n',
      });
      assert.equal(add.code, 0, add.stderr);
      const dup = await runCli(['users', 'add', 'alice', '--role', 'admin', '--password-stdin'], {
        cwd: dir,
        input: 'another password\n',
      });
      assert.equal(dup.code, 2, 'adding an existing user is refused');
      const weak = await runCli(['users', 'add', 'bob', '--role', 'viewer', '--password-stdin'], {
        cwd: dir,
        input: 'short\n',
      });
      assert.equal(weak.code, 2);
      assert.match(weak.stderr, /password/i);

      const list = await runCli(['users', 'list', '--json'], { cwd: dir });
      assert.equal(list.code, 0, list.stderr);
      const users = JSON.parse(list.stdout) as
        { name: string; role: string }[] | { items: { name: string; role: string }[] };
      const items = Array.isArray(users) ? users : users.items;
      assert.deepEqual(
        items.map((u) => [u.name, u.role]),
        [['alice', 'admin']],
      );

      const token = await runCli(['tokens', 'create', '--user', 'alice', '--json'], { cwd: dir });
      assert.equal(token.code, 0, token.stderr);
      const { token: secret } = JSON.parse(token.stdout) as { token: string };
      assert.ok(secret.length >= 32);

      // The token works against a real server.
      const port = await freePort();
      const server = startCli(['serve', '--port', String(port), '--log-level', 'info'], {
        cwd: dir,
        readyWhen: /listening|dashboard and API/i,
      });
      try {
        await server.ready;
        const base = `http://127.0.0.1:${port}`;
        const anonymous = await fetch(`${base}/api/v1/tokens`);
        assert.equal(anonymous.status, 401);
        const authorized = await fetch(`${base}/api/v1/tokens`, {
          headers: { authorization: `Bearer ${secret}` },
        });
        assert.equal(authorized.status, 200);
        const health = await fetch(`${base}/healthz`);
        assert.equal(health.status, 200);
        const page = await fetch(`${base}/`);
        assert.equal(page.status, 200);
        assert.match(await page.text(), /<div id="root">/);
      } finally {
        server.child.kill('SIGTERM');
        const result = await server.exited;
        assert.equal(result.code, 0, `serve stops cleanly on SIGTERM:\n${result.stderr}`);
      }

      const tokens = await runCli(['tokens', 'list', '--json'], { cwd: dir });
      const tokenItems = JSON.parse(tokens.stdout) as
        { id: string | number }[] | { items: { id: string | number }[] };
      const first = (Array.isArray(tokenItems) ? tokenItems : tokenItems.items)[0];
      assert.ok(first);
      const revoke = await runCli(['tokens', 'revoke', String(first.id)], { cwd: dir });
      assert.equal(revoke.code, 0, revoke.stderr);

      const lastAdmin = await runCli(['users', 'remove', 'alice'], { cwd: dir });
      assert.notEqual(lastAdmin.code, 0, 'the last admin cannot be removed');
      assert.match(lastAdmin.stderr, /last admin/);
      const addOperator = await runCli(['users', 'add', 'olga', '--role', 'operator', '--password-stdin'], {
        cwd: dir,
        input: 'operator password\n',
      });
      assert.equal(addOperator.code, 0, addOperator.stderr);
      const remove = await runCli(['users', 'remove', 'olga'], { cwd: dir });
      assert.equal(remove.code, 0, remove.stderr);
      const missing = await runCli(['users', 'remove', 'olga'], { cwd: dir });
      assert.equal(missing.code, 3);
    });
  });
}
