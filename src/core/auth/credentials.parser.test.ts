import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeSession, parseAuthorizationHeader, parseSession } from './credentials.parser.js';

test('Authorization header: bearer tokens, malformed bearer, other schemes, nothing', () => {
  assert.deepEqual(parseAuthorizationHeader('Bearer cst_abc-_1'), { kind: 'bearer', token: 'cst_abc-_1' });
  assert.deepEqual(parseAuthorizationHeader('bearer   tok=='), { kind: 'bearer', token: 'tok==' });
  assert.deepEqual(parseAuthorizationHeader('Bearer'), { kind: 'malformed-bearer' });
  assert.deepEqual(parseAuthorizationHeader('Bearer a b'), { kind: 'malformed-bearer' });
  assert.deepEqual(parseAuthorizationHeader('Bearer ä'), { kind: 'malformed-bearer' });
  assert.deepEqual(parseAuthorizationHeader('Basic dXNlcjpwdw=='), { kind: 'other' });
  assert.deepEqual(parseAuthorizationHeader('Bearertoken'), { kind: 'other' });
  assert.deepEqual(parseAuthorizationHeader(undefined), { kind: 'none' });
  assert.deepEqual(parseAuthorizationHeader('  '), { kind: 'none' });
});

test('Authorization header parsing never throws and a bearer token is always token68', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (value) => {
      const parsed = parseAuthorizationHeader(value);
      if (parsed.kind === 'bearer') assert.match(parsed.token, /^[A-Za-z0-9\-._~+/]+=*$/);
    }),
  );
  fc.assert(
    fc.property(fc.stringMatching(/^[A-Za-z0-9\-._~+/]+=*$/), (token) => {
      assert.deepEqual(parseAuthorizationHeader(`Bearer ${token}`), { kind: 'bearer', token });
    }),
  );
});

test('sessions round-trip; anything else parses to undefined without throwing', () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[a-z][a-z0-9_.-]{0,63}$/), fc.nat(), (name, issuedAt) => {
      assert.deepEqual(parseSession(encodeSession({ name, issuedAt })), { name, issuedAt });
    }),
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.json().map((j) => Buffer.from(j).toString('base64url')),
      ),
      (value) => {
        const parsed = parseSession(value);
        if (parsed) assert.equal(typeof parsed.name, 'string');
      },
    ),
  );
  assert.equal(parseSession(Buffer.from('{"v":1,"n":"x","iat":-5}').toString('base64url')), undefined);
  assert.equal(parseSession(Buffer.from('{"v":2,"n":"x","iat":5}').toString('base64url')), undefined);
  assert.equal(parseSession('a'.repeat(5000)), undefined);
});
