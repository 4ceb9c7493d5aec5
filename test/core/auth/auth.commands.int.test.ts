import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { Command } from 'commander';
import { describeEachDialect } from '../../helpers/database.js';
import { migrateToLatest } from '../../../src/core/db/migrations.js';
import { authMigrations } from '../../../src/core/auth/auth.migrations.js';
import { AuthRepository } from '../../../src/core/auth/auth.repository.js';
import { AuthService } from '../../../src/core/auth/auth.service.js';
import { registerAuthCommands } from '../../../src/core/auth/auth.commands.js';
import { createOutput } from '../../../src/core/cli/output.js';
import { InputError, NotFoundError } from '../../../src/core/errors.js';

describeEachDialect('auth commands', (ctx) => {
  let auth: AuthService;

  before(async () => {
    await migrateToLatest(ctx.database, [authMigrations]);
    auth = new AuthService({ repository: new AuthRepository(ctx.database) });
  });

  /** Runs `custodian <args>` and returns what it printed on stdout. */
  async function run(args: string[], stdin = ''): Promise<string> {
    const stdout = new PassThrough();
    let printed = '';
    stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    const program = new Command('custodian').exitOverride();
    registerAuthCommands(program, {
      auth: () => Promise.resolve(auth),
      output: (options) => createOutput(options, stdout),
      stdin: Readable.from([Buffer.from(stdin)]),
    });
    await program.parseAsync(args, { from: 'user' });
    return printed;
  }

  test('users add reads the password from stdin; users list shows it', async () => {
    const added = JSON.parse(
      await run(
        ['users', 'add', 'ops', '--role', 'operator', '--password-stdin', '--json'],
        'a long password\n',
      ),
    ) as {
      name: string;
      role: string;
    };
    assert.deepEqual({ name: added.name, role: added.role }, { name: 'ops', role: 'operator' });
    assert.deepEqual(await auth.verifyLogin('ops', 'a long password'), { name: 'ops', role: 'operator' });
    assert.match(
      await run(['users', 'add', 'boss', '--role', 'admin', '--password-stdin'], 'boss-password'),
      /added user boss \(admin\)/,
    );
    const human = await run(['users', 'list']);
    assert.match(human, /^NAME\s+ROLE\s+CREATED/);
    assert.match(human, /ops\s+operator/);
    const json = JSON.parse(await run(['users', 'list', '--json'])) as { items: { name: string }[] };
    assert.deepEqual(
      json.items.map((u) => u.name),
      ['boss', 'ops'],
    );
  });

  test('users add without --password-stdin or with bad input fails with InputError', async () => {
    await assert.rejects(
      run(['users', 'add', 'x', '--role', 'viewer']),
      (e) => e instanceof InputError && e.code === 'AUTH_PASSWORD_REQUIRED',
    );
    await assert.rejects(
      run(['users', 'add', 'x', '--role', 'viewer', '--password-stdin'], 'short'),
      InputError,
    );
  });

  test('tokens create prints the token once; list shows no token; revoke removes it', async () => {
    const created = JSON.parse(
      await run(['tokens', 'create', '--user', 'ops', '--label', 'cron', '--json']),
    ) as { id: number; token: string };
    assert.match(created.token, /^cst_/);
    assert.deepEqual(await auth.authenticateToken(created.token), {
      name: 'ops',
      role: 'operator',
      via: 'token',
    });
    const human = await run(['tokens', 'create', '--user', 'ops']);
    assert.match(human.trim(), /^cst_[A-Za-z0-9_-]+$/);
    const list = await run(['tokens', 'list', '--json']);
    assert.ok(!list.includes(created.token));
    const items = (JSON.parse(list) as { items: { id: number; user: string; label: string }[] }).items;
    assert.deepEqual(
      items.find((t) => t.id === created.id),
      { ...items.find((t) => t.id === created.id), user: 'ops', label: 'cron' },
    );
    assert.match(await run(['tokens', 'list']), /ID\s+USER\s+LABEL/);
    assert.match(
      await run(['tokens', 'revoke', String(created.id)]),
      new RegExp(`revoked token ${created.id}`),
    );
    assert.equal(await auth.authenticateToken(created.token), undefined);
    await assert.rejects(run(['tokens', 'revoke', String(created.id)]), NotFoundError);
    await assert.rejects(run(['tokens', 'revoke', 'abc']), InputError);
  });

  test('users remove', async () => {
    assert.deepEqual(JSON.parse(await run(['users', 'remove', 'ops', '--json'])), { removed: 'ops' });
    await assert.rejects(run(['users', 'remove', 'ops']), NotFoundError);
  });
});
