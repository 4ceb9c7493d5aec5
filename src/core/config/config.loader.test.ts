import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { z } from 'zod';
import { loadConfig, maskSecrets, parseConfigText } from './config.loader.js';
import { InputError, NotFoundError } from '../errors.js';

const schema = z
  .object({
    database: z.string().default('sqlite:./x.db'),
    server: z
      .object({ port: z.number().int().default(8080), host: z.string().default('127.0.0.1') })
      .strict()
      .prefault({}),
    section: z
      .object({ dir: z.string(), list: z.array(z.object({ path: z.string() })).default([]) })
      .strict()
      .optional(),
  })
  .strict();

const base = { schema, baseDir: '/etc/custodian', env: {} };

test('defaults apply and the result is frozen', () => {
  const config = parseConfigText('{}', base);
  assert.equal(config.server.port, 8080);
  assert.ok(Object.isFrozen(config.server));
  assert.throws(() => {
    (config.server as { port: number }).port = 1;
  }, TypeError);
});

test('every invalid key is reported at once with its path', () => {
  const text = 'server:\n  port: "eighty"\n  hots: x\nsection:\n  list: [{ path: 3 }]\nunknown: 1\n';
  const error = (() => {
    try {
      parseConfigText(text, base);
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(error instanceof InputError);
  assert.equal(error.code, 'CONFIG_INVALID');
  for (const where of ['server.port', 'server', 'section.dir', 'section.list.0.path', '(top level)']) {
    assert.match(
      error.message,
      new RegExp(`${where.replace(/[.()]/g, '\\$&')}:`),
      `missing ${where} in ${error.message}`,
    );
  }
  assert.ok((error.details as { problems: string[] }).problems.length >= 5);
});

test('YAML syntax errors name the line', () => {
  assert.throws(
    () => parseConfigText('server:\n  port: [1,\n', base),
    (e: unknown) => {
      return e instanceof InputError && /line \d+/.test(e.message);
    },
  );
});

test('${ENV}, ${ENV:-default} and ${file:…} are substituted; a missing variable is an error naming it', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
  fs.writeFileSync(path.join(dir, 'secret.txt'), 's3cret\n');
  const config = parseConfigText('database: postgres://u:${file:secret.txt}@${HOST}:${PORT:-5432}/db\n', {
    ...base,
    baseDir: dir,
    env: { HOST: 'db.example.org' },
  });
  assert.equal(config.database, 'postgres://u:s3cret@db.example.org:5432/db');
  assert.throws(
    () => parseConfigText('database: ${NOPE}\n', base),
    (e: unknown) => e instanceof InputError && /NOPE is not set/.test(e.message),
  );
  fs.rmSync(dir, { recursive: true });
});

test('relative paths resolve against the config folder, including inside arrays', () => {
  const config = parseConfigText('section:\n  dir: ./data\n  list: [{ path: a }, { path: /abs }]\n', {
    ...base,
    pathKeys: ['section.dir', 'section.list.*.path'],
  });
  assert.equal(config.section?.dir, '/etc/custodian/data');
  assert.deepEqual(
    config.section?.list.map((l) => l.path),
    ['/etc/custodian/a', '/abs'],
  );
});

test('a missing file is NotFound and says how to create one', () => {
  assert.throws(
    () => loadConfig({ schema, file: '/nonexistent/custodian.yaml' }),
    (e: unknown) => e instanceof NotFoundError && /custodian init/.test(e.message),
  );
});

test('secrets are masked', () => {
  const masked = maskSecrets({
    database: 'postgres://u:pw@h/db',
    alerts: { password: 'x', url: 'smtp://a:b@c' },
  });
  assert.deepEqual(masked, {
    database: 'postgres://u:***@h/db',
    alerts: { password: '***', url: 'smtp://a:***@c' },
  });
});

test('property: any text gives a config or an InputError, never a crash', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), yamlish()), (text) => {
      try {
        parseConfigText(text, base);
      } catch (error) {
        assert.ok(error instanceof InputError, `unexpected ${String(error)}`);
      }
    }),
    { numRuns: 500 },
  );
});

test('property: any JSON value as the document gives a config or an InputError', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      try {
        parseConfigText(JSON.stringify(value), base);
      } catch (error) {
        assert.ok(error instanceof InputError, `unexpected ${String(error)}`);
      }
    }),
    { numRuns: 500 },
  );
});

function yamlish() {
  const key = fc.constantFrom(
    'database',
    'server',
    'port',
    'host',
    'section',
    'dir',
    'list',
    '${X}',
    '- ',
    ':',
    '&a',
    '*a',
    '!!int',
  );
  return fc
    .array(fc.tuple(fc.nat(4), key, fc.oneof(key, fc.integer().map(String), fc.string())), { maxLength: 8 })
    .map((lines) => lines.map(([indent, k, v]) => `${' '.repeat(indent)}${k}: ${v}`).join('\n'));
}
