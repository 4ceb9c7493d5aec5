import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describeEachDialect } from '../helpers/database.js';
import { ARTIFACTS, dumpSchema, generateOpenApi } from '../../scripts/artifacts.js';

// Committed artifacts must match the code: run `npm run artifacts` after changing routes or migrations.
test('docs/openapi.json matches the routes', async () => {
  assert.equal(await generateOpenApi(), fs.readFileSync(ARTIFACTS.openapi, 'utf8'), 'run npm run artifacts');
});

describeEachDialect('committed schema dump', (ctx) => {
  test('matches the migrations', async () => {
    const file = ctx.dialect === 'sqlite' ? ARTIFACTS.sqlite : ARTIFACTS.postgres;
    assert.equal(await dumpSchema(ctx.database), fs.readFileSync(file, 'utf8'), 'run npm run artifacts');
  });
});
