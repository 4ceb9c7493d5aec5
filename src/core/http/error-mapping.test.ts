import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AuthError,
  ConflictError,
  ForbiddenError,
  InputError,
  IntegrityError,
  InternalError,
  NotFoundError,
  UnavailableError,
} from '../errors.js';
import { mapError } from './error-mapping.js';

test('each error kind has its status; the code and message pass through', () => {
  const cases = [
    [new InputError('X_BAD', 'bad'), 400],
    [new AuthError('X_AUTH', 'who'), 401],
    [new ForbiddenError('X_FORBIDDEN', 'no'), 403],
    [new NotFoundError('X_MISSING', 'gone'), 404],
    [new ConflictError('X_CONFLICT', 'twice'), 409],
    [new IntegrityError('X_INTEGRITY', 'differs'), 422],
    [new UnavailableError('X_DOWN', 'down'), 503],
  ] as const;
  for (const [error, status] of cases) {
    const mapped = mapError(error);
    assert.equal(mapped.status, status);
    assert.deepEqual(mapped.body, { error: { code: error.code, message: error.message } });
  }
  assert.deepEqual(mapError(new InputError('X', 'm', { details: { line: 3 } })).body.error.details, {
    line: 3,
  });
});

test('faults are 500 with a generic message and are logged', () => {
  for (const fault of [
    new Error('db password is hunter2'),
    new InternalError('X_INTERNAL', 'inner detail'),
    'a string',
    null,
    42,
  ]) {
    const mapped = mapError(fault);
    assert.equal(mapped.status, 500);
    assert.equal(mapped.body.error.code, 'INTERNAL_ERROR');
    assert.ok(!JSON.stringify(mapped.body).includes('hunter2'));
    assert.equal(mapped.log, 'error');
  }
});

test('framework errors keep their 4xx status with stable codes', () => {
  assert.deepEqual(
    mapError({ statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE', message: 'Request body is too large' })
      .body.error.code,
    'BODY_TOO_LARGE',
  );
  assert.equal(
    mapError({ statusCode: 413, code: 'FST_REQ_FILE_TOO_LARGE', message: 'x' }).body.error.code,
    'UPLOAD_TOO_LARGE',
  );
  assert.equal(
    mapError({ statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', message: 'x' }).body.error.code,
    'UNSUPPORTED_MEDIA_TYPE',
  );
  assert.deepEqual(mapError({ statusCode: 429, code: 'AUTH_RATE_LIMITED', message: 'slow down' }), {
    status: 429,
    body: { error: { code: 'AUTH_RATE_LIMITED', message: 'slow down' } },
    log: false,
  });
  assert.equal(
    mapError({ statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY', message: 'bad json' }).body.error.code,
    'INPUT_INVALID',
  );
  assert.equal(mapError({ statusCode: 502, message: 'upstream' }).status, 500);
});

test('validation errors name the fields', () => {
  const mapped = mapError({
    validation: [
      { instancePath: '/user/name', message: 'Too short' },
      { instancePath: '', message: 'Expected object' },
    ],
    validationContext: 'body',
  });
  assert.equal(mapped.status, 400);
  assert.equal(mapped.body.error.code, 'INPUT_INVALID');
  assert.equal(mapped.body.error.message, 'invalid body: user.name: Too short; body: Expected object');
  assert.deepEqual(mapped.body.error.details, {
    location: 'body',
    issues: [
      { path: 'user.name', message: 'Too short' },
      { path: 'body', message: 'Expected object' },
    ],
  });
});
