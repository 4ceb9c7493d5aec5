import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashPassword, verifyPassword } from './password.js';

test('a hash verifies its password only, and salts differ', async () => {
  const hash = await hashPassword('correct horse battery');
  assert.match(hash, /^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
  assert.ok(!hash.includes('correct horse'));
  assert.equal(await verifyPassword('correct horse battery', hash), true);
  assert.equal(await verifyPassword('correct horse batterY', hash), false);
  assert.equal(await verifyPassword('', hash), false);
  assert.notEqual(await hashPassword('correct horse battery'), hash);
});

test('unreadable or hostile encodings never verify and never throw', async () => {
  const hash = await hashPassword('pw-12345');
  const [, , , , salt, key] = hash.split('$');
  for (const bad of [
    '',
    'plain-text-password',
    'scrypt$16384$8$1$$',
    `bcrypt$16384$8$1$${salt}$${key}`,
    `scrypt$1000$8$1$${salt}$${key}`, // N not a power of two
    `scrypt$1073741824$8$1$${salt}$${key}`, // N far too large
    `scrypt$16384$8$1$${salt}$AAAA`, // key too short
    `scrypt$16384$8$1$${salt}`,
  ]) {
    assert.equal(await verifyPassword('pw-12345', bad), false, bad);
  }
});
